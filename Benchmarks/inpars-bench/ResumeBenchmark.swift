import ArgumentParser
import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTensor
import InparsTokenizers

/// What resuming costs: a commit of the partial file and manifest, fingerprinting inputs, and a
/// whole rerank through `RerankRun` (partial file, commits, input checksums, atomic finish)
/// against the same rerank written the way `rerank` did before it resumed (score everything,
/// then `Run.write`), with the same in-memory t5-small-shaped scorer (random weights).
struct ResumeBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Cost of resuming: commit time, input fingerprints, rerank with and without the journal.")

    @Option(help: "BEIR folder (corpus.jsonl, queries.jsonl).")
    var data = "../shared/data/scifact"
    @Option(help: "Queries reranked per run.") var queries = 10
    @Option(help: "Documents per query.") var depth = 20
    @Option(help: "Runs of each variant (alternated; the median is reported).") var repeats = 3
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Commits timed.") var commits = 200
    @Option(help: "MB fingerprinted.") var fingerprintMB = 256

    func run() throws {
        BLAS.threads = threads
        let env = ProcessInfo.processInfo.environment
        print(
            "OpenBLAS core: \(BLAS.coreName); OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)") OPENBLAS_L2_SIZE=\(env["OPENBLAS_L2_SIZE"] ?? "(unset)") threads=\(threads)"
        )
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "inpars-bench-resume-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        try commitCost(in: work)
        try fingerprintCost(in: work)
        try rerankCost(in: work)
    }

    /// Milliseconds per commit (fsync of the partial file, manifest rewritten and renamed)
    /// with one query's worth of run lines (1000 lines, ~50 KB) appended before each.
    func commitCost(in work: URL) throws {
        let out = work.appendingPathComponent("commits.trec")
        let output = try ResumableOutput<RerankSummary>(
            outputs: ["main": out], kinds: ["main": .trecRun],
            manifest: OutputManifest(command: "bench", settings: ["a": "1"], inputs: [:]),
            overwrite: true)
        output.commitInterval = 0
        let lines = (1...1000).map { "q1 Q0 doc\($0) \($0) -0.\($0)123456 monoT5\n" }.joined()
        var summary = RerankSummary()
        let start = DispatchTime.now().uptimeNanoseconds
        for item in 1...commits {
            try output.append(lines)
            summary.queries += 1
            try output.commit(items: item, summary: summary)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print(
            "commit (append \(lines.utf8.count) bytes, fsync, manifest rename): \(f(1000 * seconds / Double(commits), 3)) ms each over \(commits); a run commits at most once a second"
        )
    }

    /// MB/s of the SHA-256 input fingerprint (page cache warm).
    func fingerprintCost(in work: URL) throws {
        let file = work.appendingPathComponent("input.bin")
        var generator = BenchRandom(seed: 3)
        let chunk = Data((0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        let handle = try FileHandle(forWritingTo: {
            _ = FileManager.default.createFile(atPath: file.path, contents: nil)
            return file
        }())
        for _ in 0..<fingerprintMB { handle.write(chunk) }
        try handle.close()
        _ = try InputIdentity.of(file)  // warm the page cache
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try InputIdentity.of(file)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print(
            "input fingerprint (SHA-256, page cache warm): \(f(Double(fingerprintMB) / seconds, 0)) MB/s")
    }

    /// The same rerank twice over: plain (score all, write at the end) and through RerankRun.
    func rerankCost(in work: URL) throws {
        let data = URL(fileURLWithPath: self.data)
        let (runURL, queriesURL, corpusURL) = try makeInputs(data: data, in: work)
        let model = work.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try Data(#"{"model_type": "t5"}"#.utf8).write(to: model.appendingPathComponent("config.json"))
        let configuration = T5Configuration(
            vocabSize: 32128, dModel: 512, dKV: 64, dFF: 2048, numLayers: 6, numHeads: 8)
        let tokenizer = try SentencePieceTokenizer.load(
            directory: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../Tests/Fixtures/t5-tokenizer").standardizedFileURL)
        let scorer = try MonoT5Reranker(
            model: try T5Model(configuration: configuration, tensors: T5Benchmark.randomTensors(configuration)),
            tokenizer: tokenizer, options: ScorerOptions(maxLength: 512, batchSize: 8, labels: .trueFalse))
        var plain: [Double] = []
        var resumable: [Double] = []
        var pairs = 0
        for round in 0..<repeats {
            let a = work.appendingPathComponent("plain-\(round).trec")
            var start = DispatchTime.now().uptimeNanoseconds
            let input = try RerankingInput.read(run: runURL, queries: queriesURL, corpus: corpusURL)
            let result = try RunReranker(topK: depth).rerank(
                run: input.run, documents: input.documents, queries: input.queries, scorer: scorer)
            try result.run.write(to: a, tag: scorer.name, decimals: nil)
            plain.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            pairs = result.summary.pairsScored

            let b = work.appendingPathComponent("resumable-\(round).trec")
            start = DispatchTime.now().uptimeNanoseconds
            let job = RerankRun(
                run: runURL, queries: queriesURL, corpus: corpusURL, model: model, output: b,
                depth: depth, scorerOptions: scorer.options)
            _ = try job.run(loadScorer: { scorer }, sink: SilentSink())
            resumable.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            guard try Data(contentsOf: a) == Data(contentsOf: b) else {
                throw ValidationError("the two reranks differ: \(a.path) vs \(b.path)")
            }
        }
        let p = plain.sorted()[plain.count / 2]
        let r = resumable.sorted()[resumable.count / 2]
        print(
            "rerank \(queries) queries × \(depth) (\(pairs) pairs, t5-small shape, 512 tokens): plain \(plain.map { f($0) }.joined(separator: "/")) s, resumable \(resumable.map { f($0) }.joined(separator: "/")) s; medians \(f(p)) vs \(f(r)) s: overhead \(f(100 * (r - p) / p, 2)) % (outputs byte-identical)"
        )
    }

    /// The first `queries` queries of the data set, each with `depth` corpus documents as its
    /// first-stage run.
    func makeInputs(data: URL, in work: URL) throws -> (URL, URL, URL) {
        let corpus = data.appendingPathComponent("corpus.jsonl")
        let queryList = try QueryReader.read(data.appendingPathComponent("queries.jsonl")).queries
            .prefix(queries)
        let reader = try CorpusReader(url: corpus)
        var ids: [String] = []
        while ids.count < queries * depth, let document = try reader.next() { ids.append(document.id) }
        var run = ""
        for (q, query) in queryList.enumerated() {
            for r in 0..<depth {
                run += "\(query.id) Q0 \(ids[(q * depth + r) % ids.count]) \(r + 1) \(100 - r) bm25\n"
            }
        }
        let runURL = work.appendingPathComponent("first-stage.trec")
        try Data(run.utf8).write(to: runURL)
        let queriesURL = work.appendingPathComponent("queries.tsv")
        try Data(queryList.map { "\($0.id)\t\($0.text)\n" }.joined().utf8).write(to: queriesURL)
        return (runURL, queriesURL, corpus)
    }

    private func f(_ value: Double, _ decimals: Int = 2) -> String {
        String(format: "%.\(decimals)f", value)
    }
}

/// Drops progress lines.
struct SilentSink: ProgressSink {
    func emit(_ line: String, transient: Bool) {}
}
