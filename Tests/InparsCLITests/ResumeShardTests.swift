import Foundation
import InparsCore
import InparsTestSupport
import Testing

/// A folder of small inputs and helpers to run `inpars` on them, kill it partway with the
/// library's test hook (`INPARS_TEST_KILL_AFTER_ITEMS`: commit item N, write half of the next
/// item, `SIGKILL`), and compare files byte for byte.
struct StageFixture {
    let folder: URL

    init(_ label: String) throws {
        folder = try TestPaths.temporaryDirectory(label)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    @discardableResult
    func write(_ text: String, _ name: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    func bytes(_ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path(name)))
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    /// Runs `inpars` (optionally killed after `killAfter` items).
    func run(_ arguments: [String], killAfter: Int? = nil) throws -> BuiltProducts.Result {
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "INPARS_TEST_KILL_AFTER_ITEMS")
        if let killAfter { environment["INPARS_TEST_KILL_AFTER_ITEMS"] = String(killAfter) }
        return try BuiltProducts.run(arguments, environment: environment)
    }

    /// Runs and expects success.
    @discardableResult
    func succeed(_ arguments: [String], _ comment: Comment? = nil) throws -> BuiltProducts.Result {
        let result = try run(arguments)
        #expect(result.status == 0, "\(comment?.description ?? "") \(arguments.prefix(1)): \(result.stderr)")
        return result
    }

    /// The manifest beside `name`.
    func manifest(_ name: String) throws -> OutputManifest? {
        try OutputManifest.read(OutputManifest.url(for: URL(fileURLWithPath: path(name))))
    }

    /// Kills `arguments` (whose `--output` is `name`) after `killAfter` items, checks the
    /// partial state, reruns, and expects the bytes of `reference`.
    func killResumeAndCompare(
        _ arguments: [String], output name: String, killAfter: Int, unit: String,
        reference: String
    ) throws {
        let killed = try run(arguments, killAfter: killAfter)
        #expect(killed.status == SIGKILL, "expected SIGKILL, got \(killed.status): \(killed.stderr)")
        #expect(!exists(name), "a killed run left a complete-looking output")
        #expect(exists(name + ".inpars-partial"))
        let partial = try #require(try manifest(name))
        #expect(partial.state == .running && partial.progress?.items == killAfter)
        let committed = try #require(partial.progress?.bytes["main"])
        let size = try #require(AppendFile.size(of: URL(fileURLWithPath: path(name + ".inpars-partial"))))
        #expect(size > committed, "the hook writes half an item past the commit")

        let resumed = try succeed(arguments, "resume")
        #expect(
            resumed.stderr.contains("resuming") && resumed.stderr.contains("\(killAfter) \(unit) already done")
                && resumed.stderr.contains("cut \(size - committed) uncommitted bytes"),
            "\(resumed.stderr)")
        #expect(try bytes(name) == bytes(reference))
        #expect(!exists(name + ".inpars-partial"))
        #expect(try manifest(name)?.state == .complete)
    }

    /// Runs `arguments(shard)` for every shard of `count`, merges them, and compares with
    /// `reference`.
    func shardAndMerge(
        count: Int, reference: String, name: String, _ arguments: (String, String) -> [String]
    ) throws {
        var shards: [String] = []
        for index in 0..<count {
            let output = "\(name).\(count).\(index)"
            try succeed(arguments("\(index)/\(count)", path(output)), "shard \(index)/\(count)")
            shards.append(path(output))
        }
        let merged = "\(name).\(count).merged"
        // Any order: merge sorts by the shard index in each manifest.
        try succeed(["merge", "--output", path(merged)] + shards.reversed(), "merge of \(count)")
        #expect(try bytes(merged) == bytes(reference), "\(count) shards merged differ")
        let whole = try #require(try manifest(merged))
        #expect(whole.shard == nil && whole.state == .complete)
        #expect(whole.runID == (try manifest(reference))?.runID)
    }
}

