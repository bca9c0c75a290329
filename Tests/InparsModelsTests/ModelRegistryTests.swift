import Foundation
import InparsModels
import InparsTestSupport
import Testing

/// `--model DIR` decides the family from config.json's model_type / architectures.
@Suite struct ModelRegistryTests {
    /// A temporary folder holding `config` as config.json.
    func folder(config: String) throws -> URL {
        let folder = try TestPaths.temporaryDirectory("model-registry")
        try config.write(
            to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        return folder
    }

    @Test(arguments: ["t5-tiny", "t5-tiny-bin", "t5-tiny-v11"])
    func theFixtureFoldersAreT5(_ name: String) throws {
        let directory = TestPaths.fixtures.appendingPathComponent(name)
        let resolved = try ModelRegistry.resolve(directory: directory)
        #expect(resolved.family == .t5 && resolved.modelType == "t5")
        #expect(resolved.directory == directory)
    }

    @Test func mt5AndArchitecturesAloneAreT5() throws {
        let mt5 = try folder(
            config: #"{"model_type": "mt5", "architectures": ["MT5ForConditionalGeneration"]}"#)
        defer { try? FileManager.default.removeItem(at: mt5) }
        #expect(try ModelRegistry.resolve(directory: mt5).family == .t5)
        let classesOnly = try folder(config: #"{"architectures": ["T5ForConditionalGeneration"]}"#)
        defer { try? FileManager.default.removeItem(at: classesOnly) }
        let resolved = try ModelRegistry.resolve(directory: classesOnly)
        #expect(resolved.family == .t5 && resolved.modelType == nil)
        #expect(resolved.architectures == ["T5ForConditionalGeneration"])
    }

    @Test func anUnknownModelTypeIsOneClearErrorListingTheSupportedOnes() throws {
        let speech = try folder(
            config: #"{"model_type": "wav2vec2", "architectures": ["Wav2Vec2ForCTC"]}"#)
        defer { try? FileManager.default.removeItem(at: speech) }
        #expect(
            throws: ModelError.unsupportedModelType(
                directory: speech.path, modelType: "wav2vec2", architectures: ["Wav2Vec2ForCTC"])
        ) { try ModelRegistry.resolve(directory: speech) }
        let message = try #require(
            ModelError.unsupportedModelType(
                directory: speech.path, modelType: "wav2vec2", architectures: []
            ).errorDescription)
        #expect(message.contains("'\(speech.path)'") && message.contains("'wav2vec2'"))
        #expect(
            message.contains("supported model_type values: t5, mt5")
                && message.contains("bert, electra, roberta, xlm-roberta"), "\(message)")

        // The cross-encoder types and classes are the bert family.
        for config in [
            #"{"model_type": "xlm-roberta"}"#, #"{"architectures": ["ElectraForSequenceClassification"]}"#,
        ] {
            let crossEncoder = try folder(config: config)
            defer { try? FileManager.default.removeItem(at: crossEncoder) }
            #expect(try ModelRegistry.resolve(directory: crossEncoder).family == .bert)
        }

        // Unknown architectures alone fail too.
        let neox = try folder(config: #"{"architectures": ["GPTNeoXForCausalLM"]}"#)
        defer { try? FileManager.default.removeItem(at: neox) }
        do {
            _ = try ModelRegistry.resolve(directory: neox)
            Issue.record("a GPT-NeoX folder was accepted")
        } catch let error as ModelError {
            #expect(
                error
                    == .unsupportedModelType(
                        directory: neox.path, modelType: nil, architectures: ["GPTNeoXForCausalLM"]))
            #expect(error.localizedDescription.contains("'GPTNeoXForCausalLM'"))
        }
    }

    /// The decoder-only families by model_type or, without one, by architecture class.
    @Test(arguments: [
        #"{"model_type": "llama"}"#, #"{"model_type": "mistral"}"#, #"{"model_type": "qwen2"}"#,
        #"{"model_type": "qwen3", "architectures": ["T5ForConditionalGeneration"]}"#,
        #"{"architectures": ["Qwen2ForCausalLM"]}"#, #"{"architectures": ["LlamaForCausalLM"]}"#,
    ])
    func causalLMFoldersAreRecognised(config: String) throws {
        let llama = try folder(config: config)
        defer { try? FileManager.default.removeItem(at: llama) }
        #expect(try ModelRegistry.resolve(directory: llama).family == .causalLM)
    }

    @Test func missingFolderMissingConfigAndBadConfigAreReported() throws {
        let empty = try TestPaths.temporaryDirectory("model-registry-empty")
        defer { try? FileManager.default.removeItem(at: empty) }
        let config = empty.appendingPathComponent("config.json")
        #expect(throws: ModelError.configurationNotFound(path: config.path)) {
            try ModelRegistry.resolve(directory: empty)
        }
        let missing = empty.appendingPathComponent("no-such-model")
        #expect(throws: ModelError.notAModelFolder(path: missing.path)) {
            try ModelRegistry.resolve(directory: missing)
        }
        try "not json".write(to: config, atomically: true, encoding: .utf8)
        #expect(
            throws: ModelError.invalidConfiguration(path: config.path, reason: "not a JSON object")
        ) { try ModelRegistry.resolve(directory: empty) }
        try #"{"model_type": 5}"#.write(to: config, atomically: true, encoding: .utf8)
        #expect(
            throws: ModelError.invalidConfiguration(
                path: config.path, reason: "field 'model_type' is not a string")
        ) { try ModelRegistry.resolve(directory: empty) }
        let message = try #require(ModelError.notAModelFolder(path: "x").errorDescription)
        #expect(message.contains("'x' is not a folder") && message.contains("--model"))
    }

    @Test func everyFamilyHasModelTypesAndNoTwoShareOne() {
        let types = ModelRegistry.families.flatMap(\.modelTypes)
        #expect(!types.isEmpty && Set(types).count == types.count)
        let classes = ModelRegistry.families.flatMap(\.architectures)
        #expect(Set(classes).count == classes.count)
        #expect(
            ModelRegistry.supportedModelTypes
                == "t5, mt5, bert, electra, roberta, xlm-roberta, llama, mistral, qwen2, qwen3")
    }
}
