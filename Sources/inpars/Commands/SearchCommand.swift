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
            (--scores anserini), which reproduces Pyserini's evaluation numbers.
            """)

    @Option(help: "The index directory (from 'inpars index').")
    var index: String

    @OptionGroup var queries: QueriesOptions

    @Option(help: "Only search queries that appear in this qrels file (or beir/<name>[/<split>]).")
    var qrels: String?

    @Option(help: "Hits per query.")
    var k: Int = 1000

    @Option(help: "The run file to write (default: standard output).")
    var output: String?

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
        guard k >= 1 else { throw ValidationError("--k must be at least 1.") }
        guard !tag.contains(" "), !tag.isEmpty else {
            throw ValidationError("--tag must be non-empty and contain no spaces.")
        }
        do { try BM25Parameters(k1: k1, b: b).validate() } catch {
            throw ValidationError(error.localizedDescription)
        }
    }

    func run() throws {
        let parameters = BM25Parameters(k1: k1, b: b)
        let opened = try BM25Index.open(URL(fileURLWithPath: index))
        var list = try QueryReader.read(
            queries.url,
            options: ReadOptions(skipBadLines: badLines.skipBadLines)
        ).queries
        if let qrels {
            let judged = try Qrels.read(DatasetLocator.resolve(qrels, role: .qrels))
            list = list.filter { judged.judgments[$0.id] != nil }
        }
        let started = Date()
        let progress = ProgressReporter(label: "queries searched", total: list.count)
        let options = BM25BatchSearch.Options(
            k: k, parameters: parameters, threads: threads.count, removeQuery: removeQuery,
            scoreStyle: scores, strategy: exhaustive ? .exhaustive : .automatic)
        if let output {
            try AtomicFile.write(to: URL(fileURLWithPath: output)) { file in
                try BM25BatchSearch.write(
                    index: opened, queries: list, options: options, tag: tag, to: file,
                    progress: progress)
            }
        } else {
            let file = try OutputFile.standardOutput()
            try BM25BatchSearch.write(
                index: opened, queries: list, options: options, tag: tag, to: file,
                progress: progress)
            try file.close()
        }
        let seconds = Date().timeIntervalSince(started)
        let rate = seconds > 0 ? Double(list.count) / seconds : 0
        FileHandle.standardError.write(
            Data(
                ("searched \(list.count) queries (top \(k)) and wrote the run in"
                    + " \(formatFixed(seconds, decimals: 3))"
                    + " s (\(Int(rate)) queries/s)\(output.map { "; run written to \($0)" } ?? "")\n")
                    .utf8))
    }
}