/// `rerank`: resume after a kill, refusals, shards and merge.
@Suite struct RerankResumeShardTests {
    let model = TestPaths.fixtures.appendingPathComponent("t5-tiny-v11").path

    func inputs(_ fixture: StageFixture) throws -> [String] {
        let corpus = try fixture.write(
            (1...9).map { #"{"_id": "d\#($0)", "title": "", "text": "doc \#($0) about topic \#($0 % 4) and more"}"# }
                .joined(separator: "\n") + "\n", "corpus.jsonl")
        let queries = try fixture.write(
            (1...6).map { "q\($0)\tabout topic \($0 % 4)" }.joined(separator: "\n") + "\n",
            "queries.tsv")
        var run = ""
        for q in 1...6 {
            for r in 1...3 { run += "q\(q) Q0 d\((q * 2 + r) % 9 + 1) \(r) \(10 - r).5 bm25\n" }
        }
        run += "q9 Q0 d1 1 1.0 bm25\n"  // a query the query file lacks
        run += "q7 Q0 d4 1 1.0 bm25\nq7 Q0 nowhere 2 0.5 bm25\n"  // q7 unknown, like q9
        let runFile = try fixture.write(run, "run.trec")
        return [
            "rerank", "--model", model, "--corpus", corpus, "--queries", queries, "--run", runFile,
            "--threads", "1", "--batch-size", "2", "--max-length", "32",
        ]
    }

    @Test func aKilledRerankResumesToTheSameBytes() throws {
        let fixture = try StageFixture("rerank-resume")
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let base = try inputs(fixture)
        try fixture.succeed(base + ["--output", fixture.path("reference.trec")])
        let arguments = base + ["--output", fixture.path("out.trec")]
        try fixture.killResumeAndCompare(
            arguments, output: "out.trec", killAfter: 2, unit: "queries",
            reference: "reference.trec")

        // Finished: the same command does nothing; a changed flag or input is refused by name.
        let again = try fixture.succeed(arguments)
        #expect(again.stderr.contains("already complete"))
        let changed = try fixture.run(arguments + ["--depth", "2"])
        #expect(changed.status == 1)
        #expect(changed.stderr.contains("depth: 1000 → 2"), "\(changed.stderr)")
        try fixture.write("q1\tsomething else\n", "queries.tsv")
        let edited = try fixture.run(arguments)
        #expect(edited.status == 1 && edited.stderr.contains("queries: content changed"), "\(edited.stderr)")
        // --overwrite starts over (with the query file as it was).
        _ = try inputs(fixture)
        try fixture.succeed(arguments + ["--depth", "2", "--overwrite"])
        #expect(try fixture.bytes("out.trec") != fixture.bytes("reference.trec"))
    }

    @Test func aPartialRerankRefusesOtherFlags() throws {
        let fixture = try StageFixture("rerank-refuse")
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let arguments = try inputs(fixture) + ["--output", fixture.path("out.trec")]
        #expect(try fixture.run(arguments, killAfter: 1).status == SIGKILL)
        let refused = try fixture.run(arguments + ["--max-length", "24", "--tag", "mine"])
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains("max_length: 32 → 24") && refused.stderr.contains("tag: (the model's name) → mine"),
            "\(refused.stderr)")
        #expect(fixture.exists("out.trec.inpars-partial"), "a refusal must not touch the partial file")
        // Threads and batch size change scores in their last bits: a resume must keep them.
        let threads = try fixture.run(arguments + ["--threads", "2"])
        #expect(
            threads.status == 1 && threads.stderr.contains("threads: 1 → 2")
                && threads.stderr.contains("pass --threads 1 to continue"), "\(threads.stderr)")
        let sharded = try fixture.run(arguments + ["--shard", "0/2"])
        #expect(sharded.status == 1 && sharded.stderr.contains("shard: unsharded → 0/2"), "\(sharded.stderr)")
    }

    @Test func rerankShardsMergeIntoTheUnshardedRun() throws {
        let fixture = try StageFixture("rerank-shards")
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let base = try inputs(fixture)
        try fixture.succeed(base + ["--output", fixture.path("reference.trec")])
        for count in 1...3 {
            try fixture.shardAndMerge(count: count, reference: "reference.trec", name: "run") {
                base + ["--shard", $0, "--output", $1]
            }
        }
        // Refusals: a missing shard, a shard given twice, a shard of another run, an
        // unfinished shard, and a file that is not a shard.
        let missing = try fixture.run(["merge", "--output", fixture.path("m"), fixture.path("run.3.0"), fixture.path("run.3.2")])
        #expect(missing.status == 1 && missing.stderr.contains("shard 1/3 of this run is missing"), "\(missing.stderr)")
        let twice = try fixture.run([
            "merge", "--output", fixture.path("m"), fixture.path("run.2.0"), fixture.path("run.2.0"),
            fixture.path("run.2.1"),
        ])
        #expect(twice.status == 1 && twice.stderr.contains("shard 0/2 is given twice"), "\(twice.stderr)")
        try fixture.succeed(base + ["--shard", "1/2", "--depth", "2", "--output", fixture.path("other.2.1")])
        let foreign = try fixture.run(["merge", "--output", fixture.path("m"), fixture.path("run.2.0"), fixture.path("other.2.1")])
        #expect(
            foreign.status == 1 && foreign.stderr.contains("belongs to another run")
                && foreign.stderr.contains("depth: 1000 → 2"), "\(foreign.stderr)")
        #expect(try fixture.run(base + ["--shard", "1/2", "--output", fixture.path("cut.2.1")], killAfter: 1).status == SIGKILL)
        let unfinished = try fixture.run(["merge", "--output", fixture.path("m"), fixture.path("run.2.0"), fixture.path("cut.2.1")])
        #expect(unfinished.status == 1 && unfinished.stderr.contains("is not finished"), "\(unfinished.stderr)")
        // Shards that ran with another batch size still belong to the run: merged, with a note.
        try fixture.succeed(base + ["--shard", "1/2", "--batch-size", "3", "--output", fixture.path("batch3.2.1")])
        let mixed = try fixture.succeed([
            "merge", "--output", fixture.path("mixed.trec"), fixture.path("run.2.0"), fixture.path("batch3.2.1"),
        ])
        #expect(mixed.stderr.contains("different --batch-size"), "\(mixed.stderr)")
        #expect(try fixture.manifest("mixed.trec")?.rounding?["batch_size"] == "mixed")
        let whole = try fixture.run(["merge", "--output", fixture.path("m"), fixture.path("reference.trec")])
        #expect(whole.status == 1 && whole.stderr.contains("made without --shard"), "\(whole.stderr)")
        #expect(!fixture.exists("m"))
    }
}

