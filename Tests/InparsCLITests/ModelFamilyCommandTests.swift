import Foundation
import InparsTestSupport
import Testing

/// `--model DIR` goes through the model registry in every command that loads a model.
@Suite struct ModelFamilyCommandTests {
    /// The commands that would load the model folder `model`.
    static func commands(model: String, in folder: URL) throws -> [[String]] {
        let corpus = folder.appendingPathComponent("corpus.tsv")
        try "d1\tsome text\n".write(to: corpus, atomically: true, encoding: .utf8)
        let queries = folder.appendingPathComponent("queries.tsv")
        try "q1\tsome query\n".write(to: queries, atomically: true, encoding: .utf8)
        let run = folder.appendingPathComponent("run.trec")
        try "q1 Q0 d1 1 2.0 bm25\n".write(to: run, atomically: true, encoding: .utf8)
        let generated = folder.appendingPathComponent("generated.jsonl")
        try #"{"doc_id": "d1", "text": "some text", "query": "some query"}"#.appending("\n")
            .write(to: generated, atomically: true, encoding: .utf8)
        let triples = folder.appendingPathComponent("triples.tsv")
        try "q\tpositive\tnegative\n".write(to: triples, atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("out").path
        return [
            [
                "rerank", "--model", model, "--corpus", corpus.path, "--queries", queries.path,
                "--run", run.path, "--output", out,
            ],
            [
                "filter", "--input", generated.path, "--output", out, "--strategy", "reranker",
                "--model", model,
            ],
            ["generate", "--corpus", corpus.path, "--output", out, "--model", model],
            [
                "train", "--model", model, "--triples", triples.path, "--output", out, "--steps",
                "1",
            ],
        ]
    }

    @Test func anUnknownModelTypeIsOneClearErrorInEveryCommand() throws {
        let folder = try TestPaths.temporaryDirectory("cli-neox")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = folder.appendingPathComponent("tiny-neox")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: false)
        try #"{"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"]}"#.write(
            to: model.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        for arguments in try Self.commands(model: model.path, in: folder) {
            let result = try BuiltProducts.run(arguments)
            let name = arguments[0]
            #expect(result.status == 1, "\(name): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(name): one line, got \(result.stderr)")
            #expect(
                result.stderr.contains("'\(model.path)'") && result.stderr.contains("'gpt_neox'")
                    && result.stderr.contains("supported model_type values: t5, mt5"),
                "\(name): \(result.stderr)")
            #expect(
                !FileManager.default.fileExists(atPath: folder.appendingPathComponent("out").path))
        }
    }

    /// A decoder-only LM generates; rerank, filter's reranker and train refuse it in one line
    /// before reading anything else.
    @Test func aCausalLMFolderIsForGenerateOnly() throws {
        let folder = try TestPaths.temporaryDirectory("cli-causal-lm")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = TestPaths.fixtures.appendingPathComponent("causal-lm/qwen2")
        for arguments in try Self.commands(model: model.path, in: folder)
        where arguments[0] != "generate" {
            let result = try BuiltProducts.run(arguments)
            let name = arguments[0]
            #expect(result.status == 1, "\(name): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(name): \(result.stderr)")
            #expect(
                result.stderr.contains("decoder-only LMs for generate")
                    && result.stderr.contains("model, which cannot"),
                "\(name): \(result.stderr)")
        }
    }

    @Test func aFolderWithoutConfigJSONSaysSo() throws {
        let folder = try TestPaths.temporaryDirectory("cli-no-config")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = folder.appendingPathComponent("weights-only")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: false)
        for arguments in try Self.commands(model: model.path, in: folder) {
            let result = try BuiltProducts.run(arguments)
            #expect(result.status == 1, "\(arguments[0]): \(result.stderr)")
            #expect(
                result.stderr.contains(
                    "no config.json at '\(model.appendingPathComponent("config.json").path)'"),
                "\(arguments[0]): \(result.stderr)")
        }
    }
}
