import Foundation
import InparsCore

/// Counts reported after reranking a run (kept in the output's manifest across restarts and
/// added up over shards).
public struct RerankSummary: Sendable, Equatable, StageSummary {
    /// Queries in the input run.
    public var runQueries = 0
    /// Queries in the output run.
    public var queries = 0
    /// (query, document) pairs scored by the model.
    public var pairsScored = 0
    /// Entries kept below the top-k with their first-stage order.
    public var entriesKeptBelowTopK = 0
    /// Queries of the run absent from the query file (all their entries skipped).
    public var unknownQueries = 0
    /// Entries skipped because their query was unknown.
    public var entriesOfUnknownQueries = 0
    /// Entries skipped because their document is absent from the corpus.
    public var unknownDocuments = 0
    /// Scored documents that lost tokens to fit the scorer's maximum length.
    public var truncatedDocuments = 0
    /// Queries whose (at least two distinct) candidates all got the same score
    /// (``PairScores/allAlike(for:)``).
    public var queriesWithIdenticalScores = 0

    public init() {}

    /// Warnings for people (stderr), empty when all is well.
    public var warnings: [String] {
        guard queriesWithIdenticalScores > 0 else { return [] }
        return [
            "warning: the model gave all candidates the same score for \(queriesWithIdenticalScores)"
                + " of \(queries) queries, so they keep their first-stage order (a model that"
                + " ignores its input, as in pygaggle #325); check --labels and the checkpoint"
        ]
    }

    /// Throws when the reranking produced nothing, or skipped most of the run: most of its
    /// queries missing from the query file, or most of its entries' documents from the corpus
    /// (the wrong file given, usually).
    ///
    /// - Throws: ``RankerError/nothingReranked(reason:)`` naming the file at fault.
    public func check(queriesPath: String, corpusPath: String) throws {
        if runQueries == 0 { throw RankerError.nothingReranked(reason: "the run is empty") }
        if unknownQueries * 2 > runQueries {
            throw RankerError.nothingReranked(
                reason: "\(unknownQueries) of the run's \(runQueries) queries are missing from"
                    + " '\(queriesPath)'")
        }
        let knownEntries = pairsScored + entriesKeptBelowTopK + unknownDocuments
        if unknownDocuments * 2 > knownEntries {
            throw RankerError.nothingReranked(
                reason: "\(unknownDocuments) of the run's \(knownEntries) documents are missing"
                    + " from '\(corpusPath)'")
        }
        if queries == 0 {
            throw RankerError.nothingReranked(reason: "no query of the run has a document to rerank")
        }
    }

    public mutating func add(_ other: RerankSummary) {
        runQueries += other.runQueries
        queriesWithIdenticalScores += other.queriesWithIdenticalScores
        queries += other.queries
        pairsScored += other.pairsScored
        entriesKeptBelowTopK += other.entriesKeptBelowTopK
        unknownQueries += other.unknownQueries
        entriesOfUnknownQueries += other.entriesOfUnknownQueries
        unknownDocuments += other.unknownDocuments
        truncatedDocuments += other.truncatedDocuments
    }
}

/// Reranks the top-k of every query of a TREC run with a ``RelevanceScorer`` (or any function
/// that scores one query's documents).
///
/// Per query, the first-stage list is ordered by its rank column (file order among equal
/// ranks); the first `topK` entries with a known document are rescored and sorted by the new
/// score, ties broken by first-stage position, so the output is deterministic. Entries below
/// the top-k follow in their first-stage order, with scores below every reranked score
/// (`lowest − 1, lowest − 2, …`) so that score-sorting tools (trec_eval) see the same order.
/// Ranks are rewritten 1…n.
public struct RunReranker {
    public var topK: Int

    /// - Throws: ``RankerError/invalidOption(name:value:reason:)`` when `topK` is below 1.
    public init(topK: Int = 1000) throws(RankerError) {
        guard topK >= 1 else {
            throw .invalidOption(name: "--depth", value: String(topK), reason: "must be at least 1")
        }
        self.topK = topK
    }

    /// The number of pairs ``rerank(run:documents:queries:progress:score:)`` will score.
    public func pairCount(run: Run, documents: [String: Document], queries: [String: Query]) -> Int
    {
        run.queryIds.reduce(0) { total, queryId in
            guard queries[queryId] != nil else { return total }
            let known = run.entries[queryId]!.lazy.filter { documents[$0.docId] != nil }.count
            return total + min(known, topK)
        }
    }