/// `filter --strategy reranker`: resume after a kill, shards and merge (the global dedupe and
/// top-k happen at merge).
@Suite struct FilterResumeShardTests {
    let model = TestPaths.fixtures.appendingPathComponent("t5-tiny-v11").path

    func inputs(_ fixture: StageFixture) throws -> [String] {
        var rows = ""
        for i in 0..<14 {
            let query = i % 5 == 0 ? "repeated question" : "question \(i) about \(i % 3)"
            rows +=
                #"{"doc_id": "d\#(i)", "text": "text \#(i) about \#(i % 3) and such", "query": "\#(query)", "log_probs": [-1, -1, -1]}"#
                + "\n"
        }
        let input = try fixture.write(rows, "generated.jsonl")
        return [
            "filter", "--input", input, "--strategy", "reranker", "--model", model,
            "--keep-top-k", "6", "--dedupe", "--block-rows", "4", "--threads", "1",
            "--max-length", "32",
        ]
    }

    @Test func aKilledFilterResumesToTheSameBytes() throws {
        let fixture = try StageFixture("filter-resume")
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let base = try inputs(fixture)
        let reference = try fixture.succeed(base + ["--output", fixture.path("reference.jsonl")])
        #expect(reference.stderr.contains("exact duplicate query (--dedupe): 2"), "\(reference.stderr)")
        #expect(try String(contentsOfFile: fixture.path("reference.jsonl"), encoding: .utf8).split(separator: "\n").count == 6)
        let arguments = base + ["--output", fixture.path("out.jsonl")]
        try fixture.killResumeAndCompare(
            arguments, output: "out.jsonl", killAfter: 2, unit: "blocks of --block-rows rows",
            reference: "reference.jsonl")
        let changed = try fixture.run(arguments + ["--keep-top-k", "3"])
        #expect(changed.status == 1 && changed.stderr.contains("keep_top_k: 6 → 3"), "\(changed.stderr)")
    }

