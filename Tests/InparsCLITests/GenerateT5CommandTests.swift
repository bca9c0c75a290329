import Foundation
import InparsTestSupport
import Testing

/// `inpars generate --model <T5 folder>` end to end with the built binary.
@Suite struct GenerateT5CommandTests {
    struct Golden: Decodable {
        struct Case: Decodable {
            var prompt: String
            var log_probs: [Double]
            var text: String
            var doc_id: String
            var text_field: String
        }
        struct Model: Decodable { var cli: [Case] }
        struct Document: Decodable {
            var _id: String
            var title: String
            var text: String
        }
        var max_new_tokens: Int
        var max_doc_tokens: Int
        var template: String
        var corpus: [Document]
        var models: [String: Model]
    }

    @Test(arguments: ["t5-tiny", "t5-tiny-v11"])
    func generateWithAT5FolderMatchesTransformers(model: String) throws {
        let golden = try JSONDecoder().decode(
            Golden.self,
            from: Data(
                contentsOf: TestPaths.fixtures.appendingPathComponent(
                    "generation/t5_generate.json")))
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
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
        let output = folder.appendingPathComponent("queries.jsonl")
        let arguments = [
            "generate", "--corpus", corpus.path, "--output", output.path,
            "--model", TestPaths.fixtures.appendingPathComponent(model).path,
            "--prompt", template.path, "--max-doc-tokens", String(golden.max_doc_tokens),
            "--max-new-tokens", String(golden.max_new_tokens), "--batch-size", "2",
            "--max-generations", "3", "--seed", "4",
        ]
        let result = try BuiltProducts.run(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("wrote 3, already done 0, skipped 0"), "\(result.stderr)")

        let rows = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(rows.count == 3)
        let expected = try #require(golden.models[model]).cli
        for row in rows {
            let id = try #require(row["doc_id"] as? String)
            let c = try #require(expected.first { $0.doc_id == id })
            #expect(row["text"] as? String == c.text_field)
            #expect(row["prompt_text"] as? String == c.prompt)
            #expect(
                row["query"] as? String
                    == c.text.trimmingCharacters(in: .whitespacesAndNewlines))
            let logProbs = try #require(row["log_probs"] as? [Double])
            #expect(logProbs.count == c.log_probs.count)
            let worst = zip(logProbs, c.log_probs).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-4, "doc \(id): max |Δ log-prob| \(worst)")
            #expect(row["fewshot_examples"] as? [String] == [])
            #expect(row["model"] as? String == model)
            #expect(row["backend"] as? String == "t5")
            #expect(row["query_index"] as? Int == 0)
        }

        // A rerun resumes (nothing left to do); a smaller prompt limit skips and counts, and a
        // run that skipped most of its prompts fails (issue 16, finding 5).
        let rerun = try BuiltProducts.run(arguments)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("wrote 0, already done 3"), "\(rerun.stderr)")
        let short = try BuiltProducts.run(
            arguments + ["--overwrite", "--max-prompt-tokens", "10"])
        #expect(short.status == 1, "\(short.stderr)")
        #expect(short.stderr.contains("wrote 0, already done 0, skipped 3"), "\(short.stderr)")
        #expect(short.stderr.contains("skipped 3 of 3 generations"), "\(short.stderr)")
        // The limit counts encoder tokens (EOS included) only: generated tokens go to the
        // decoder, so 27 fits prompts of 26–27 tokens despite --max-new-tokens.
        let fits = try BuiltProducts.run(arguments + ["--overwrite", "--max-prompt-tokens", "27"])
        #expect(fits.stderr.contains("wrote 3, already done 0, skipped 0"), "\(fits.stderr)")
    }

    /// Sampling end to end: two queries per document, the same bytes for the same seed whatever
    /// the batch size, other queries for another seed.
    @Test func sampledRunsRepeatAndDoNotDependOnTheBatchSize() throws {
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = folder.appendingPathComponent("corpus.tsv")
        let rows = (0..<5).map {
            "doc\($0)\tdocument number \($0) about proteins and fruit \($0 * 7)"
        }
        try Data((rows.joined(separator: "\n") + "\n").utf8).write(to: corpus)
        let template = folder.appendingPathComponent("template.txt")
        try Data("Document: {document}\nQuery: {query}\n".utf8).write(to: template)
        func run(_ name: String, _ extra: [String]) throws -> String {
            let output = folder.appendingPathComponent(name)
            let result = try BuiltProducts.run(
                [
                    "generate", "--corpus", corpus.path, "--output", output.path, "--model",
                    TestPaths.fixtures.appendingPathComponent("t5-tiny-v11").path, "--prompt",
                    template.path, "--max-new-tokens", "8", "--num-queries-per-doc", "2",
                    "--temperature", "1.2", "--top-k", "50", "--top-p", "0.95",
                ] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            return try String(contentsOf: output, encoding: .utf8)
        }
        func parse(_ text: String) throws -> [[String: Any]] {
            try text.split(separator: "\n").map {
                try #require(
                    try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
        let batched = try parse(try run("a.jsonl", ["--batch-size", "4", "--seed", "3"]))
        let again = try parse(try run("b.jsonl", ["--batch-size", "4", "--seed", "3"]))
        let single = try parse(try run("c.jsonl", ["--batch-size", "1", "--seed", "3"]))
        let reseeded = try parse(try run("d.jsonl", ["--batch-size", "4", "--seed", "4"]))
        #expect(batched.count == 10)
        func queries(_ rows: [[String: Any]]) -> [String] {
            rows.map { "\($0["doc_id"] ?? "")/\($0["query_index"] ?? "")/\($0["query"] ?? "")" }
        }
        // Same seed: same queries; batch shapes change only float rounding of the log-probs.
        #expect(queries(batched) == queries(again))
        #expect(queries(batched) == queries(single))
        for (a, b) in zip(batched, single) {
            let x = a["log_probs"] as? [Double] ?? []
            let y = b["log_probs"] as? [Double] ?? [.nan]
            #expect(x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= 1e-4 })
        }
        #expect(queries(batched) != queries(reseeded))
        let texts = batched.map { $0["query"] as? String ?? "" }
        #expect(Set(texts).count > 5, "\(texts)")
    }

    @Test func aModelThatIsNotAFolderNeedsAnAPIBase() throws {
        let result = try BuiltProducts.run([
            "generate", "--corpus", "c.jsonl", "--output", "o.jsonl", "--model", "no-such-folder",
        ])
        #expect(result.status == 64)
        #expect(
            result.stderr.contains(
                "--api-base is required unless --model is a T5 checkpoint folder"))
    }
}
