import ArgumentParser
import Foundation
import InparsCore
import InparsRanker
import InparsTensor

/// `inpars rerank`: rescore the top of a TREC run with a monoT5 model.
struct RerankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank",
        abstract: "Rerank the top documents of a TREC run with a monoT5 model.",
        discussion: """
            Score = log P(true) of the model reading 'Query: {q} Document: {d} Relevant:' \
            (▁yes/▁no for FLAN-T5 folders). Documents below --depth keep their first-stage \
            order beneath the reranked ones; ties break by first-stage rank. Run entries whose \
            query or document is unknown are skipped and counted on stderr. --top-k is the \
            old spelling of --depth.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var inputs: RunInputOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Documents per query to rescore (the rest keep their first-stage order).")
    var depth = 1000

    /// The old spelling of `--depth` (`--top-k` means top-k sampling in `generate`).
    @Option(name: .customLong("top-k"), help: .hidden)
    var topK: Int?

    @OptionGroup var batch: BatchSizeOptions
    @OptionGroup var threads: ThreadOptions

    @Option(help: "The run tag (last column).")
    var tag = "monoT5"

    /// `--depth`, or `--top-k` when given.
    var rerankDepth: Int { topK ?? depth }

    func validate() throws {
        guard rerankDepth >= 1 else { throw ValidationError("--depth must be at least 1") }
        guard !tag.isEmpty, !tag.contains(where: \.isWhitespace) else {
            throw ValidationError("--tag must be one word")
        }
    }

    func run() throws {
        BLAS.threads = threads.count
        let reranker = try MonoT5Reranker.load(
            directory: URL(fileURLWithPath: model.model),
            options: model.scoring.rerankerOptions(batchSize: batch.batchSize))
        let firstStage = try Run.read(URL(fileURLWithPath: inputs.runFile))
        let queryList = try QueryReader.read(URL(fileURLWithPath: inputs.queries.queries)).queries
        let queriesByID = Dictionary(queryList.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // Stream the corpus, keeping only the documents the run mentions.
        var wanted = Set<String>()
        for queryId in firstStage.queryIds {
            for entry in firstStage.entries[queryId]! { wanted.insert(entry.docId) }
        }
        var corpusByID: [String: Document] = [:]
        let reader = try CorpusReader(url: URL(fileURLWithPath: inputs.corpus.corpus))
        while let document = try reader.next() {
            if wanted.contains(document.id) { corpusByID[document.id] = document }
        }

        let reranking = RunReranker(topK: rerankDepth)
        let total = reranking.pairCount(
            run: firstStage, documents: corpusByID, queries: queriesByID)
        let progress = ProgressReporter(label: "pairs scored", total: total)
        let result = reranking.rerank(run: firstStage, documents: corpusByID, queries: queriesByID)
        {
            query, texts in
            reranker.score(
                inputs: texts.map { reranker.inputIDs(query: query, document: $0) },
                progress: { progress.advance(by: $0) })
        }
        progress.finish()
        try result.run.write(to: URL(fileURLWithPath: output.output), tag: tag, decimals: nil)
        let s = result.summary
        var summary =
            "reranked \(s.queries) queries (\(s.pairsScored) pairs, \(s.entriesKeptBelowTopK) entries kept below top-\(rerankDepth)) with \(reranker.labels.rawValue) labels → \(output.output)"
        if s.unknownQueries > 0 {
            summary +=
                "; skipped \(s.unknownQueries) unknown queries (\(s.entriesOfUnknownQueries) entries)"
        }
        if s.unknownDocuments > 0 {
            summary += "; skipped \(s.unknownDocuments) entries with unknown documents"
        }
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }
}

extension MonoT5Reranker.Labels: ExpressibleByArgument {}
