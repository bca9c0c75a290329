import Foundation
import InparsModels
import InparsTensor
import InparsTestSupport
import InparsTraining
import Testing

/// A tiny random T5 built in the test (no fixture): 2 encoder and 2 decoder blocks.
enum TinyT5 {
    static func make(gated: Bool, tied: Bool, seed: UInt64) throws -> T5Model {
        let c = T5Configuration(
            vocabSize: 13, dModel: 6, dKV: 2, dFF: 5, numLayers: 2, numHeads: 3,
            relativeAttentionNumBuckets: 8, relativeAttentionMaxDistance: 16,
            feedForwardProj: gated ? "gated-gelu" : "relu", tieWordEmbeddings: tied)
        var random = TestRandom(seed: seed)
        var tensors = [String: Tensor]()
        func add(_ name: String, _ shape: [Int], _ range: ClosedRange<Float> = -0.6...0.6) {
            tensors[name] = random.tensor(shape, in: range)
        }
        let inner = c.numHeads * c.dKV
        add(T5WeightNames.shared, [c.vocabSize, c.dModel], -1...1)
        if !tied { add(T5WeightNames.lmHead, [c.vocabSize, c.dModel]) }
        for stack in ["encoder", "decoder"] {
            add(
                T5WeightNames.relativeAttentionBias(stack),
                [c.relativeAttentionNumBuckets, c.numHeads], -1...1)
            add(T5WeightNames.finalNorm(stack), [c.dModel], 0.7...1.3)
            for block in 0..<c.numLayers {
                for p in ["q", "k", "v"] {
                    add(T5WeightNames.selfAttention(stack, block: block, p), [inner, c.dModel])
                }
                add(T5WeightNames.selfAttention(stack, block: block, "o"), [c.dModel, inner])
                for layer in 0..<(stack == "encoder" ? 2 : 3) {
                    add(
                        T5WeightNames.layerNorm(stack, block: block, layer: layer), [c.dModel],
                        0.7...1.3)
                }
                if stack == "decoder" {
                    for p in ["q", "k", "v"] {
                        add(T5WeightNames.crossAttention(block: block, p), [inner, c.dModel])
                    }
                    add(T5WeightNames.crossAttention(block: block, "o"), [c.dModel, inner])
                }
                for p in gated ? ["wi_0", "wi_1"] : ["wi"] {
                    add(T5WeightNames.feedForward(stack, block: block, p), [c.dFF, c.dModel])
                }
                add(T5WeightNames.feedForward(stack, block: block, "wo"), [c.dModel, c.dFF])
            }
        }
        return try T5Model(configuration: c, tensors: tensors)
    }

    /// Unequal encoder lengths (padding) and unequal label lengths (−100 padding).
    static let batch = T5TrainingBatch(
        inputs: [[5, 9, 2, 11, 1], [3, 7, 1]], labels: [[4, 1], [12, 8, 1]])

    /// The loss through the inference forward (`T5Model.encode` + `decoderLogits`): an
    /// implementation independent of the training graph.
    static func inferenceLoss(_ model: T5Model, _ batch: T5TrainingBatch) -> Float {
        let length = batch.labels.map(\.count).max()!
        var targets = [Int32]()
        var decoderInputs = [[Int32]]()
        for row in batch.labels {
            let padded = row + [Int32](repeating: -100, count: length - row.count)
            targets += padded
            decoderInputs.append(
                [Int32(model.configuration.decoderStartTokenID)]
                    + padded.dropLast().map { $0 == -100 ? 0 : $0 })
        }
        let logits = model.decoderLogits(
            decoderInputs: decoderInputs, encoderOutput: model.encode(batch.inputs))
        return Tensor.crossEntropy(logits: logits, targets: targets).loss
    }
}

/// The whole-model backward against finite differences of the loss.
///
/// The model is Float, so the reference is the central difference of the Float loss
/// (accumulated in Double by `crossEntropy`) with step `h = 1e-3` (small enough not to cross
/// ReLU kinks, which `h = 1e-2` does); a one-ulp change of a loss near 2.5 is 2.4e-7, so the
/// numeric gradient is quantised to about `2.4e-7 / 2h ≈ 1.2e-4`. An element passes when
/// `|analytic − numeric| ≤ 3e-4 + 1e-2·|numeric|`. Checked elements: per weight, the
/// largest-gradient element plus four random ones (all copies of the tied embedding move
/// together).
@Suite struct T5BackwardTests {
    static let cases: [(gated: Bool, tied: Bool)] = [(false, true), (true, false)]

    struct Probe {
        var name: String
        var parameter: Int
        var element: Int
        var analytic: Float
        var numeric: Double
    }

    static func probes<Model: ParameterizedModel>(
        model: Model, gradients: ParameterStore, seed: UInt64, loss: (Model) -> Float
    ) -> [Probe] {
        var random = TestRandom(seed: seed)
        var result = [Probe]()
        let h: Float = 1e-3
        // Every stored weight once (a tied embedding is one slot, read by all its uses).
        for (index, slot) in model.parameterTable.slots.enumerated() {
            let gradient = gradients[index].storage
            var elements = [gradient.indices.max { abs(gradient[$0]) < abs(gradient[$1]) }!]
            for _ in 0..<4 { elements.append(Int.random(in: 0..<gradient.count, using: &random)) }
            for element in elements {
                var plus = model
                var minus = model
                plus.updateParameters { $0.withMutableSlot(index) { $0[element] += h } }
                minus.updateParameters { $0.withMutableSlot(index) { $0[element] -= h } }
                let numeric = (Double(loss(plus)) - Double(loss(minus))) / (2 * Double(h))
                result.append(
                    Probe(
                        name: slot.name, parameter: index, element: element,
                        analytic: gradient[element], numeric: numeric))
            }
        }
        return result
    }

