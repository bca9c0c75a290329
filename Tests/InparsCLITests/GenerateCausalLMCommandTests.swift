import Foundation
import InparsTestSupport
import Testing

/// `inpars generate --model <Llama/Mistral/Qwen folder>` end to end with the built binary,
/// against `Tests/Fixtures/causal-lm/<name>/golden.json` (transformers' greedy continuation of
/// each prompt, cut as inpars cuts it).
@Suite struct GenerateCausalLMCommandTests {
    struct Golden: Decodable {
        struct Case: Decodable {
            var doc_id: String
            var text_field: String
            var prompt: String
            var log_probs: [Double]
            var generated: String
        }
        struct Document: Decodable {
            var _id: String
            var title: String
            var text: String
        }
        var cli_max_new_tokens: Int
        var cli_max_doc_tokens: Int
        var template: String
        var corpus: [Document]
        var cli: [Case]
    }

    static func golden(_ name: String) throws -> Golden {
        try JSONDecoder().decode(
            Golden.self,
            from: Data(
                contentsOf: TestPaths.fixtures.appendingPathComponent(
                    "causal-lm/\(name)/golden.json")))
    }

    /// Writes the golden corpus and template into `folder`; returns the arguments of a run.
    static func arguments(_ golden: Golden, model: String, folder: URL, output: String)
        throws -> [String]
    {
        let corpus = folder.appendingPathComponent("corpus.jsonl")
        let lines = try golden.corpus.map {
            String(
                decoding: try JSONEncoder().encode([
                    "_id": $0._id, "title": $0.title, "text": $0.text,
                ]), as: UTF8.self)
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: corpus)
        let template = folder.appendingPathComponent("template.txt")
        try Data(golden.template.utf8).write(to: template)
        return [
            "generate", "--corpus", corpus.path,
            "--output", folder.appendingPathComponent(output).path,
            "--model", TestPaths.fixtures.appendingPathComponent("causal-lm/\(model)").path,
            "--prompt", template.path, "--max-doc-tokens", String(golden.cli_max_doc_tokens),
            "--max-new-tokens", String(golden.cli_max_new_tokens), "--seed", "4",
        ]
    }

