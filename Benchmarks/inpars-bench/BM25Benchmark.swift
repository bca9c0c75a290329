import ArgumentParser
import Foundation
import InparsBM25
import InparsCore

/// BM25 index build time and single-thread search throughput (SciFact or generated corpora).
struct BM25Benchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bm25",
        abstract: "BM25 indexing time and queries/s (one thread), on SciFact or a generated corpus.")

    @Option(help: "A BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv).")
    var data: String = "../shared/data/scifact"

    @Option(help: "Timed repetitions (the median is reported).")
    var repeats = 5

    @Option(help: "Index builds to time (default: --repeats).")
    var indexRepeats: Int?

    @Option(help: "Hits per query.")
    var k = 1000

    @Option(help: "Instead of --data, generate this many documents (scale run).")
    var generate: Int?

    @Option(help: "Threads for indexing and search.")
    var threads = 1

    @Option(help: "Where generated corpora and indexes go.")
    var workDirectory: String = NSTemporaryDirectory()

    func run() throws {
        if let generate {
            try scaleRun(documents: generate)
            return
        }
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
    }

    private func scaleRun(documents: Int) throws {
        let work = URL(fileURLWithPath: workDirectory)
            .appendingPathComponent("inpars-bench-bm25-scale-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let corpus = work.appendingPathComponent("corpus.jsonl")
        // Zipf-distributed words from a 200k-word synthetic vocabulary, 20–120 words a document.
        var random = SeededGenerator(seed: 42)
        let vocabulary = (0..<200_000).map { i -> String in
            var word = ""
            var v = i &* 2_654_435_761 % 1_000_003 + 1
            for _ in 0..<(3 + i % 6) {
                word.append(Character(Unicode.Scalar(UInt8(97 + v % 26))))
                v /= 7
                v += i
            }
            return word + String(i % 97)
        }
        let cumulative: [Double] = {
            var sum = 0.0
            return (1...vocabulary.count).map { r in
                sum += 1 / Double(r)
                return sum
            }
        }()
        func sampleWord() -> String {
            let u = Double.random(in: 0..<cumulative.last!, using: &random)
            var low = 0
            var high = cumulative.count - 1
            while low < high {
                let mid = (low + high) / 2
                if cumulative[mid] < u { low = mid + 1 } else { high = mid }
            }
            return vocabulary[low]
        }
        var start = now()
        try AtomicFile.write(to: corpus, replacing: .fresh("a benchmark corpus")) { output in
            for d in 0..<documents {
                let length = Int.random(in: 20...120, using: &random)
                let text = (0..<length).map { _ in sampleWord() }.joined(separator: " ")
                try output.write("{\"_id\": \"doc\(d)\", \"title\": \"\", \"text\": \"\(text)\"}\n")
            }
        }
        let generateTime = now() - start
        let rssBefore = peakRSSMegabytes()
        start = now()
        let report = try BM25IndexBuilder.build(
            corpus: corpus, index: work.appendingPathComponent("index"), threads: threads)
        let indexTime = now() - start
        let rssAfterIndex = peakRSSMegabytes()
        start = now()
        let index = try BM25Index.open(work.appendingPathComponent("index"))
        let openTime = now() - start
        let searcher = BM25Searcher(index: index)
        let queries = (0..<1000).map { _ in
            (0..<Int.random(in: 2...10, using: &random)).map { _ in sampleWord() }
                .joined(separator: " ")
        }
        start = now()
        var sink = 0
        for query in queries { sink &+= searcher.search(query, k: k).count }
        let searchTime = now() - start
        // Queries without the 100 most frequent words (in real text most of those would be
        // stopwords the analyzer removes): words drawn uniformly from ranks 100..<20,000.
        let midQueries = (0..<1000).map { _ in
            (0..<Int.random(in: 2...10, using: &random)).map { _ in
                vocabulary[Int.random(in: 100..<20_000, using: &random)]
            }.joined(separator: " ")
        }
        start = now()
        for query in midQueries { sink &+= searcher.search(query, k: k).count }
        let midTime = now() - start
        print("Scale run: \(documents) generated documents (corpus written in \(fmt(generateTime)) s),"
            + " \(threads) thread(s), checksum \(sink)")
        print("| what | figure |")
        print("|---|---:|")
        print("| index build | \(fmt(indexTime)) s (\(Int(Double(documents) / indexTime)) docs/s) |")
        print("| terms / tokens | \(report.terms) / \(report.tokens) |")
        print("| index size | \(report.indexBytes / 1_000_000) MB |")
        print("| peak RSS before / after indexing | \(rssBefore) / \(rssAfterIndex) MB |")
        print("| open (verify checksums) | \(fmt(openTime)) s |")
        print("| 1000 Zipf-sampled queries top-\(k) | \(fmt(searchTime)) s (\(Int(1000 / searchTime)) q/s) |")
        print("| 1000 mid-frequency queries top-\(k) | \(fmt(midTime)) s (\(Int(1000 / midTime)) q/s) |")
        print("| peak RSS at end | \(peakRSSMegabytes()) MB |")
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
