import Foundation
import InparsModels
import InparsTensor
import InparsTestSupport
import InparsTraining
import Testing

/// Tiny random cross-encoders built in the test (no fixture), one per variant.
enum TinyBert {
    static func configuration(_ type: String) throws -> BertConfiguration {
        var object: [String: Any] = [
            "model_type": type, "vocab_size": 13, "hidden_size": 6, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 5, "max_position_embeddings": 12,
            "hidden_act": "gelu",
        ]
        switch type {
        case "bert": object["id2label"] = ["0": "no", "1": "yes"]
        case "electra": object.merge(["embedding_size": 4, "num_labels": 1]) { $1 }
        default: object.merge(["num_labels": 1, "type_vocab_size": 1, "pad_token_id": 1]) { $1 }
        }
        return try BertConfiguration(object: object)
    }

    static func make(_ type: String, seed: UInt64) throws -> BertModel {
        let c = try configuration(type)
        var random = TestRandom(seed: seed)
        var tensors = [String: Tensor]()
        for entry in BertModel.parameterTable(for: c).entries {
            let norm = entry.name.contains("LayerNorm.weight")
            tensors[entry.name] = random.tensor(entry.shape, in: norm ? 0.7...1.3 : -0.6...0.6)
        }
        return try BertModel(configuration: c, tensors: tensors)
    }

    /// Unequal lengths (padding), token types 0 and 1 where the variant has them.
    static func batch(_ model: BertModel) -> [BertInput] {
        let two = model.configuration.typeVocabSize > 1
        return [
            BertInput(ids: [2, 5, 7, 3, 9, 11, 3], typeIDs: two ? [0, 0, 0, 0, 1, 1, 1] : [0, 0, 0, 0, 0, 0, 0]),
            BertInput(ids: [2, 4, 3, 8, 3], typeIDs: two ? [0, 0, 0, 1, 1] : [0, 0, 0, 0, 0]),
            BertInput(ids: [2, 12, 6, 3, 10, 10, 4, 3], typeIDs: two ? [0, 0, 0, 0, 1, 1, 1, 1] : [0, 0, 0, 0, 0, 0, 0, 0]),
        ]
    }

    /// Relevance labels of the batch: pointwise BCE on one logit, cross-entropy on two.
    static let relevant: [Float] = [1, 0, 1]

    static func loss(_ model: BertModel) -> (Tensor) -> (loss: Float, gradient: Tensor) {
        if model.configuration.numLabels == 1 {
            return { Tensor.binaryCrossEntropy(logits: $0, targets: relevant) }
        }
        return {
            let result = Tensor.crossEntropy(logits: $0, targets: relevant.map { Int32($0) })
            return (result.loss, result.gradient)
        }
    }

    /// The loss through the inference forward (`logits`), independent of the training graph.
    static func inferenceLoss(_ model: BertModel) -> Float {
        loss(model)(model.logits(batch(model))).loss
    }
}

/// The whole cross-encoder backward (embeddings, post-LN blocks, each variant's head) against
/// finite differences of the loss, with the probes and tolerances of ``T5BackwardTests``.
@Suite struct BertBackwardTests {
    static let types = ["bert", "electra", "roberta"]

    @Test(arguments: types)
    func trainingForwardMatchesTheInferenceForward(_ type: String) throws {
        let model = try TinyBert.make(type, seed: 40)
        var gradients = model.parameters.zeros()
        var generator = TestRandom(seed: 1)
        let ours = model.accumulateGradients(
            TinyBert.batch(model), into: &gradients, using: &generator, loss: TinyBert.loss(model))
        let reference = TinyBert.inferenceLoss(model)
        #expect(abs(ours - reference) <= 1e-6 * abs(reference), "\(ours) vs \(reference)")
    }

    @Test(arguments: types)
    func wholeModelGradientsMatchFiniteDifferences(_ type: String) throws {
        let model = try TinyBert.make(type, seed: 41)
        var gradients = model.parameters.zeros()
        var generator = TestRandom(seed: 2)
        let loss = model.accumulateGradients(
            TinyBert.batch(model), into: &gradients, using: &generator, loss: TinyBert.loss(model))
        #expect(loss.isFinite && loss > 0.05)
        let probes = T5BackwardTests.probes(model: model, gradients: gradients, seed: 3) {
            TinyBert.inferenceLoss($0)
        }
        let failures = T5BackwardTests.failures(probes)
        #expect(
            failures.isEmpty, "\(failures.count) of \(probes.count) mismatched: \(failures.prefix(8))")
        #expect(T5BackwardTests.failures(probes, scale: 1.05).count > probes.count / 4)
    }

    @Test func gradientsWithDropoutMatchFiniteDifferencesUnderTheSameMasks() throws {
        let model = try TinyBert.make("roberta", seed: 42)
        var gradients = model.parameters.zeros()
        var generator = TestRandom(seed: 4)
        let batch = TinyBert.batch(model)
        let dropped = model.accumulateGradients(
            batch, dropoutRate: 0.2, into: &gradients, using: &generator,
            loss: TinyBert.loss(model))
        let probes = T5BackwardTests.probes(model: model, gradients: gradients, seed: 5) {
            perturbed in
            var scratch = perturbed.parameters.zeros()
            var same = TestRandom(seed: 4)  // the same seeds, so the same masks
            return perturbed.accumulateGradients(
                batch, dropoutRate: 0.2, into: &scratch, using: &same,
                loss: TinyBert.loss(perturbed))
        }
        let failures = T5BackwardTests.failures(probes)
        #expect(
            failures.isEmpty, "\(failures.count) of \(probes.count) mismatched: \(failures.prefix(8))")
        #expect(dropped != TinyBert.inferenceLoss(model), "dropout changes the loss")
    }

    @Test func binaryCrossEntropyMatchesItsDefinition() {
        let logits = Tensor(shape: [4], storage: [2.5, -1, 0, 30])
        let targets: [Float] = [1, 0, 1, 0]
        let (loss, gradient) = Tensor.binaryCrossEntropy(logits: logits, targets: targets)
        var expected = 0.0
        for (x, y) in zip(logits.storage.map(Double.init), targets.map(Double.init)) {
            // −y·log σ(x) − (1 − y)·log(1 − σ(x)) = log(1 + eˣ) − x·y
            expected += log1p(exp(x)) - x * y
        }
        #expect(abs(Double(loss) - expected / 4) < 1e-5)
        let sigmoid = logits.storage.map { 1 / (1 + expf(-$0)) }
        for i in 0..<4 { #expect(abs(gradient.storage[i] - (sigmoid[i] - targets[i]) / 4) < 1e-7) }
    }
}
