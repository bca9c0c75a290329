import Foundation
import InparsGeneration
import InparsModels
import InparsTestSupport
import InparsTokenizers
import Testing

@Suite struct CausalLMBackendTests {
    static func fixture(_ name: String) -> URL {
        TestPaths.fixtures.appendingPathComponent("causal-lm/\(name)")
    }

    struct Golden: Decodable {
        struct Case: Decodable {
            var prompt: String
            var prompt_ids: [Int32]
            var log_probs: [Double]
            var generated: String
        }
        var cli_max_new_tokens: Int
        var cli: [Case]
    }

    static func golden(_ name: String) throws -> Golden {
        try JSONDecoder().decode(
            Golden.self, from: Data(contentsOf: fixture(name).appendingPathComponent("golden.json")))
    }

    /// The shared-prefix path (the few-shot part computed once, forked per prompt) and the
    /// plain path (every prompt prefilled whole) give the same rows, and both are
    /// transformers' greedy continuation.
    @Test(arguments: ["llama3", "qwen3"])
    func sharedPrefixAndPlainPathGiveTheSameRows(name: String) async throws {
        let golden = try Self.golden(name)
        let model = try CausalLM.load(directory: Self.fixture(name))
        let requests = golden.cli.map {
            GenerationRequest(prompt: $0.prompt, maxNewTokens: golden.cli_max_new_tokens)
        }
        var rows: [[GenerationOutput]] = []
        var prefixLengths: [Int?] = []
        for shares in [true, false] {
            let backend = try CausalLMBackend(
                model: model, tokenizer: try TokenizerLoader.load(directory: Self.fixture(name)),
                modelName: "m", batchSize: 2, sharesPrefix: shares)
            rows.append(try await backend.generate(requests))
            prefixLengths.append(backend.sharedPrefixLength)
        }
        // The template's few-shot part is ~30 tokens; the first document starts after it.
        let common = golden.cli.map(\.prompt_ids).reduce(golden.cli[0].prompt_ids) { a, b in
            Array(zip(a, b).prefix { $0 == $1 }.map(\.0))
        }
        #expect(prefixLengths[0] == common.count && common.count > 20)
        #expect(prefixLengths[1] == nil)
        for (shared, plain) in zip(rows[0], rows[1]) {
            #expect(shared.text == plain.text && shared.tokens == plain.tokens)
            #expect(zip(shared.logProbs, plain.logProbs).allSatisfy { abs($0 - $1) <= 1e-5 })
        }
        for (row, c) in zip(rows[0], golden.cli) {
            #expect(row.text == c.generated)
            #expect(row.logProbs.count == c.log_probs.count)
            #expect(zip(row.logProbs, c.log_probs).allSatisfy { abs($0 - $1) <= 1e-4 })
        }
    }
}

/// Folders the in-process generator must refuse with a message naming what to fix.
@Suite final class CausalLMBadInputTests {
    /// The temporary folders this test made, removed when it ends.
    private var folders: [URL] = []

    deinit { for folder in folders { try? FileManager.default.removeItem(at: folder) } }

    /// A copy of fixture `name` in a temporary folder, with `edit` applied.
    func copy(_ name: String, _ edit: (URL) throws -> Void) throws -> URL {
        let folder = try TestPaths.temporaryDirectory("causal-lm-bad")
        folders.append(folder)
        let target = folder.appendingPathComponent(name)
        try FileManager.default.copyItem(at: CausalLMBackendTests.fixture(name), to: target)
        try edit(target)
        return target
    }

    func editConfig(_ folder: URL, _ change: (inout [String: Any]) -> Void) throws {
        let url = folder.appendingPathComponent("config.json")
        var object = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "no error"
        } catch {
            return (error as? LocalizedError)?.errorDescription ?? "\(error)"
        }
    }

    @Test func anUnsupportedModelTypeListsTheSupportedOnes() throws {
        let folder = try copy("llama3") { try editConfig($0) { $0["model_type"] = "gpt_neox" } }
        let text = message { try InProcessGeneration.load(directory: folder, batchSize: 2) }
        #expect(text.contains("'gpt_neox'") && text.contains("llama, mistral, qwen2, qwen3"), "\(text)")
    }

    @Test func anUnsupportedRopeTypeIsRefusedNotIgnored() throws {
        let folder = try copy("llama3") {
            try editConfig($0) {
                $0["rope_scaling"] = ["rope_type": "yarn", "factor": 4.0]
            }
        }
        let text = message { try InProcessGeneration.load(directory: folder, batchSize: 2) }
        #expect(text.contains("rope_scaling.rope_type yarn is not supported"), "\(text)")
        #expect(text.contains("config.json"))
    }

    @Test func aMissingTokenizerIsNamed() throws {
        let folder = try copy("qwen2") {
            try FileManager.default.removeItem(at: $0.appendingPathComponent("tokenizer.json"))
            try FileManager.default.removeItem(
                at: $0.appendingPathComponent("tokenizer_config.json"))
        }
        let text = message { try InProcessGeneration.load(directory: folder, batchSize: 2) }
        #expect(text.contains(folder.path) && text.lowercased().contains("tokenizer"), "\(text)")
    }

    @Test func aTruncatedShardIsAnError() throws {
        let shard = "model-00002-of-00003.safetensors"
        let folder = try copy("llama2") { folder in
            let url = folder.appendingPathComponent(shard)
            let data = try Data(contentsOf: url)
            try data.prefix(data.count - 100).write(to: url)
        }
        let text = message { try InProcessGeneration.load(directory: folder, batchSize: 2) }
        #expect(text.contains(shard), "\(text)")
    }

    @Test func aMissingTensorNamesBothFiles() throws {
        let folder = try copy("qwen2") { try editConfig($0) { $0["num_hidden_layers"] = 3 } }
        let text = message { try CausalLM.load(directory: folder) }
        #expect(text.contains("model.layers.2.") && text.contains("config.json"), "\(text)")
    }

    /// A prompt that reaches the backend although it does not fit the context (a
    /// `--max-prompt-tokens` above it) fails with the limit named, never runs past it.
    @Test func aPromptLongerThanTheContextIsRefused() async throws {
        let folder = try copy("qwen2") { try editConfig($0) { $0["max_position_embeddings"] = 40 } }
        let backend = try CausalLMBackend.load(directory: folder, batchSize: 2)
        #expect(backend.defaultMaxPromptTokens == 40)
        let long = String(repeating: "protein folding ", count: 30)
        do {
            _ = try await backend.generate([GenerationRequest(prompt: long, maxNewTokens: 4)])
            Issue.record("a prompt over the context ran")
        } catch let error as GenerationError {
            let text = error.errorDescription ?? ""
            #expect(text.contains("context is 40 tokens"), "\(text)")
        }
    }

    /// A sliding window shorter than max_position_embeddings bounds the context (within the
    /// window attention is exact); Qwen's applies only with use_sliding_window.
    @Test func aSlidingWindowBoundsTheContext() throws {
        let mistral = try copy("mistral") { try editConfig($0) { $0["sliding_window"] = 64 } }
        #expect(try CausalLMConfiguration.load(directory: mistral).contextLength == 64)
        let qwen = try copy("qwen2") { try editConfig($0) { $0["sliding_window"] = 64 } }
        #expect(try CausalLMConfiguration.load(directory: qwen).contextLength == 512)
        let used = try copy("qwen2") {
            try editConfig($0) {
                $0["sliding_window"] = 64
                $0["use_sliding_window"] = true
            }
        }
        #expect(try CausalLMConfiguration.load(directory: used).contextLength == 64)
    }
}
