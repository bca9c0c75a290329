import ArgumentParser
import Foundation
import InparsBM25
import InparsCore
import InparsHub

extension BM25BatchSearch.ScoreStyle: ExpressibleByArgument {}

/// `inpars search`: batch BM25 retrieval to a TREC run.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search a BM25 index with a query file and write a TREC run.",
        discussion: """
            Queries are BEIR queries.jsonl (_id, text) or TSV (id<TAB>text). Output lines are \
            'qid Q0 docid rank score tag'. Scores default to Anserini's tie-adjusted form \
            (--scores anserini), which reproduces Pyserini's evaluation numbers. With --output \
            the run is resumable (queries are committed as they are searched; rerunning the same \
            command after a kill continues) and can be sharded with --shard i/N (Docs/scaling.md).
            """)

    @Option(help: "The index directory (from 'inpars index').")
    var index: String

    @OptionGroup var queries: QueriesOptions

    @Option(help: "Only search queries that appear in this qrels file (or beir/<name>[/<split>]).")
    var qrels: String?

    @Option(help: "Hits per query (Pyserini's --hits).")
    var hits: Int = 1000

    /// The old spelling of `--hits`.
    @Option(name: .customLong("k"), help: .hidden)
    var oldK: Int?

    /// `--hits`, or `--k` when given.
    var k: Int { oldK ?? hits }

    @Option(help: "The run file to write (default: standard output).")
    var output: String?

    @OptionGroup var resume: ResumeOptions

    @OptionGroup var threads: ThreadOptions

    @Option(help: "BM25 k1.")
    var k1: Float = 0.9

    @Option(help: "BM25 b.")
    var b: Float = 0.4

    @Flag(help: "Drop a hit whose document id equals the query id (ArguAna, Quora).")
    var removeQuery = false

    @Option(help: "Score column: anserini (tie-adjusted, 4 decimals) or raw.")
    var scores: BM25BatchSearch.ScoreStyle = .anserini

    @Option(help: "The run tag (last column).")
    var tag: String = "inpars-bm25"

    @OptionGroup var badLines: BadLineOptions

    @Flag(
        help: """
            Score every posting of every query term instead of pruning (the same run, slower \
            on large indexes; for checking).
            """)
    var exhaustive = false

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--hits must be at least 1.") }
        guard !tag.contains(" "), !tag.isEmpty else {
            throw ValidationError("--tag must be non-empty and contain no spaces.")
        }
        if output == nil && (resume.shard != nil || resume.overwrite) {
            throw ValidationError("--shard and --overwrite need --output (standard output cannot resume).")
        }
        do { try BM25Parameters(k1: k1, b: b).validate() } catch {
            throw ValidationError(error.localizedDescription)
        }
    }

    /// The queries in file order, only those judged in `qrels` when given.
    private func readQueries(_ url: URL, qrels qrelsURL: URL?) throws -> [Query] {
        var list = try QueryReader.read(url, options: badLines.readOptions).queries
        if let qrelsURL {
            let judged = try Qrels.read(qrelsURL)
            list = list.filter { judged.judgments[$0.id] != nil }
            if list.isEmpty {
                throw InparsCoreError.noRecords(
                    path: queries.queries, what: "query judged in '\(qrelsURL.path)'",
                    skippedLines: 0)
            }
        }
        return list
    }

    func run() throws {
        let parameters = BM25Parameters(k1: k1, b: b)
        let options = BM25BatchSearch.Options(
            k: k, parameters: parameters, threads: threads.count, removeQuery: removeQuery,
            scoreStyle: scores, strategy: exhaustive ? .exhaustive : .automatic)
        let qrelsURL = try qrels.map { try DatasetLocator.resolve($0, role: .qrels) }
        var job = SearchRun(
            index: URL(fileURLWithPath: index), queries: try queries.url, qrels: qrelsURL,
            output: URL(fileURLWithPath: output ?? "-"), options: options, tag: tag)
        job.skipBadLines = badLines.skipBadLines
        job.shard = resume.shard
        job.overwrite = resume.overwrite
        // With more than one thread, the index is opened (its checksums read) and the output
        // opened (its inputs fingerprinted, an earlier manifest compared) while the queries
        // are read: the output's work then costs the stdout path's startup nothing. Errors
        // come in the order of a sequential start: the index, the output, the queries.
        let frozen = job
        let resumes = output != nil
        let openBoth = { @Sendable () throws -> (BM25Index, ResumableOutput<SearchSummary>?) in
            (try BM25Index.open(frozen.index), resumes ? try frozen.open() : nil)
        }
        let ((opened, resumable), queriesRead) = try concurrently(threads.count > 1, openBoth) {
            Result { try readQueries(job.queries, qrels: qrelsURL) }
        }
        if let note = resumable?.startNote(label: "search", unit: "queries") {
            StandardErrorProgressSink().emit(note, transient: false)
        }
        // A complete output needs no queries (nor do their errors matter).
        if resumable?.isComplete == true { return }
        let list = try queriesRead.get()
        let started = Date()
        let searched: Int
        if let resumable {
            let shardSize = (resume.shard ?? .whole).range(of: list.count).count
            let progress = ProgressReporter(
                label: "queries searched", total: shardSize - resumable.itemsAtStart)
            searched = try job.run(index: opened, queries: list, output: resumable, progress: progress).queries
            progress.finish()
        } else {
            let progress = ProgressReporter(label: "queries searched", total: list.count)
            let file = try OutputFile.standardOutput()
            let lines = try BM25BatchSearch.write(
                index: opened, queries: list, options: options, tag: tag, to: file,
                progress: progress)
            try file.close()
            if lines == 0 { throw BM25Error.noHits(index: index, queries: list.count) }
            searched = list.count
        }
        let seconds = Date().timeIntervalSince(started)
        let rate = seconds > 0 ? Double(searched) / seconds : 0
        FileHandle.standardError.write(
            Data(
                ("searched \(searched) queries (top \(k)) and wrote the run in"
                    + " \(formatFixed(seconds, decimals: 3))"
                    + " s (\(Int(rate)) queries/s)\(output.map { "; run written to \($0)" } ?? "")"
                    + resume.shardNote
                    + "\n").utf8))
    }
}
