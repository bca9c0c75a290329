import Foundation

/// A first-stage run with the texts reranking it needs: its queries, and from the corpus only
/// the documents the run mentions.
///
/// The corpus is streamed, so a corpus far larger than memory costs only the run's documents.
/// Used by `inpars rerank` and by evaluation during `inpars train`.
public struct RerankingInput: Sendable {
    /// The first-stage run.
    public var run: Run
    /// Queries by id.
    public var queries: [String: Query]
    /// The documents the run names that the corpus holds, by id.
    public var documents: [String: Document]

    public init(run: Run, queries: [String: Query], documents: [String: Document]) {
        self.run = run
        self.queries = queries
        self.documents = documents
    }

    /// Reads the run and the queries, then streams the corpus keeping the run's documents.
    ///
    /// Ids the run names but the query file or the corpus lacks are not an error here: the
    /// reranker skips and counts them.
    ///
    /// - Parameters:
    ///   - shard: keep only this block of the run's queries (in first-seen order) and the
    ///     documents they name.
    ///   - progress: advanced once per corpus document read.
    /// - Throws: ``InparsCoreError`` naming the file and line of a malformed record.
    public static func read(
        run: URL, queries: URL, corpus: URL, shard: Shard = .whole,
        progress: ProgressReporter? = nil
    ) throws -> RerankingInput {
        var firstStage = try Run.read(run)
        if !shard.isWhole {
            firstStage = firstStage.restricted(
                to: firstStage.queryIds[shard.range(of: firstStage.queryIds.count)])
        }
        let queryList = try QueryReader.read(queries).queries
        let wanted = firstStage.documentIds
        var documents: [String: Document] = [:]
        let reader = try CorpusReader(url: corpus)
        while let document = try reader.next() {
            if wanted.contains(document.id) { documents[document.id] = document }
            progress?.advance()
        }
        progress?.finish()
        return RerankingInput(
            run: firstStage,
            queries: Dictionary(queryList.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }),
            documents: documents)
    }
}

extension Run {
    /// The run of `queryIds` only, in that order.
    public func restricted(to queryIds: some Sequence<String>) -> Run {
        var run = Run()
        for queryId in queryIds {
            if let list = entries[queryId] { run.set(queryId: queryId, list) }
        }
        return run
    }

    /// Every document id the run names, over all queries.
    public var documentIds: Set<String> {
        var ids = Set<String>()
        for list in entries.values {
            for entry in list { ids.insert(entry.docId) }
        }
        return ids
    }
}