    @Test func filterShardsMergeIntoTheUnshardedOutput() throws {
        let fixture = try StageFixture("filter-shards")
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let base = try inputs(fixture)
        try fixture.succeed(base + ["--output", fixture.path("reference.jsonl")])
        for count in 1...3 {
            try fixture.shardAndMerge(count: count, reference: "reference.jsonl", name: "rows") {
                base + ["--shard", $0, "--output", $1]
            }
        }
        let merged = try fixture.succeed([
            "merge", "--output", fixture.path("again.jsonl"), fixture.path("rows.2.0"), fixture.path("rows.2.1"),
        ])
        #expect(merged.stderr.contains("rows read: 14") && merged.stderr.contains("kept: 6"), "\(merged.stderr)")
        let missing = try fixture.run(["merge", "--output", fixture.path("m"), fixture.path("rows.3.1")])
        #expect(missing.status == 1 && missing.stderr.contains("shards 0/3, 2/3 of this run are missing"), "\(missing.stderr)")
    }
}

/// `search` and `triples` over a small index: resume after a kill, refusals, shards and merge.
@Suite struct SearchTriplesResumeShardTests {
    /// A corpus, its index (made by `inpars index`), queries and synthetic-query rows.
    func inputs(_ fixture: StageFixture) throws -> (corpus: String, index: String, queries: String, rows: String) {
        let words = ["fever", "aspirin", "heart", "statin", "blood", "child", "vaccine", "pain"]
        var corpus = ""
        for i in 0..<40 {
            let text = (0..<6).map { words[(i * 7 + $0 * 3) % words.count] }.joined(separator: " ")
            corpus += #"{"_id": "d\#(i)", "title": "T\#(i)", "text": "\#(text) note \#(i)"}"# + "\n"
        }
        let corpusPath = try fixture.write(corpus, "corpus.jsonl")
        try fixture.succeed(["index", "--corpus", corpusPath, "--index", fixture.path("index"), "--threads", "1"])
        let queries = (0..<23).map { "q\($0)\t\(words[$0 % 8]) \(words[($0 * 5 + 1) % 8])" }.joined(separator: "\n") + "\n"
        var rows = ""
        for i in 0..<23 {
            rows += #"{"doc_id": "d\#(i % 40)", "query": "\#(words[i % 8]) \#(words[(i * 3 + 2) % 8])"}"# + "\n"
        }
        return (corpusPath, fixture.path("index"), try fixture.write(queries, "queries.tsv"), try fixture.write(rows, "rows.jsonl"))
    }

