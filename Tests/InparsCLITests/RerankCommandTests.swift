import Foundation
import InparsCore
import InparsRanker
import InparsTensor
import InparsTestSupport
import Testing

@testable import inpars

/// `inpars rerank` end to end on the tiny v1.1 fixture model.
@Suite struct RerankCommandTests {
    let model = TestPaths.fixtures.appendingPathComponent("t5-tiny-v11").path

    func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func rerankWritesASixColumnRunAndCountsUnknownIDs() throws {
        let folder = try TestPaths.temporaryDirectory("rerank-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = try write(
            """
            {"_id": "d1", "title": "", "text": "Paris is the capital and largest city of France."}
            {"_id": "d2", "title": "", "text": "The quick brown fox jumps over the lazy dog."}
            {"_id": "d3", "title": "Bees", "text": "Honey bees live in hives."}

            """, "corpus.jsonl", in: folder)
        let queries = try write("q1\twhat is the capital of france\n", "queries.tsv", in: folder)
        let run = try write(
            """
            q1 Q0 d2 1 9.5 bm25
            q1 Q0 missing 2 9.0 bm25
            q1 Q0 d1 3 8.5 bm25
            q1 Q0 d3 4 8.0 bm25
            q9 Q0 d1 1 3.0 bm25

            """, "run.trec", in: folder)
        let output = folder.appendingPathComponent("out.trec").path
        let result = try BuiltProducts.run([
            "rerank", "--model", model, "--corpus", corpus, "--queries", queries, "--run", run,
            "--output", output, "--top-k", "2", "--threads", "1", "--batch-size", "2",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr.contains("1 unknown queries")
                && result.stderr.contains("1 entries with unknown documents"))
        #expect(result.stderr.contains("pairs scored"))
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        let rows = lines.map { $0.split(separator: " ", omittingEmptySubsequences: false) }
        #expect(
            rows.allSatisfy { $0.count == 6 && $0[0] == "q1" && $0[1] == "Q0" && $0[5] == "monoT5" }
        )
        #expect(rows.map { $0[3] } == ["1", "2", "3"])
        // Golden HF scores of (q1, d1) and (q1, d2) from the fixture decide the order.
        let golden = try MonoT5GoldenScores.load()
        let order = ["d1", "d2"].sorted { golden[$0]! > golden[$1]! }
        #expect(rows.prefix(2).map { String($0[2]) } == order)
        for row in rows.prefix(2) {
            let score = try #require(Float(String(row[4])))
            let want = try #require(golden[String(row[2])])
            #expect(abs(score - want) <= 1e-4, "\(row[2]): \(score) vs \(want)")
        }
        #expect(rows[2][2] == "d3")  // below the top-2, kept beneath
        #expect(Float(String(rows[2][4]))! < Float(String(rows[1][4]))!)
    }

