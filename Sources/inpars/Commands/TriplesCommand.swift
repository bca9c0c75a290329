import ArgumentParser
import Foundation
import InparsBM25
import InparsCore
import InparsFilter

/// `inpars triples`: (query, positive, BM25 hard negative) training triples.
struct TriplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triples",
        abstract: "Build training triples with BM25 hard negatives.",
        discussion: """
            For each query, searches the BM25 index for the top --depth documents, drops the \
            query's source document and documents missing from --corpus, and draws --negatives \
            of the rest uniformly without replacement (in rank order). Output TSV: \
            query<TAB>positive text<TAB>negative text, texts as 'title text' (the title and a \
            space when the title is non-empty), tabs and newlines replaced by spaces. \
            --ids-output: query_id<TAB>positive_id<TAB>negative_id, query_id being the row's \
            query_id/qid field or its 0-based line number. Each query's random draw depends \
            only on --seed and the row, so --threads never changes the output. Stderr gets \
            BM25 MRR@10 and Recall@depth of the source documents and the skip counts.
            """)

    @Option(help: "(Filtered) synthetic queries, JSONL with doc_id and query (or question).")
    var input: String

    @Option(help: "BM25 index folder ('inpars index').")
    var index: String

    @Option(help: "Corpus the index was built from (BEIR corpus.jsonl or TSV, optionally .gz).")
    var corpus: String

    @Option(help: "Triples TSV (written atomically).")
    var output: String

    @Option(help: "Negatives (triples) per query.")
    var negatives = 1

    @Option(help: "BM25 hits per query to draw negatives from.")
    var depth = 1_000

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "Ids TSV: query_id, positive_id, negative_id.")
    var idsOutput: String?

    @Option(help: "Search threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(
        help: "Count and skip malformed lines and unknown source document ids instead of stopping.")
    var skipBadLines = false

    func validate() throws {
        guard negatives >= 1 else { throw ValidationError("--negatives must be at least 1") }
        guard depth >= 1 else { throw ValidationError("--depth must be at least 1") }
        try requireThreads(threads)
    }

    func run() throws {
        let inputURL = URL(fileURLWithPath: input)
        let outputs = [output, idsOutput].compactMap { $0.map(URL.init(fileURLWithPath:)) }
        for url in outputs {
            try TripleBuilder.outputKind.check(
                url, inputs: [inputURL, URL(fileURLWithPath: corpus)])
        }
        let (rows, statistics) = try SyntheticQueryReader.read(
            inputURL,
            options: .init(
                skipBadLines: skipBadLines, keepRawLine: false, keepDocumentText: false,
                skipFlag: "--skip-bad-lines"))
        let searcher = try BM25DocumentSearcher(directory: URL(fileURLWithPath: index))
        let corpusURL = URL(fileURLWithPath: corpus)
        let documents = try CorpusReader.read(
            corpusURL, options: ReadOptions(skipBadLines: skipBadLines, skipFlag: "--skip-bad-lines"),
            progress: ProgressReporter(label: "documents read")
        )
        .documents
        let position = Dictionary(
            documents.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })

        var configuration = TripleConfiguration()
        configuration.negatives = negatives
        configuration.depth = depth
        configuration.seed = seed
        configuration.threads = threads
        configuration.skipBadLines = skipBadLines
        let builder = TripleBuilder(
            configuration: configuration, searcher: searcher,
            inCorpus: { position[$0] != nil }, inputPath: inputURL.path,
            corpusPath: corpusURL.path, progressSink: StandardErrorProgressSink())
        let (triples, summary) = try builder.run(rows)

        var textCache: [Int: String] = [:]
        func text(_ id: String) -> String {
            let i = position[id]!
            if let cached = textCache[i] { return cached }
            let t = TripleBuilder.tsvField(documents[i].rerankText)
            textCache[i] = t
            return t
        }
        try AtomicFile.write(to: outputs[0], replacing: TripleBuilder.outputKind) { file in
            for t in triples {
                try file.write(
                    TripleBuilder.tsvField(t.query) + "\t" + text(t.positiveId) + "\t"
                        + text(t.negativeId) + "\n")
            }
        }
        if let idsOutput {
            try AtomicFile.write(to: outputs[1], replacing: TripleBuilder.outputKind) { file in
                for t in triples {
                    try file.write(
                        TripleBuilder.tsvField(t.queryId) + "\t" + t.positiveId + "\t"
                            + t.negativeId
                            + "\n")
                }
            }
        }
        var lines = summary.lines.map { "triples: \($0)" }
        if statistics.skippedBadLines > 0 {
            lines.insert("triples: malformed lines skipped: \(statistics.skippedBadLines)", at: 1)
        }
        lines.append("triples: wrote \(output)" + (idsOutput.map { " and \($0)" } ?? ""))
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