    static func rows(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test(arguments: ["llama3", "llama2", "mistral", "qwen2", "qwen3"])
    func rowsEqualTransformersGreedyContinuation(model: String) throws {
        let golden = try Self.golden(model)
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments =
            try Self.arguments(golden, model: model, folder: folder, output: "queries.jsonl")
            + ["--batch-size", "2"]
        let result = try BuiltProducts.run(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("wrote 5, already done 0, skipped 0"), "\(result.stderr)")
        let rows = try Self.rows(folder.appendingPathComponent("queries.jsonl"))
        #expect(rows.count == 5)
        for row in rows {
            let id = try #require(row["doc_id"] as? String)
            let c = try #require(golden.cli.first { $0.doc_id == id })
            #expect(row["text"] as? String == c.text_field)
            #expect(row["prompt_text"] as? String == c.prompt)
            #expect(
                row["query"] as? String
                    == c.generated.trimmingCharacters(in: .whitespacesAndNewlines),
                "\(model) \(id)")
            let logProbs = try #require(row["log_probs"] as? [Double])
            #expect(logProbs.count == c.log_probs.count, "\(model) \(id)")
            let worst = zip(logProbs, c.log_probs).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-4, "\(model) doc \(id): max |Δ log-prob| \(worst)")
            #expect(row["model"] as? String == model)
            #expect(row["backend"] as? String == "local")
            #expect(row["query_index"] as? Int == 0)
        }
    }

    /// `--precision int8` end to end: rows marked `local-int8`, per-token log-probs within the
    /// int8 fixture bound of transformers' fp32 continuation where the query is the same
    /// (`CausalLMPrecisionTests`: 0.9), and a resume at fp32 refused (the manifest names the
    /// backend).
    @Test func generateAtInt8AndRefuseAResumeAtAnotherPrecision() throws {
        let golden = try Self.golden("qwen2")
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = try Self.arguments(golden, model: "qwen2", folder: folder, output: "q.jsonl")
        let result = try BuiltProducts.run(arguments + ["--precision", "int8", "--batch-size", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try Self.rows(folder.appendingPathComponent("q.jsonl"))
        #expect(rows.count == 5)
        for row in rows {
            #expect(row["backend"] as? String == "local-int8")
            let c = try #require(golden.cli.first { $0.doc_id == row["doc_id"] as? String })
            #expect(row["prompt_text"] as? String == c.prompt)
            let logProbs = try #require(row["log_probs"] as? [Double])
            #expect(logProbs.allSatisfy { $0.isFinite && $0 <= 0 })
            // Where the query is fp32's (int8 flips the tiny model's near-ties, so not always;
            // `CausalLMPrecisionTests` bounds the share), its log-probs are within the bound.
            guard row["query"] as? String == c.generated.trimmingCharacters(in: .whitespacesAndNewlines)
            else { continue }
            let worst = zip(logProbs, c.log_probs).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 0.9, "doc \(c.doc_id): max |Δ log-prob| \(worst)")
        }
        let resumed = try BuiltProducts.run(arguments)
        #expect(resumed.status != 0)
        #expect(resumed.stderr.contains("backend: local-int8 → local"), "\(resumed.stderr)")
    }

    /// Batch size 1 and 8 (continuous batching with documents joining) give the same rows;
    /// the shared prefix is used either way and the goldens were made without one.
    @Test func batchSizeOneAndEightGiveTheSameRows() throws {
        let golden = try Self.golden("llama3")
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var outputs: [[[String: Any]]] = []
        for size in [1, 8] {
            let arguments = try Self.arguments(
                golden, model: "llama3", folder: folder, output: "b\(size).jsonl")
            let result = try BuiltProducts.run(arguments + ["--batch-size", String(size)])
            #expect(result.status == 0, "\(result.stderr)")
            outputs.append(try Self.rows(folder.appendingPathComponent("b\(size).jsonl")))
        }
        #expect(outputs[0].count == 5 && outputs[1].count == 5)
        // filter reads the rows: the top 2 by mean log-prob, each with its score.
        let filtered = folder.appendingPathComponent("filtered.jsonl")
        let filter = try BuiltProducts.run([
            "filter", "--input", folder.appendingPathComponent("b8.jsonl").path, "--output",
            filtered.path, "--strategy", "scores", "--keep", "2", "--min-tokens", "1",
        ])
        #expect(filter.status == 0, "\(filter.stderr)")
        let kept = try Self.rows(filtered)
        let means = outputs[1].map { row -> (String, Double) in
            let values = row["log_probs"] as? [Double] ?? []
            return (row["doc_id"] as? String ?? "", values.reduce(0, +) / Double(max(values.count, 1)))
        }.sorted { $0.1 > $1.1 }
        #expect(kept.map { $0["doc_id"] as? String ?? "" } == means.prefix(2).map(\.0))
        for (row, mean) in zip(kept, means) {
            #expect(abs((row["score"] as? Double ?? .nan) - mean.1) <= 1e-9)
            #expect(row["backend"] as? String == "local")
        }
        for (a, b) in zip(outputs[0], outputs[1]) {
            #expect(a["doc_id"] as? String == b["doc_id"] as? String)
            #expect(a["query"] as? String == b["query"] as? String)
            let x = a["log_probs"] as? [Double] ?? []
            let y = b["log_probs"] as? [Double] ?? [.nan]
            #expect(x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= 1e-5 })
        }
    }

    /// The fixture's context is 512 positions: a limit above it cannot be honoured, the
    /// default limit skips and counts prompts that do not fit.
    @Test func promptsLongerThanTheContextAreSkippedAndCounted() throws {
        let golden = try Self.golden("qwen2")
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var arguments = try Self.arguments(
            golden, model: "qwen2", folder: folder, output: "long.jsonl")
        let index = try #require(arguments.firstIndex(of: "--max-new-tokens"))
        arguments[index + 1] = "500"
        let result = try BuiltProducts.run(arguments)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("skipped 5"), "\(result.stderr)")
    }
}