    /// `rerank --precision PRECISION` of the Paris inputs: the process's result, after checking
    /// that it succeeded and that both scores are within `tolerance` of the transformers
    /// goldens; `output` is the run's path.
    func rerankParis(
        at precision: String, tolerance: Float, environment: [String: String]? = nil
    ) throws -> (result: BuiltProducts.Result, output: String) {
        let folder = try TestPaths.temporaryDirectory("rerank-\(precision)")
        let inputs = try ParisRerankInputs(in: folder)
        let output = folder.appendingPathComponent("out.trec").path
        let result = try BuiltProducts.run(
            inputs.arguments(model: model, output: output, ["--precision", precision, "--threads", "1"]),
            environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: " ") }
        #expect(rows.count == 2)
        let golden = try MonoT5GoldenScores.load()
        for row in rows {
            let score = try #require(Float(String(row[4])))
            #expect(abs(score - golden[String(row[2])]!) <= tolerance, "\(row[2]): \(score)")
        }
        return (result, output)
    }

    /// `--precision int8` end to end: the process sets libgomp's spin count and executes itself
    /// again before it loads the model (``NumericsEnvironment``), then scores within the fixture's
    /// int8 bound of the transformers goldens (`PrecisionFidelityTests`: max |Δ| ≤ 1.5).
    @Test func rerankAtInt8() throws {
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "GOMP_SPINCOUNT")
        environment.removeValue(forKey: "OMP_WAIT_POLICY")
        let (_, output) = try rerankParis(at: "int8", tolerance: 1.5, environment: environment)
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: output).deletingLastPathComponent()) }
        let manifest = try #require(
            try OutputManifest.read(OutputManifest.url(for: URL(fileURLWithPath: output))))
        #expect(manifest.settings["precision"] == "int8")
    }

    /// `--precision bf16` on a CPU without native bf16 says on stderr that it is emulated and
    /// slow, and names int8; with native bf16 it says nothing of the kind. Either way it
    /// scores within the fixture's bf16 bound of the goldens (`PrecisionFidelityTests`).
    @Test(.enabled(if: DNNLInfo.supports(.bf16)))
    func rerankAtBFloat16SaysWhenItIsEmulated() throws {
        let (result, output) = try rerankParis(at: "bf16", tolerance: 0.6)
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: output).deletingLastPathComponent()) }
        let said = result.stderr.contains("no native bf16") && result.stderr.contains("--precision int8")
        #expect(said == !DNNLInfo.hasNativeBF16, "\(result.stderr)")
    }

    @Test func aMalformedRunLineReportsItsLineNumber() throws {
        let folder = try TestPaths.temporaryDirectory("rerank-cli-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = try write("d1\tsome text\n", "corpus.tsv", in: folder)
        let queries = try write("q1\tquery\n", "queries.tsv", in: folder)
        let run = try write("q1 Q0 d1 1 2.0 bm25\nq1 Q0 d1 two 1.0 bm25\n", "run.trec", in: folder)
        let result = try BuiltProducts.run([
            "rerank", "--model", model, "--corpus", corpus, "--queries", queries, "--run", run,
            "--output", folder.appendingPathComponent("out.trec").path,
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("line 2") && result.stderr.contains("rank"), "\(result.stderr)")
        #expect(
            !FileManager.default.fileExists(atPath: folder.appendingPathComponent("out.trec").path))
    }

    @Test func aFolderOfAnotherFamilyFailsWithAClearMessage() throws {
        let folder = try TestPaths.temporaryDirectory("rerank-cli-wav2vec2")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try write(#"{"model_type": "wav2vec2"}"#, "config.json", in: folder)
        let result = try BuiltProducts.run([
            "rerank", "--model", folder.path, "--corpus", "c", "--queries", "q", "--run", "r",
            "--output", folder.appendingPathComponent("out.trec").path,
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("'wav2vec2'") && result.stderr.contains("not T5"), "\(result.stderr)"
        )
    }

    @Test func optionsParse() throws {
        let command = try RerankCommand.parse([
            "--model", "m", "--corpus", "c", "--queries", "q", "--run", "r", "--output", "o",
            "--labels", "yes-no", "--max-length", "256",
        ])
        #expect(
            command.rerankDepth == 1000 && command.model.scoring.maxLength == 256
                && command.model.scoring.labels == .yesNo)
        #expect(throws: (any Error).self) {
            try RerankCommand.parse([
                "--model", "m", "--corpus", "c", "--queries", "q", "--run", "r", "--output", "o",
                "--top-k", "0",
            ])
        }
    }
}

extension RerankCommandTests {
    /// `--depth` is the flag; `--top-k` (its old name) still works and is hidden from the help.
    @Test func depthAndItsOldSpelling() throws {
        let base = ["--model", "m", "--corpus", "c", "--queries", "q", "--run", "r", "--output", "o"]
        #expect(try RerankCommand.parse(base + ["--depth", "5"]).rerankDepth == 5)
        #expect(try RerankCommand.parse(base + ["--top-k", "7"]).rerankDepth == 7)
        #expect(throws: (any Error).self) { try RerankCommand.parse(base + ["--depth", "0"]) }
        let help = Inpars.helpMessage(for: RerankCommand.self)
        #expect(help.contains("--depth <depth>") && !help.contains("--top-k <"))
    }
}

/// (q = "what is the capital of france") document scores from the t5-tiny-v11 golden file,
/// keyed d1 (Paris) and d2 (fox).
enum MonoT5GoldenScores {
    static func load() throws -> [String: Float] {
        let url = TestPaths.fixtures.appendingPathComponent("t5-tiny-v11/golden.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let cases = (object["monot5"] as! [String: Any])["cases"] as! [[String: Any]]
        var scores: [String: Float] = [:]
        for item in cases where item["query"] as? String == "what is the capital of france" {
            let document = item["document"] as! String
            let key = document.hasPrefix("Paris") ? "d1" : "d2"
            scores[key] = Float(item["score_true_false"] as! Double)
        }
        return scores
    }
}

/// `inpars rerank --model <cross-encoder folder>`: the registry picks the cross-encoder, and the
/// run holds transformers' scores and order (fixture `cross-encoders/bert-1`, at max length 24,
/// so most documents are cut).
@Suite struct CrossEncoderRerankCommandTests {
    struct Golden: Decodable {
        struct Pair: Decodable {
            var query: String
            var document: String
        }
        struct Batch: Decodable {
            var max_length: Int
            var scores: [Float]
            var truncated: [Bool]
        }
        var pairs: [Pair]
        var batches: [Batch]
    }

