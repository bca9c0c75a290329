import ArgumentParser
import Foundation
import InparsBM25
import InparsCore

/// BM25 at MS MARCO scale on a collection written by `Scripts/bench/make_bm25_corpus.py`:
/// index time and peak memory, then queries/s for each query set, k and thread count.
/// `Scripts/bench/ref_bm25s_scale.py` measures bm25s on the same files.
struct BM25ScaleBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bm25-scale",
        abstract: "BM25 index time, peak memory and queries/s on a generated MS MARCO-like corpus.",
        discussion: """
            --data is a folder from Scripts/bench/make_bm25_corpus.py (collection.tsv, \
            queries.common.tsv, queries.mid.tsv, queries.rare.tsv). The index is built into \
            --index (default DATA/index-inpars) unless one is already there; to time the \
            build again, remove it first. Queries/s count hits only (document numbers and \
            scores, as bm25s's retrieve returns), median of --repeats runs after a warm-up.
            """)

    @Option(help: "The folder written by make_bm25_corpus.py.")
    var data: String

    @Option(help: "The index directory (built when absent).")
    var index: String?

    @Option(help: "Threads for indexing.")
    var indexThreads = 2

    @Option(help: "Search thread counts to measure, comma-separated.")
    var threads = "1,2"

    @Option(help: "Hits per query to measure, comma-separated.")
    var k = "10,100,1000"

    @Option(help: "Timed runs per cell (the median is reported).")
    var repeats = 3

    @Option(help: "Use only the first N queries of each set.")
    var queries: Int?

    @Option(help: "Query sets to measure, comma-separated.")
    var sets = "common,mid,rare"

    @Flag(help: "Print the pruned search's work per query (candidates, probes, scored).")
    var statistics = false

    @Flag(help: "Also time the exhaustive search (one thread), for the pruning speed-up.")
    var exhaustive = false

    func run() throws {
        let folder = URL(fileURLWithPath: data)
        let indexURL = URL(fileURLWithPath: index ?? folder.appendingPathComponent("index-inpars").path)
        if !FileManager.default.fileExists(
            atPath: indexURL.appendingPathComponent("index.bin").path)
        {
            let start = now()
            let report = try BM25IndexBuilder.build(
                corpus: folder.appendingPathComponent("collection.tsv"), index: indexURL,
                threads: indexThreads,
                progress: ProgressReporter(label: "documents indexed"))
            let seconds = now() - start
            let peak = peakRSSMegabytes()
            print(
                "index: \(report.documents) documents, \(report.tokens) tokens, \(report.terms)"
                    + " terms in \(fmt(seconds)) s with \(indexThreads) thread(s)"
                    + " (\(Int(Double(report.documents) / seconds)) docs/s); index"
                    + " \(report.indexBytes / 1_000_000) MB; peak RSS \(peak) MB"
                    + " (\(peak * 1_000_000 / max(1, report.documents)) MB per million documents)")
        }
        var start = now()
        let opened = try BM25Index.open(indexURL)
        print("open with checksum verification: \(fmt(now() - start)) s")
        let ks = k.split(separator: ",").compactMap { Int($0) }
        let threadCounts = threads.split(separator: ",").compactMap { Int($0) }
        print("| query set | k | threads | queries/s | queries per CPU-second | mean hits |"
            + (exhaustive ? " exhaustive q/s (1 thread) |" : ""))
        print("|---|---:|---:|---:|---:|---:|" + (exhaustive ? "---:|" : ""))
        for set in sets.split(separator: ",").map(String.init) {
            var list = try QueryReader.read(folder.appendingPathComponent("queries.\(set).tsv"))
                .queries
            if let queries { list = Array(list.prefix(queries)) }
            // Warm-up: page the index in.
            try BM25BatchSearch.forEachHits(
                index: opened, queries: list, options: .init(k: 10, threads: 2)) { _, _ in }
            for k in ks {
                for threads in threadCounts {
                    var rates: [Double] = []
                    var cpuRates: [Double] = []
                    var hits = 0
                    for _ in 0..<max(1, repeats) {
                        hits = 0
                        start = now()
                        let cpuStart = cpuNow()
                        try BM25BatchSearch.forEachHits(
                            index: opened, queries: list, options: .init(k: k, threads: threads)
                        ) { _, found in hits += found.count }
                        rates.append(Double(list.count) / (now() - start))
                        cpuRates.append(Double(list.count) / (cpuNow() - cpuStart))
                    }
                    var line = "| \(set) | \(k) | \(threads) | \(fmt(median(rates), 1)) |"
                        + " \(fmt(median(cpuRates), 1)) |"
                        + " \(fmt(Double(hits) / Double(list.count), 1)) |"
                    if exhaustive && threads == threadCounts.first {
                        start = now()
                        try BM25BatchSearch.forEachHits(
                            index: opened, queries: list,
                            options: .init(k: k, threads: 1, strategy: .exhaustive)
                        ) { _, _ in }
                        line += " \(fmt(Double(list.count) / (now() - start), 1)) |"
                    } else if exhaustive {
                        line += " |"
                    }
                    print(line)
                    if statistics {
                        let searcher = BM25Searcher(index: opened, strategy: .pruned)
                        var slowest: [(Double, String, BM25Searcher.Statistics)] = []
                        for query in list {
                            let before = searcher.statistics
                            let t = cpuNow()
                            _ = searcher.search(query.text, k: k)
                            var delta = searcher.statistics
                            delta.candidates -= before.candidates
                            delta.probes -= before.probes
                            delta.scored -= before.scored
                            delta.windowed -= before.windowed
                            slowest.append((cpuNow() - t, query.text, delta))
                        }
                        slowest.sort { $0.0 > $1.0 }
                        let total = slowest.reduce(0) { $0 + $1.0 }
                        let top = slowest.prefix(list.count / 10).reduce(0) { $0 + $1.0 }
                        print("  slowest 10 % of the queries take \(fmt(100 * top / total, 1)) % of the time; slowest:")
                        for (t, text, s) in slowest.prefix(6) {
                            let dfs = searcher.queryTerms(text).map { "\(opened.documentFrequency(ofTerm: $0.term))" }
                            let path = s.windowed > 0 ? "windowed" : "document-at-a-time"
                            print("    \(fmt(t * 1000, 2)) ms '\(text)' df \(dfs.joined(separator: "/")) (\(path)): \(s.candidates) candidates, \(s.probes) probes, \(s.scored) scored")
                        }
                        let s = searcher.statistics
                        let n = Double(max(1, s.searches))
                        print(
                            "  per query: \(fmt(Double(s.candidates) / n, 1)) candidates,"
                                + " \(fmt(Double(s.probes) / n, 1)) probes,"
                                + " \(fmt(Double(s.scored) / n, 1)) fully scored;"
                                + " \(s.windowed) of \(s.searches) queries windowed")
                    }
                }
            }
        }
        print("peak RSS at end: \(peakRSSMegabytes()) MB")
    }

    /// Unbuffered, so lines appear while the benchmark runs even when piped.
    private func print(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    private func now() -> Double { ProcessInfo.processInfo.systemUptime }
    /// CPU time of the whole process (all threads): insensitive to other processes' load.
    private func cpuNow() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
    private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    private func fmt(_ value: Double, _ decimals: Int = 2) -> String {
        formatFixed(value, decimals: decimals)
    }
    private func peakRSSMegabytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }
}
