import Foundation
import InparsBM25
import InparsCore
import InparsTestSupport
import Testing

@testable import inpars

/// `inpars filter` end to end through the built binary.
@Suite struct FilterCommandTests {
    func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func scoresStrategyWithCopyAndDedupeRulesOnMixedFieldNames() throws {
        let folder = try TestPaths.temporaryDirectory("filter-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lines = [
            // kept, mean -0.5
            #"{"doc_id": "d1", "text": "Aspirin lowers fever.", "query": "does aspirin help", "log_probs": [-0.5, -0.5, -0.5], "prompt_text": "p", "fewshot_examples": [], "model": "m", "backend": "http"}"#,
            // copied (v1 names, different case)
            #"{"doc_id": "d2", "doc_text": "Statins In The Elderly", "question": "statins in the elderly", "log_probs": [-0.1, -0.1, -0.1]}"#,
            // duplicate of the first after normalisation, worse score
            #"{"doc_id": "d3", "text": "x", "query": "Does  aspirin help", "log_probs": [-1, -1, -1]}"#,
            // too short
            #"{"doc_id": "d4", "text": "x", "query": "short", "log_probs": [-0.01, -0.01]}"#,
            // kept, mean -0.2 (v1 names)
            #"{"doc_id": 5, "doc_text": "y", "question": "what lowers cholesterol", "log_probs": [-0.2, -0.2, -0.2]}"#,
            // below top-2, mean -2
            #"{"doc_id": "d6", "text": "z", "query": "a worse query", "log_probs": [-2, -2, -2]}"#,
        ]
        let input = try write(lines.joined(separator: "\n") + "\n", "queries.jsonl", in: folder)
        let output = folder.appendingPathComponent("filtered.jsonl").path
        let result = try BuiltProducts.run([
            "filter", "--input", input, "--output", output, "--strategy", "scores",
            "--keep-top-k", "2", "--skip-copied", "--dedupe",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        let written = try String(contentsOfFile: output, encoding: .utf8)
        #expect(
            written == """
                {"doc_id": 5, "doc_text": "y", "question": "what lowers cholesterol", "log_probs": [-0.2, -0.2, -0.2], "score": -0.20000000000000004}
                {"doc_id": "d1", "text": "Aspirin lowers fever.", "query": "does aspirin help", "log_probs": [-0.5, -0.5, -0.5], "prompt_text": "p", "fewshot_examples": [], "model": "m", "backend": "http", "score": -0.5}

                """)
        for needle in [
            "rows read: 6", "fewer tokens than --min-tokens: 1",
            "copied from the document (--skip-copied): 1",
            "case/whitespace duplicate query (--dedupe): 1", "below --keep-top-k: 1", "kept: 2",
        ] {
            #expect(result.stderr.contains(needle), "missing '\(needle)' in \(result.stderr)")
        }
    }

    @Test func rerankerStrategyUsesMonoT5LogPTrue() throws {
        let folder = try TestPaths.temporaryDirectory("filter-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = TestPaths.fixtures.appendingPathComponent("t5-tiny-v11").path
        let lines = [
            #"{"doc_id": "d2", "text": "The quick brown fox jumps over the lazy dog.", "query": "what is the capital of france", "log_probs": [-1]}"#,
            #"{"doc_id": "d1", "text": "Paris is the capital and largest city of France.", "query": "what is the capital of france"}"#,
        ]
        let input = try write(lines.joined(separator: "\n") + "\n", "queries.jsonl", in: folder)
        let output = folder.appendingPathComponent("filtered.jsonl").path
        let result = try BuiltProducts.run([
            "filter", "--input", input, "--output", output, "--strategy", "reranker",
            "--model", model, "--min-tokens", "0", "--threads", "1",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let golden = try MonoT5GoldenScores.load()
        let rows = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(rows.count == 2)
        let order = ["d1", "d2"].sorted { golden[$0]! > golden[$1]! }
        #expect(rows.map { $0["doc_id"] as! String } == order)
        for row in rows {
            let id = row["doc_id"] as! String
            let score = Float(row["score"] as! Double)
            #expect(abs(score - golden[id]!) <= 1e-4, "\(id): \(score) vs \(golden[id]!)")
        }
    }

    @Test func badInputGivesAClearMessageNotACrash() throws {
        let folder = try TestPaths.temporaryDirectory("filter-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.jsonl").path
        let cases: [(String, [String])] = [
            ("", ["No rows in", "empty.jsonl"]),
            (
                #"{"doc_id": "d1", "query": "q", "log_probs": [-1, "x", -1]}"# + "\n",
                ["line 1", "field 'log_probs[1]'", "--skip-bad-lines"]
            ),
            (#"{"doc_id": "d1", "log_probs": [-1, -1, -1]}"# + "\n", ["line 1", "field 'query'"]),
            (#"{"query": "q", "log_probs": [-1, -1, -1]}"# + "\n", ["line 1", "field 'doc_id'"]),
        ]
        for (i, (text, needles)) in cases.enumerated() {
            let input = try write(text, i == 0 ? "empty.jsonl" : "bad\(i).jsonl", in: folder)
            let result = try BuiltProducts.run([
                "filter", "--input", input, "--output", output, "--strategy", "scores",
            ])
            #expect(result.status == 1, "case \(i): \(result.stderr)")
            for needle in needles {
                #expect(
                    result.stderr.contains(needle), "case \(i): '\(needle)' not in \(result.stderr)"
                )
            }
            #expect(!result.stderr.contains("Fatal error"))
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        // With --skip-bad-lines the bad row is counted and the good one kept.
        let mixed = try write(
            #"{"doc_id": "d1", "query": "q", "log_probs": [-1, "x", -1]}"# + "\n"
                + #"{"doc_id": "d2", "query": "good query", "log_probs": [-1, -1, -1]}"# + "\n",
            "mixed.jsonl", in: folder)
        let result = try BuiltProducts.run([
            "filter", "--input", mixed, "--output", output, "--strategy", "scores",
            "--skip-bad-lines",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("malformed lines skipped: 1"))
        #expect(
            try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").count == 1)
    }

    @Test func consistencyWithoutAnIndexIsAUsageError() throws {
        #expect(throws: (any Error).self) {
            _ = try Inpars.parseAsRoot([
                "filter", "--input", "a", "--output", "b", "--strategy", "consistency",
            ])
        }
    }
}

/// `inpars filter --strategy consistency` over a BM25 index built in the test.
@Suite struct FilterConsistencyCommandTests {
    @Test func keepsQueriesWhoseSourceRanksWithinTheDepth() throws {
        let folder = try TestPaths.temporaryDirectory("filter-consistency-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let builder = BM25IndexBuilder()
        let texts = [
            "aspirin lowers fever in adults", "statins reduce heart attacks",
            "fever and chills after vaccination", "aspirin and fever in children",
            "the heart pumps blood",
        ]
        for (i, text) in texts.enumerated() { builder.add(Document(id: "d\(i)", text: text)) }
        let index = folder.appendingPathComponent("index")
        _ = try builder.write(to: index)
        // Source ranks: d1 first, d4 second (d1 has both words), d2 first.
        let rows = [
            #"{"doc_id": "d1", "query": "statins heart attacks", "log_probs": [-1, -1, -1]}"#,
            #"{"doc_id": "d4", "query": "heart attacks", "log_probs": [-0.5, -0.5, -0.5]}"#,
            #"{"doc_id": "d2", "query": "vaccination chills", "log_probs": [-2, -2, -2]}"#,
        ]
        let input = folder.appendingPathComponent("q.jsonl")
        try (rows.joined(separator: "\n") + "\n").write(
            to: input, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("out.jsonl").path
        let result = try BuiltProducts.run([
            "filter", "--input", input.path, "--output", output, "--strategy", "consistency",
            "--index", index.path, "--consistency-depth", "1", "--threads", "2",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let kept = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(kept.count == 2)
        #expect(kept.first?.contains(#""doc_id": "d1""#) == true)
        #expect(kept.last?.contains(#""doc_id": "d2""#) == true)
        #expect(result.stderr.contains("source document not in the consistency top-k: 1"))
    }
}

/// `filter --strategy reranker` with a cross-encoder folder (`cross-encoders/bert-2`: 2 labels,
/// `pytorch_model.bin`): rows ranked by transformers' log-softmax of the relevant label.
@Suite struct CrossEncoderFilterCommandTests {
    @Test func rerankerStrategyTakesACrossEncoderFolder() throws {
        let folder = try TestPaths.temporaryDirectory("filter-cross-encoder")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = TestPaths.fixtures.appendingPathComponent("cross-encoders/bert-2")
        let golden = try JSONDecoder().decode(
            CrossEncoderRerankCommandTests.Golden.self,
            from: Data(contentsOf: model.appendingPathComponent("golden.json")))
        let batch = try #require(golden.batches.last)  // the model's own limit: nothing cut here
        let lines = [0, 2].map { index in
            let pair = golden.pairs[index]
            let row: [String: Any] = ["doc_id": "d\(index)", "text": pair.document, "query": pair.query]
            return String(
                data: try! JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]),
                encoding: .utf8)!
        }
        let input = folder.appendingPathComponent("queries.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("filtered.jsonl").path
        let result = try BuiltProducts.run([
            "filter", "--input", input.path, "--output", output, "--strategy", "reranker",
            "--model", model.path, "--min-tokens", "0", "--threads", "1",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let expected = [0, 2].sorted { batch.scores[$0] > batch.scores[$1] }
        #expect(rows.map { $0["doc_id"] as! String } == expected.map { "d\($0)" })
        for (row, index) in zip(rows, expected) {
            let score = Float(row["score"] as! Double)
            #expect(abs(score - batch.scores[index]) <= 1e-4, "d\(index): \(score)")
        }
    }
}