    @Test func rerankWithABertFolderGivesTransformersScoresAndOrder() throws {
        let model = TestPaths.fixtures.appendingPathComponent("cross-encoders/bert-1")
        let golden = try JSONDecoder().decode(
            Golden.self, from: Data(contentsOf: model.appendingPathComponent("golden.json")))
        let batch = try #require(golden.batches.first { $0.max_length == 24 })
        let folder = try TestPaths.temporaryDirectory("rerank-cross-encoder")
        defer { try? FileManager.default.removeItem(at: folder) }
        // One query id per distinct query text, one document per pair.
        var queryIDs = [String: String]()
        for pair in golden.pairs where queryIDs[pair.query] == nil {
            queryIDs[pair.query] = "q\(queryIDs.count)"
        }
        let queries = queryIDs.sorted { $0.value < $1.value }.map { "\($0.value)\t\($0.key)\n" }
        let corpus = golden.pairs.indices.map { "d\($0)\t\(golden.pairs[$0].document)\n" }
        let run = golden.pairs.indices.map { "\(queryIDs[golden.pairs[$0].query]!) Q0 d\($0) 1 1.0 bm25\n" }
        let paths = try [("queries.tsv", queries), ("corpus.tsv", corpus), ("run.trec", run)].map {
            let url = folder.appendingPathComponent($0.0)
            try $0.1.joined().write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let output = folder.appendingPathComponent("out.trec").path
        let result = try BuiltProducts.run([
            "rerank", "--model", model.path, "--queries", paths[0], "--corpus", paths[1],
            "--run", paths[2], "--output", output, "--max-length", "24", "--threads", "1",
            "--batch-size", "3",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: " ").map(String.init) }
        #expect(rows.count == golden.pairs.count)
        #expect(rows.allSatisfy { $0.count == 6 && $0[5] == "cross-encoder" })
        for row in rows {
            let index = try #require(Int(row[2].dropFirst()))
            let score = try #require(Float(row[4]))
            #expect(abs(score - batch.scores[index]) <= 1e-4, "\(row[2]): \(score) vs \(batch.scores[index])")
        }
        // Within each query, documents in descending golden score.
        for (_, id) in queryIDs {
            let ranked = rows.filter { $0[0] == id }.map { Int($0[2].dropFirst())! }
            #expect(ranked == ranked.sorted { batch.scores[$0] > batch.scores[$1] })
            #expect(rows.filter { $0[0] == id }.map { $0[3] } == ranked.indices.map { String($0 + 1) })
        }
        let truncated = batch.truncated.filter { $0 }.count
        #expect(
            result.stderr.contains("\(truncated) documents truncated to --max-length"),
            "\(result.stderr)")
    }
}

/// `rerank --segment-length/--segment-stride` through the binary: a long document's score is
/// its best passage's (each passage scored by the same model in-process).
@Suite struct MaxPRerankCommandTests {
    @Test func aLongDocumentTakesItsBestPassagesScore() throws {
        let model = TestPaths.fixtures.appendingPathComponent("cross-encoders/bert-1")
        let folder = try TestPaths.temporaryDirectory("rerank-maxp")
        defer { try? FileManager.default.removeItem(at: folder) }
        let long = (0..<60).map { ["protein", "folding", "is", "a", "process", "of", "cells"][$0 % 7] }
            .joined(separator: " ") + " paris is the capital of france"
        let files = [
            ("queries.tsv", "q1\twhat is the capital of france\n"),
            ("corpus.tsv", "long\t\(long)\nshort\tParis is a city.\n"),
            ("run.trec", "q1 Q0 long 1 2.0 bm25\nq1 Q0 short 2 1.0 bm25\n"),
        ]
        for (name, text) in files {
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let output = folder.appendingPathComponent("out.trec")
        let result = try BuiltProducts.run([
            "rerank", "--model", model.path, "--queries", folder.appendingPathComponent("queries.tsv").path,
            "--corpus", folder.appendingPathComponent("corpus.tsv").path,
            "--run", folder.appendingPathComponent("run.trec").path, "--output", output.path,
            "--segment-length", "20", "--segment-stride", "10", "--threads", "1",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("MaxP over 20-word passages every 10 words"), "\(result.stderr)")
        let rows = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: " ").map(String.init) }
        let scores = Dictionary(uniqueKeysWithValues: rows.map { ($0[2], Float($0[4])!) })
        // The expected value: every passage scored by the library, the best one kept.
        let scorer = try RelevanceScorers.load(directory: model)
        let passages = try Segmentation(length: 20, stride: 10).passages(long)
        #expect(passages.count == 6)
        let best = try scorer.score(
            passages.map { ScoringPair(query: "what is the capital of france", document: $0) },
            progress: nil
        ).scores.max()!
        #expect(abs(scores["long"]! - best) <= 1e-5, "\(scores["long"]!) vs \(best)")
        let short = try scorer.score(
            [ScoringPair(query: "what is the capital of france", document: "Paris is a city.")],
            progress: nil
        ).scores[0]
        #expect(abs(scores["short"]! - short) <= 1e-5)
    }
}
