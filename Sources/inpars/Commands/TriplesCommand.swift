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
            BM25 MRR@10 and Recall@depth of the source documents and the skip counts. \
            Resumable (rows are committed as they are done; rerunning the same command after a \
            kill continues) and shardable with --shard i/N (Docs/scaling.md).
            """)

    @Option(help: "(Filtered) synthetic queries, JSONL with doc_id and query (or question).")
    var input: String

    @Option(help: "BM25 index folder ('inpars index').")
    var index: String

    @OptionGroup var corpus: CorpusOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Negatives (triples) per query.")
    var negatives = 1

    @Option(help: "BM25 hits per query to draw negatives from.")
    var depth = 1_000

    @OptionGroup var seed: SeedOptions

    @Option(help: "Ids TSV: query_id, positive_id, negative_id.")
    var idsOutput: String?

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var badLines: BadLineOptions
    @OptionGroup var resume: ResumeOptions

    func validate() throws {
        guard negatives >= 1 else { throw ValidationError("--negatives must be at least 1") }
        guard depth >= 1 else { throw ValidationError("--depth must be at least 1") }
    }

    func run() throws {
        let inputURL = URL(fileURLWithPath: input)
        let corpusURL = try corpus.url
        var configuration = TripleConfiguration()
        configuration.negatives = negatives
        configuration.depth = depth
        configuration.seed = seed.seed
        configuration.threads = threads.count
        configuration.skipBadLines = badLines.skipBadLines
        var job = TriplesRun(
            configuration: configuration, input: inputURL, index: URL(fileURLWithPath: index),
            corpus: corpusURL, output: URL(fileURLWithPath: output.output),
            idsOutput: idsOutput.map(URL.init(fileURLWithPath:)))
        job.shard = resume.shard
        job.overwrite = resume.overwrite
        let stderr = StandardErrorProgressSink()
        let resumable = try job.open()
        if let note = resumable.startNote(label: "triples", unit: "rows") {
            stderr.emit(note, transient: false)
        }
        if resumable.isComplete { return }

        let (rows, statistics) = try SyntheticQueryReader.read(
            inputURL,
            options: .init(
                skipBadLines: badLines.skipBadLines, keepRawLine: false, keepDocumentText: false,
                skipFlag: "--skip-bad-lines"))
        let searcher = try BM25DocumentSearcher(directory: job.index)
        let documents = try CorpusReader.read(
            corpusURL, options: badLines.readOptions,
            progress: ProgressReporter(label: "documents read")
        )
        .documents
        let position = Dictionary(
            documents.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        let builder = TripleBuilder(
            configuration: configuration, searcher: searcher,
            inCorpus: { position[$0] != nil }, inputPath: inputURL.path,
            corpusPath: corpusURL.path)
        let rowsToDo = (resume.shard ?? .whole).range(of: rows.count).count - resumable.itemsAtStart
        let progress = ProgressReporter(label: "queries searched", total: rowsToDo, sink: stderr)
        let summary = try job.run(
            builder, rows: rows, documents: documents, position: position, output: resumable,
            progress: progress)
        progress.finish()
        var lines = summary.lines.map { "triples: \($0)" }
        if statistics.skippedBadLines > 0 {
            lines.insert("triples: malformed lines skipped: \(statistics.skippedBadLines)", at: 1)
        }
        lines.append(
            "triples: wrote \(output.output)" + (idsOutput.map { " and \($0)" } ?? "")
                + resume.shardNote)
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