    /// Reranks `run` with `scorer`, one query's candidates per ``RelevanceScorer/score(_:progress:)``
    /// call, and counts the truncated documents.
    ///
    /// - Parameter progress: called with the number of pairs scored as scoring proceeds.
    public func rerank(
        run: Run, documents: [String: Document], queries: [String: Query],
        scorer: some RelevanceScorer, progress: ((Int) -> Void)? = nil
    ) throws -> (run: Run, summary: RerankSummary) {
        var truncated = 0
        var result = try rerank(run: run, documents: documents, queries: queries) {
            query, texts in
            let scored = try scorer.score(
                texts.map { ScoringPair(query: query, document: $0) }, progress: progress)
            truncated += scored.truncatedDocuments
            return scored.scores
        }
        result.summary.truncatedDocuments = truncated
        return result
    }

    /// Reranks `run`.
    ///
    /// - Parameters:
    ///   - documents: the corpus by id; the model reads ``Document/rerankText``.
    ///   - queries: the queries by id.
    ///   - score: scores one query's candidate documents (texts), returning one score each.
    /// - Returns: the reranked run and the counts.
    public func rerank(
        run: Run, documents: [String: Document], queries: [String: Query],
        score: (_ query: String, _ documents: [String]) throws -> [Float]
    ) throws -> (run: Run, summary: RerankSummary) {
        var output = Run()
        var summary = RerankSummary()
        for queryId in run.queryIds {
            let (list, counts) = try rerank(
                queryId: queryId, entries: run.entries[queryId]!, query: queries[queryId],
                documents: documents, score: score)
            if !list.isEmpty { output.set(queryId: queryId, list) }
            summary.add(counts)
        }
        return (output, summary)
    }

    /// Reranks one query's first-stage entries (`query` is `nil` when the query file lacks
    /// it: the entries are then skipped and counted).
    ///
    /// - Returns: the new list (ranks 1…n; empty when nothing is left) and its counts.
    public func rerank(
        queryId: String, entries: [RunEntry], query: Query?, documents: [String: Document],
        score: (_ query: String, _ documents: [String]) throws -> [Float]
    ) throws -> (list: [RunEntry], summary: RerankSummary) {
        var summary = RerankSummary()
        summary.runQueries = 1
        guard let query else {
            summary.unknownQueries = 1
            summary.entriesOfUnknownQueries = entries.count
            return ([], summary)
        }
        // First-stage order: rank column, then file order.
        let firstStage = entries.enumerated().sorted {
            ($0.element.rank, $0.offset) < ($1.element.rank, $1.offset)
        }.map(\.element)
        var candidates: [RunEntry] = []
        var rest: [RunEntry] = []
        for entry in firstStage {
            guard documents[entry.docId] != nil else {
                summary.unknownDocuments += 1
                continue
            }
            if candidates.count < topK { candidates.append(entry) } else { rest.append(entry) }
        }
        let texts = candidates.map { documents[$0.docId]!.rerankText }
        let scores = try score(query.text, texts)
        guard scores.count == candidates.count else {
            throw RankerError.scoreCountMismatch(
                query: queryId, expected: candidates.count, found: scores.count)
        }
        if PairScores(scores: scores).allAlike(
            for: texts.map { ScoringPair(query: query.text, document: $0) })
        {
            summary.queriesWithIdenticalScores = 1
        }
        let reranked = candidates.indices.sorted {
            (-scores[$0], $0) < (-scores[$1], $1)
        }
        var list: [RunEntry] = []
        list.reserveCapacity(candidates.count + rest.count)
        for (position, index) in reranked.enumerated() {
            var entry = candidates[index]
            entry.rank = position + 1
            entry.score = Double(scores[index])
            list.append(entry)
        }
        let floor = scores.min().map(Double.init) ?? 0
        for (offset, var entry) in rest.enumerated() {
            entry.rank = list.count + 1
            entry.score = floor - Double(offset + 1)
            list.append(entry)
        }
        summary.pairsScored = candidates.count
        summary.entriesKeptBelowTopK = rest.count
        if !list.isEmpty { summary.queries = 1 }
        return (list, summary)
    }
}
