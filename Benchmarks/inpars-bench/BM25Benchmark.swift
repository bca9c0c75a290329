import ArgumentParser
import Foundation
import InparsBM25
import InparsCore

/// BM25 index build time and single-thread search throughput (SciFact or generated corpora).
struct BM25Benchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bm25",
        abstract: "BM25 indexing time and queries/s on SciFact (see bm25-scale for large corpora).")

    @Option(help: "A BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv).")
    var data: String = "../shared/data/scifact"

    @Option(help: "Timed repetitions (the median is reported).")
    var repeats = 5

    @Option(help: "Index builds to time (default: --repeats).")
    var indexRepeats: Int?

    @Option(help: "Hits per query.")
    var k = 1000

    @Option(
        help: """
            The inpars binary (e.g. .build/release/inpars): also time whole 'inpars search' \
            processes (load the index, read the queries, search, write the run).
            """)
    var inpars: String?

    @Option(help: "Threads for indexing and search.")
    var threads = 1

    @Option(help: "Where generated corpora and indexes go.")
    var workDirectory: String = NSTemporaryDirectory()

    func run() throws {
        let folder = URL(fileURLWithPath: data)
        let corpus = folder.appendingPathComponent("corpus.jsonl")
        let qrels = try Qrels.read(folder.appendingPathComponent("qrels/test.tsv"))
        let queries = try QueryReader.read(folder.appendingPathComponent("queries.jsonl")).queries
            .filter { qrels.judgments[$0.id] != nil }
        let work = URL(fileURLWithPath: workDirectory)
            .appendingPathComponent("inpars-bench-bm25-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let indexURL = work.appendingPathComponent("index")

        var indexTimes: [Double] = []
        var indexCPU: [Double] = []
        var documents = 0
        for _ in 0..<max(1, indexRepeats ?? repeats) {
            let start = now()
            let cpuStart = cpuNow()
            let report = try BM25IndexBuilder.build(
                corpus: corpus, index: indexURL, threads: threads)
            indexTimes.append(now() - start)
            indexCPU.append(cpuNow() - cpuStart)
            documents = report.documents
        }
        let index = try BM25Index.open(indexURL)
        let searcher = BM25Searcher(index: index)
        var coreTimes: [Double] = []
        var coreCPU: [Double] = []
        var fullTimes: [Double] = []
        var sink = 0
        for _ in 0..<repeats {
            var start = now()
            let cpuStart = cpuNow()
            for query in queries { sink &+= searcher.search(query.text, k: k).count }
            coreTimes.append(now() - start)
            coreCPU.append(cpuNow() - cpuStart)
            start = now()
            let run = BM25BatchSearch.run(index: index, queries: queries, k: k, threads: threads)
            sink &+= run.count
            fullTimes.append(now() - start)
        }
        let indexTime = median(indexTimes)
        print("BM25 on \(folder.lastPathComponent): \(documents) docs, \(queries.count) queries,"
            + " top-\(k), \(threads) thread(s), median of \(repeats) (checksum \(sink))")
        print("| what | wall time | rate | CPU time (this thread) | rate by CPU time |")
        print("|---|---:|---:|---:|---:|")
        print("| index (read + analyse + write) | \(fmt(indexTime)) s | \(Int(Double(documents) / indexTime)) docs/s | \(fmt(median(indexCPU))) s | \(Int(Double(documents) / median(indexCPU))) docs/s |")
        print("| search, hits only | \(fmt(median(coreTimes))) s | \(Int(Double(queries.count) / median(coreTimes))) q/s | \(fmt(median(coreCPU))) s | \(Int(Double(queries.count) / median(coreCPU))) q/s |")
        print("| search + doc ids + run entries | \(fmt(median(fullTimes))) s | \(Int(Double(queries.count) / median(fullTimes))) q/s | | |")
        if let inpars {
            var times: [Double] = []
            for _ in 0..<repeats {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: inpars)
                process.arguments = [
                    "search", "--index", indexURL.path, "--queries",
                    folder.appendingPathComponent("queries.jsonl").path, "--qrels",
                    folder.appendingPathComponent("qrels/test.tsv").path, "--k", "\(k)",
                    "--threads", "\(threads)", "--output", work.appendingPathComponent("run.txt").path,
                ]
                process.standardError = FileHandle.nullDevice
                let start = now()
                try process.run()
                process.waitUntilExit()
                times.append(now() - start)
                guard process.terminationStatus == 0 else {
                    throw ValidationError("inpars search exited with \(process.terminationStatus)")
                }
            }
            let lines = try String(contentsOf: work.appendingPathComponent("run.txt"), encoding: .utf8)
                .split(separator: "\n").count
            print("| whole 'inpars search' process (load, search, write \(lines) lines) | \(fmt(median(times))) s | \(Int(Double(queries.count) / median(times))) q/s | | |")
        }
    }

    private func now() -> Double { ProcessInfo.processInfo.systemUptime }
    /// CPU time of the calling thread (insensitive to other processes on a busy machine).
    private func cpuNow() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
    private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    private func fmt(_ value: Double) -> String { formatFixed(value, decimals: 3) }
    private func peakRSSMegabytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }
}