    @Test func searchResumesAndShards() throws {
        let fixture = try StageFixture("search-resume")
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let data = try inputs(fixture)
        let base = ["search", "--index", data.index, "--queries", data.queries, "--k", "7", "--threads", "2"]
        try fixture.succeed(base + ["--output", fixture.path("reference.trec")])
        let stdout = try fixture.succeed(base)
        #expect(Data(stdout.stdout.utf8) == (try fixture.bytes("reference.trec")), "a file and stdout differ")
        try fixture.killResumeAndCompare(
            base + ["--output", fixture.path("out.trec")], output: "out.trec", killAfter: 9,
            unit: "queries", reference: "reference.trec")
        // One thread leaves a core (on machines with two or more) for writing and hashing on
        // background queues; two threads take both cores of a two-core machine, and the lines
        // are written and hashed as they are received: both paths resume to the same bytes.
        let oneThread = Array(base.dropLast(2)) + ["--threads", "1"]
        try fixture.killResumeAndCompare(
            oneThread + ["--output", fixture.path("one.trec")], output: "one.trec", killAfter: 14,
            unit: "queries", reference: "reference.trec")
        let changed = try fixture.run(base + ["--output", fixture.path("out.trec"), "--k1", "1.2"])
        #expect(changed.status == 1 && changed.stderr.contains("k1: 0.9 → 1.2"), "\(changed.stderr)")
        for count in 1...3 {
            try fixture.shardAndMerge(count: count, reference: "reference.trec", name: "run") {
                base + ["--shard", $0, "--output", $1]
            }
        }
        let missing = try fixture.run(["merge", "--output", fixture.path("m"), fixture.path("run.3.0"), fixture.path("run.3.1")])
        #expect(missing.status == 1 && missing.stderr.contains("shard 2/3 of this run is missing"), "\(missing.stderr)")
        try fixture.succeed(base + ["--shard", "0/3", "--tag", "other", "--output", fixture.path("other.3.0")])
        let foreign = try fixture.run([
            "merge", "--output", fixture.path("m"), fixture.path("other.3.0"), fixture.path("run.3.1"), fixture.path("run.3.2"),
        ])
        #expect(foreign.status == 1 && foreign.stderr.contains("tag: other → inpars-bm25"), "\(foreign.stderr)")
        let usage = try fixture.run(base + ["--shard", "0/2"])
        #expect(usage.status == 64 && usage.stderr.contains("need --output"), "\(usage.stderr)")
    }

    @Test func triplesResumeAndShardWithTheirIds() throws {
        let fixture = try StageFixture("triples-resume")
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let data = try inputs(fixture)
        let base = [
            "triples", "--input", data.rows, "--index", data.index, "--corpus", data.corpus,
            "--negatives", "2", "--depth", "10", "--threads", "2",
        ]
        try fixture.succeed(base + ["--output", fixture.path("reference.tsv"), "--ids-output", fixture.path("reference.ids")])
        #expect(try String(contentsOfFile: fixture.path("reference.tsv"), encoding: .utf8).split(separator: "\n").count >= 40)
        let arguments = base + ["--output", fixture.path("out.tsv"), "--ids-output", fixture.path("out.ids")]
        try fixture.killResumeAndCompare(
            arguments, output: "out.tsv", killAfter: 7, unit: "rows", reference: "reference.tsv")
        #expect(try fixture.bytes("out.ids") == fixture.bytes("reference.ids"))
        let changed = try fixture.run(arguments + ["--seed", "2"])
        #expect(changed.status == 1 && changed.stderr.contains("seed: 1 → 2"), "\(changed.stderr)")
        for count in 1...3 {
            var shards: [String] = []
            for index in 0..<count {
                let name = "t.\(count).\(index)"
                try fixture.succeed(
                    base + ["--shard", "\(index)/\(count)", "--output", fixture.path(name), "--ids-output", fixture.path(name + ".ids")])
                shards.append(fixture.path(name))
            }
            let noIds = try fixture.run(["merge", "--output", fixture.path("m.\(count)")] + shards)
            #expect(noIds.status == 1 && noIds.stderr.contains("--ids-output"), "\(noIds.stderr)")
            try fixture.succeed(
                ["merge", "--output", fixture.path("m.\(count)"), "--ids-output", fixture.path("m.\(count).ids")] + shards)
            #expect(try fixture.bytes("m.\(count)") == fixture.bytes("reference.tsv"))
            #expect(try fixture.bytes("m.\(count).ids") == fixture.bytes("reference.ids"))
        }
        let missing = try fixture.run(["merge", "--output", fixture.path("m"), "--ids-output", fixture.path("m.ids"), fixture.path("t.2.1")])
        #expect(missing.status == 1 && missing.stderr.contains("shard 0/2 of this run is missing"), "\(missing.stderr)")
    }
}
