import ArgumentParser
import Foundation
import InparsBM25
import InparsCore
import InparsFilter

/// `inpars triples` at scale: 100,000 synthetic queries over a 1,000,000-document generated
/// corpus and its BM25 index. Times each phase of what the command does (read queries, read
/// corpus, search + sample on all threads, write the TSV) and the peak memory of that part;
/// the same searches on one thread over a prefix of the queries are the reference.
struct TriplesBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triples",
        abstract:
            "BM25 hard-negative triples: time and peak memory at 100k queries × 1M documents.",
        discussion: """
            Documents: ids doc0…, no title, 30–90 words drawn from a Zipf(1) distribution over \
            --vocabulary pseudo-words (consonant–vowel syllables). Queries: 3–6 words of a random \
            document (never one of the 100 most frequent words, which play the stopwords) plus \
            one random off-topic word, so each query's source document is known. Files go to \
            --work-dir (a temporary directory by default, removed at the end).
            """)

    @Option(help: "Documents in the generated corpus.") var documents = 1_000_000
    @Option(help: "Synthetic queries.") var queries = 100_000
    @Option(help: "Distinct words.") var vocabulary = 100_000
    @Option(help: "BM25 hits per query.") var depth = 1_000
    @Option(help: "Negatives per query.") var negatives = 1
    @Option(help: "Threads for indexing and searching.")
    var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Queries searched on one thread for the reference rate.")
    var referenceQueries = 5_000
    @Option(help: "Where the corpus, index and outputs go (kept when given).")
    var workDir: String?
    @Option(help: "Seed of the generated data and of the sampling.") var seed: UInt64 = 1

    /// The generated corpus and queries a rerun in the same --work-dir replaces (and nothing else).
    static let corpusKind = OutputKind.file("a benchmark corpus") {
        (try? JSONLine.parseObject($0))?["_id"] != nil
    }
    static let queriesKind = OutputKind.file("benchmark queries") {
        (try? JSONLine.parseObject($0))?["doc_id"] != nil
    }

    func run() throws {
        let folder: URL
        if let workDir {
            folder = URL(fileURLWithPath: workDir)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } else {
            folder = FileManager.default.temporaryDirectory
                .appendingPathComponent("inpars-bench-triples-\(getpid())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        defer { if workDir == nil { try? FileManager.default.removeItem(at: folder) } }
        let corpusURL = folder.appendingPathComponent("corpus.jsonl")
        let indexURL = folder.appendingPathComponent("index")
        let queriesURL = folder.appendingPathComponent("queries.jsonl")
        let outputURL = folder.appendingPathComponent("triples.tsv")
        let data = SyntheticCorpus(vocabulary: vocabulary, seed: seed)

        // Setup (not part of the measurement).
        var start = now()
        if !FileManager.default.fileExists(atPath: indexURL.path) {
            let builder = BM25IndexBuilder(threads: threads)
            try AtomicFile.write(to: corpusURL, replacing: Self.corpusKind) { file in
                for i in 0..<documents {
                    let text = data.document(i)
                    builder.add(Document(id: "doc\(i)", text: text))
                    try file.write(#"{"_id": "doc\#(i)", "title": "", "text": "\#(text)"}"# + "\n")
                }
            }
            let report = try builder.write(to: indexURL)
            log(
                "setup: generated and indexed \(documents) documents (\(report.tokens) tokens, \(report.terms) terms, index \(report.indexBytes / 1_000_000) MB) in \(fmt(now() - start, 1)) s"
            )
        }
        start = now()
        try AtomicFile.write(to: queriesURL, replacing: Self.queriesKind) { file in
            for q in 0..<queries {
                let (doc, words) = data.query(q, documents: documents)
                try file.write(
                    #"{"doc_id": "doc\#(doc)", "query": "\#(words)", "log_probs": [-0.5, -0.25, -1.0]}"#
                        + "\n")
            }
        }
        log("setup: wrote \(queries) queries in \(fmt(now() - start, 1)) s")

        // The measured part: what `inpars triples` does, phase by phase.
        resetPeakMemory()
        let baseline = residentMemory()
        var phases: [(String, Double)] = []
        start = now()
        let rows = try SyntheticQueryReader.read(
            queriesURL, options: .init(keepRawLine: false, keepDocumentText: false)
        ).rows
        phases.append(("read queries", now() - start))
        start = now()
        let corpus = try CorpusReader.read(corpusURL).documents
        let position = Dictionary(
            corpus.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        phases.append(("read corpus + id map", now() - start))
        start = now()
        let searcher = try BM25DocumentSearcher(directory: indexURL)
        phases.append(("open index", now() - start))
        var configuration = TripleConfiguration()
        configuration.negatives = negatives
        configuration.depth = depth
        configuration.seed = seed
        configuration.threads = threads
        let builder = TripleBuilder(
            configuration: configuration, searcher: searcher, inCorpus: { position[$0] != nil })
        start = now()
        let (triples, summary) = try builder.run(rows)
        let searchSeconds = now() - start
        phases.append(("search + sample (\(threads) threads)", searchSeconds))
        start = now()
        try TripleBuilder.write(triples, documents: corpus, position: position, to: outputURL)
        phases.append(("write TSV", now() - start))
        let peak = peakMemory()

        // Reference: the same searches on one thread over a prefix, alternated with the
        // configured threads on that prefix (best of two rounds each), so both see the same
        // machine load.
        let prefix = Array(rows.prefix(referenceQueries))
        var bestSingle = Double.infinity
        var bestParallel = Double.infinity
        var sameAsParallel = true
        for _ in 0..<2 {
            for threadCount in threads == 1 ? [1] : [1, threads] {
                var c = configuration
                c.threads = threadCount
                start = now()
                let result = try TripleBuilder(
                    configuration: c, searcher: searcher, inCorpus: { position[$0] != nil }
                ).run(prefix)
                let seconds = now() - start
                if threadCount == 1 {
                    bestSingle = min(bestSingle, seconds)
                } else {
                    bestParallel = min(bestParallel, seconds)
                }
                sameAsParallel =
                    sameAsParallel
                    && result.triples == Array(triples.prefix(result.triples.count))
            }
        }

        let total = phases.reduce(0) { $0 + $1.1 }
        print(
            "triples benchmark: \(documents) documents, \(rows.count) queries, depth \(depth), \(negatives) negative(s), \(threads) threads"
        )
        print("| phase | seconds |")
        print("|---|---:|")
        for (name, seconds) in phases { print("| \(name) | \(fmt(seconds, 2)) |") }
        print("| total | \(fmt(total, 2)) |")
        print("")
        print("| searching | queries/s |")
        print("|---|---:|")
        print(
            "| \(threads) threads, \(rows.count) queries | \(fmt(Double(rows.count) / searchSeconds, 0)) |"
        )
        print(
            "| first \(prefix.count) queries, 1 thread (reference), best of 2 | \(fmt(Double(prefix.count) / bestSingle, 0)) |"
        )
        if threads > 1 {
            print(
                "| first \(prefix.count) queries, \(threads) threads, best of 2 | \(fmt(Double(prefix.count) / bestParallel, 0)) |"
            )
        }
        print("")
        print(
            "peak resident memory of the measured part: \(peak / 1_000_000) MB (resident before it: \(baseline / 1_000_000) MB)"
        )
        print(
            "triples: \(summary.triples); no usable hit: \(summary.noUsableHit); MRR@10 \(fmt(summary.mrrAt10, 4)); Recall@\(depth) \(fmt(summary.recallAtDepth, 4))"
        )
        print(
            "outputs on the prefix (1 and \(threads) threads) identical to the \(threads)-thread output: \(sameAsParallel)"
        )
    }

    private func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    private func fmt(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }
    private func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    /// Resets the kernel's peak-RSS counter (VmHWM) for this process (Linux ≥ 4.0).
    private func resetPeakMemory() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }
    private func statusField(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return kb * 1024
        }
        return 0
    }
    private func peakMemory() -> Int { statusField("VmHWM") }
    private func residentMemory() -> Int { statusField("VmRSS") }
}

/// Deterministic generated documents and queries (every item from its own seeded stream).
struct SyntheticCorpus {
    let words: [String]
    let cumulative: [Double]
    let seed: UInt64

    init(vocabulary: Int, seed: UInt64) {
        self.seed = seed
        let consonants = Array("bdfgklmnprstvz")
        let vowels = Array("aeiou")
        // Word r: its index written in base 70 with one consonant–vowel syllable per digit
        // (+ a final syllable so every word has at least two).
        words = (0..<vocabulary).map { r in
            var n = r
            var s = ""
            repeat {
                let d = n % 70
                s.append(consonants[d / 5])
                s.append(vowels[d % 5])
                n /= 70
            } while n > 0
            return s + "ra"
        }
        var total = 0.0
        cumulative = (1...vocabulary).map { r in
            total += 1 / Double(r)
            return total
        }
    }

    private func generator(_ kind: UInt64, _ i: Int) -> SeededGenerator {
        TripleBuilder.generator(seed: seed &+ kind, index: i)
    }

    private func zipf(_ g: inout SeededGenerator) -> Int {
        let u = Double(g.next() >> 11) / Double(1 << 53) * cumulative[cumulative.count - 1]
        var lo = 0
        var hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Word ranks of document `i`: 30–90 Zipf(1) draws.
    func documentRanks(_ i: Int) -> [Int] {
        var g = generator(1, i)
        let length = 30 + Int(g.next() % 61)
        return (0..<length).map { _ in zipf(&g) }
    }

    func document(_ i: Int) -> String {
        documentRanks(i).map { words[$0] }.joined(separator: " ")
    }

    /// Query `q`: a random document and 3–6 of its words of rank ≥ 100.
    func query(_ q: Int, documents: Int) -> (document: Int, text: String) {
        var g = generator(2, q)
        while true {
            let doc = Int(g.next() % UInt64(documents))
            let content = documentRanks(doc).filter { $0 >= 100 }
            if content.count < 3 { continue }
            let count = min(content.count, 3 + Int(g.next() % 4))
            let picks = TripleBuilder.sample(count, of: content.count, using: &g)
            var text = picks.map { words[content[$0]] }
            // One off-topic word, so the source document is not always ranked first.
            var noise = zipf(&g)
            while noise < 100 { noise = zipf(&g) }
            text.insert(words[noise], at: Int(g.next() % UInt64(text.count + 1)))
            return (doc, text.joined(separator: " "))
        }
    }
}
