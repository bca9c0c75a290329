import ArgumentParser
import Foundation
import InparsCore
import InparsRanker
import InparsTensor

/// `inpars rerank`: rescore the top-k of a TREC run with a monoT5 model.
struct RerankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank",
        abstract: "Rerank the top-k documents of a TREC run with a monoT5 model.",
        discussion: """
            Score = log P(true) of the model reading 'Query: {q} Document: {d} Relevant:' \
            (▁yes/▁no for FLAN-T5 folders). Documents below --top-k keep their first-stage \
            order beneath the reranked ones; ties break by first-stage rank. Run entries whose \
            query or document is unknown are skipped and counted on stderr.
            """)

    @Option(
        help: "Hugging Face T5 model folder (config.json, weights, spiece.model or tokenizer.json)."
    )
    var model: String

    @Option(help: "Corpus: BEIR corpus.jsonl or id<TAB>text TSV, optionally .gz.")
    var corpus: String

    @Option(help: "Queries: BEIR queries.jsonl or id<TAB>text TSV, optionally .gz.")
    var queries: String

    @Option(name: .customLong("run"), help: "First-stage TREC run to rerank.")
    var runFile: String

    @Option(help: "Output TREC run (written atomically).")
    var output: String

    @Option(help: "Documents per query to rescore.")
    var topK = 1000

    @Option(help: "Pairs per forward pass.")
    var batchSize = 8

    @Option(help: "OpenBLAS threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Most input tokens per pair; the document is truncated, 'Relevant:' is kept.")
    var maxLength = 512

    @Option(
        help: "Label pieces: true-false (monoT5) or yes-no (FLAN-T5); default from the folder name."
    )
    var labels: MonoT5Reranker.Labels?

    @Option(help: "The run tag (last column).")
    var tag = "monoT5"

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        try requireFlag("--batch-size", batchSize, in: 1...Limits.batch)
        try requireThreads(threads)
        try requireFlag("--max-length", maxLength, in: Limits.minimumMonoT5Length...Limits.tokens)
        guard !tag.isEmpty, !tag.contains(where: \.isWhitespace) else {
            throw ValidationError("--tag must be one word")
        }
    }

    func run() throws {
        BLAS.threads = threads
        try OutputKind.trecRun.check(
            URL(fileURLWithPath: output),
            inputs: [corpus, queries, runFile].map(URL.init(fileURLWithPath:)))
        let reranker = try MonoT5Reranker.load(
            directory: URL(fileURLWithPath: model),
            options: .init(maxLength: maxLength, batchSize: batchSize, labels: labels))
        let firstStage = try Run.read(URL(fileURLWithPath: runFile))
        let queryList = try QueryReader.read(URL(fileURLWithPath: queries)).queries
        let queriesByID = Dictionary(queryList.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // Stream the corpus, keeping only the documents the run mentions.
        var wanted = Set<String>()
        for queryId in firstStage.queryIds {
            for entry in firstStage.entries[queryId]! { wanted.insert(entry.docId) }
        }
        var corpusByID: [String: Document] = [:]
        let reader = try CorpusReader(url: URL(fileURLWithPath: corpus))
        while let document = try reader.next() {
            if wanted.contains(document.id) { corpusByID[document.id] = document }
        }

        let reranking = try RunReranker(topK: topK)
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
        try result.summary.check(queriesPath: queries, corpusPath: corpus)
        try result.run.write(to: URL(fileURLWithPath: output), tag: tag, decimals: nil)
        let s = result.summary
        var summary =
            "reranked \(s.queries) queries (\(s.pairsScored) pairs, \(s.entriesKeptBelowTopK) entries kept below top-\(topK)) with \(reranker.labels.rawValue) labels → \(output)"
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
