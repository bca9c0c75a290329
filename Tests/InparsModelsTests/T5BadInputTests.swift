import Foundation
import InparsModels
import InparsTensor
import InparsTestSupport
import Testing

@Suite struct T5BadInputTests {
    /// A copy of the t5-tiny config and weights with `edit` applied to the state dict.
    func tensors(_ edit: (inout [String: Tensor]) -> Void) throws -> (
        T5Configuration, [String: Tensor]
    ) {
        let folder = TestPaths.fixtures.appendingPathComponent("t5-tiny")
        var tensors = try Checkpoint.loadTensors(directory: folder)
        edit(&tensors)
        return (try T5Configuration.load(directory: folder), tensors)
    }

    @Test func aMissingTensorIsNamed() throws {
        let name = "decoder.block.1.layer.1.EncDecAttention.k.weight"
        let (configuration, tensors) = try tensors { $0[name] = nil }
        #expect(throws: ModelError.missingTensor(name: name)) {
            try T5Model(configuration: configuration, tensors: tensors)
        }
        #expect(ModelError.missingTensor(name: name).errorDescription?.contains(name) == true)
    }

    @Test func aMisShapedTensorNamesBothShapes() throws {
        let name = "encoder.block.0.layer.1.DenseReluDense.wi.weight"
        let (configuration, tensors) = try tensors { $0[name] = Tensor(zeros: [64, 128]) }
        let expected = ModelError.shapeMismatch(
            name: name, expected: [128, 64], actual: [64, 128])
        #expect(throws: expected) { try T5Model(configuration: configuration, tensors: tensors) }
        let message = try #require(expected.errorDescription)
        #expect(
            message.contains(name) && message.contains("[128, 64]") && message.contains("[64, 128]")
        )
    }

    @Test func anUntiedConfigurationWithoutLMHeadFails() throws {
        var (configuration, tensors) = try tensors { $0["lm_head.weight"] = nil }
        configuration.tieWordEmbeddings = false
        #expect(throws: ModelError.missingTensor(name: "lm_head.weight")) {
            try T5Model(configuration: configuration, tensors: tensors)
        }
    }

    @Test func aFolderThatIsNotT5IsRejected() throws {
        let folder = try TestPaths.temporaryDirectory("t5-not-t5")
        defer { try? FileManager.default.removeItem(at: folder) }
        try #"{"model_type": "bert", "hidden_size": 64}"#.write(
            to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let path = folder.appendingPathComponent("config.json").path
        #expect(throws: ModelError.notT5(path: path, modelType: "bert")) {
            try T5Model.load(directory: folder)
        }
        let message = try #require(ModelError.notT5(path: path, modelType: "bert").errorDescription)
        #expect(message.contains("'bert'") && message.contains(path) && message.contains("not T5"))
    }

    @Test func aMissingConfigAndABadFieldAreReported() throws {
        let folder = try TestPaths.temporaryDirectory("t5-bad-config")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("config.json").path
        #expect(throws: ModelError.configurationNotFound(path: path)) {
            try T5Model.load(directory: folder)
        }
        try #"{"model_type": "t5", "d_model": "wide"}"#.write(
            toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try T5Configuration.load(directory: folder)
            Issue.record("a string d_model was accepted")
        } catch let error as ModelError {
            guard case .invalidConfiguration(let file, let reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(file == path && reason.contains("d_model"))
        }
    }

    @Test func configurationDefaultsFollowTransformers() throws {
        let data = Data(
            #"{"model_type": "t5", "feed_forward_proj": "gated-gelu", "num_layers": 3, "tie_word_embeddings": false, "eos_token_id": [1, 5]}"#
                .utf8)
        let c = try JSONDecoder().decode(T5Configuration.self, from: data)
        #expect(c.numDecoderLayers == 3 && c.dModel == 512 && c.vocabSize == 32128)
        #expect(c.isGatedActivation && c.denseActivation == .geluTanh)
        #expect(c.scaleDecoderOutputs == false && c.eosTokenID == 1 && c.decoderStartTokenID == 0)
        let v10 = try JSONDecoder().decode(
            T5Configuration.self, from: Data(#"{"model_type": "t5"}"#.utf8))
        #expect(v10.scaleDecoderOutputs && !v10.isGatedActivation && v10.denseActivation == .relu)
    }
}