    static func failures(_ probes: [Probe], scale: Float = 1) -> [String] {
        probes.compactMap { p in
            let a = Double(p.analytic * scale)
            return abs(a - p.numeric) <= 3e-4 + 1e-2 * abs(p.numeric)
                ? nil : "\(p.name)[\(p.element)]: analytic \(a), numeric \(p.numeric)"
        }
    }

    @Test(arguments: [0, 1], [T5CrossAttentionStrategy.projected, .absorbed])
    func trainingForwardMatchesTheInferenceForward(
        _ variant: Int, _ strategy: T5CrossAttentionStrategy
    ) throws {
        let model = try TinyT5.make(
            gated: Self.cases[variant].gated, tied: Self.cases[variant].tied, seed: 30)
        var generator = TestRandom(seed: 1)
        let ours = model.lossAndGradients(
            TinyT5.batch, crossAttention: strategy, using: &generator
        ).loss
        let reference = TinyT5.inferenceLoss(model, TinyT5.batch)
        #expect(
            abs(ours - reference) <= 1e-5 * abs(reference),
            "training \(ours) vs inference \(reference)")
    }

    @Test(arguments: [0, 1], [T5CrossAttentionStrategy.projected, .absorbed])
    func wholeModelGradientsMatchFiniteDifferences(
        _ variant: Int, _ strategy: T5CrossAttentionStrategy
    ) throws {
        let model = try TinyT5.make(
            gated: Self.cases[variant].gated, tied: Self.cases[variant].tied, seed: 31)
        var generator = TestRandom(seed: 2)
        let (loss, tokens, gradients) = model.lossAndGradients(
            TinyT5.batch, crossAttention: strategy, using: &generator)
        #expect(tokens == 5 && loss.isFinite)
        let probes = Self.probes(model: model, gradients: gradients, seed: 3) {
            TinyT5.inferenceLoss($0, TinyT5.batch)
        }
        let failures = Self.failures(probes)
        #expect(
            failures.isEmpty,
            "\(failures.count) of \(probes.count) mismatched: \(failures.prefix(8))")
        // The check has teeth: gradients 5 % too large are flagged.
        #expect(Self.failures(probes, scale: 1.05).count > probes.count / 4)
    }

    @Test(arguments: [T5CrossAttentionStrategy.projected, .absorbed])
    func gradientsWithDropoutMatchFiniteDifferencesUnderTheSameMasks(
        _ strategy: T5CrossAttentionStrategy
    ) throws {
        let model = try TinyT5.make(gated: true, tied: true, seed: 32)
        var generator = TestRandom(seed: 4)
        let (_, _, gradients) = model.lossAndGradients(
            TinyT5.batch, dropoutRate: 0.2, crossAttention: strategy, using: &generator)
        let probes = Self.probes(model: model, gradients: gradients, seed: 5) { perturbed in
            var same = TestRandom(seed: 4)  // the same seeds, so the same masks
            return perturbed.lossAndGradients(
                TinyT5.batch, dropoutRate: 0.2, crossAttention: strategy, using: &same
            ).loss
        }
        let failures = Self.failures(probes)
        #expect(
            failures.isEmpty,
            "\(failures.count) of \(probes.count) mismatched: \(failures.prefix(8))")
        var same = TestRandom(seed: 4)
        let withDropout = model.lossAndGradients(
            TinyT5.batch, dropoutRate: 0.2, crossAttention: strategy, using: &same
        ).loss
        #expect(
            withDropout != TinyT5.inferenceLoss(model, TinyT5.batch), "dropout changes the loss")
    }
}

/// Gradient accumulation over micro-batches equals one large batch.
@Suite struct T5GradientAccumulationTests {
    @Test func twoScaledMicroBatchesEqualTheirUnion() throws {
        let model = try TinyT5.make(gated: true, tied: true, seed: 50)
        let first = TinyT5.batch  // 5 target tokens
        let second = T5TrainingBatch(
            inputs: [[8, 8, 3, 1], [2, 6, 10, 11, 4, 9, 1]], labels: [[7, 1], [4, 5, 1]])
        let union = T5TrainingBatch(
            inputs: first.inputs + second.inputs, labels: first.labels + second.labels)
        var generator = TestRandom(seed: 1)
        let whole = model.lossAndGradients(union, using: &generator)
        var accumulated = model.parameters.zeros()
        for micro in [first, second] {
            let result = model.accumulateGradients(
                micro, gradientScale: 0.5, into: &accumulated, using: &generator)
            #expect(result.tokens == 5)
        }
        for (slot, parameter) in model.parameterTable.slots.enumerated() {
            let verdict = try #require(
                compare(
                    accumulated[slot].storage, whole.gradients[slot].storage, rtol: 1e-4,
                    atol: 1e-6))
            #expect(verdict.passes, "\(parameter.name): \(verdict.worst)")
        }
        // The tied embedding is one stored tensor known by all its checkpoint names.
        let shared = try #require(model.parameterTable.entry(named: "shared.weight"))
        #expect(
            shared.tiedNames.contains("lm_head.weight")
                && shared.tiedNames.contains("decoder.embed_tokens.weight") && model.hasTiedHead)
    }
}
