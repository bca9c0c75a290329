import Foundation
import InparsModels
import InparsRanker
import InparsTensor
import InparsTestSupport
import InparsTraining
import Testing

/// K = 3 training steps of each cross-encoder fixture against PyTorch + transformers
/// (`Scripts/fixtures/make_cross_encoders.py`, `training_golden`): the golden pairs at max
/// length 24 in one padded batch, pointwise loss (BCE on 1 label, cross-entropy on 2), dropout
/// off, clipping at 1.0, AdamW with weight decay 0.01 except biases and LayerNorm weights,
/// linear schedule with 1 warm-up step. Tolerances as ``T5TrainingGoldenTests``.
///
/// Except the key biases: adding a constant to every key score of a row leaves the softmax
/// unchanged, so their gradient is zero in exact arithmetic and what both implementations
/// compute is rounding noise, which Adam's normalisation turns into updates of full size. They
/// are checked instead to have a gradient below 1e-6 at every step.
@Suite struct CrossEncoderTrainingGoldenTests {
    struct Fixture: Decodable {
        struct Run: Decodable {
            var model: String
            var losses: [Double]
            var norms: [Double]
            var tensors: [String: T5TrainingGoldenTests.Fixture.Sample]
        }
        var labels: [Int]
        var max_length: Int
        var steps: Int
        var runs: [String: Run]
    }

    @Test(arguments: ["bert-1", "bert-2", "electra-1", "xlmr-1"])
    func stepsMatchPyTorch(_ name: String) throws {
        let url = TestPaths.fixtures.appendingPathComponent("cross-encoders/training.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let run = try #require(fixture.runs[name])
        let folder = TestPaths.fixtures.appendingPathComponent(run.model)
        let scorer = try CrossEncoderReranker.load(
            directory: folder, options: .init(maxLength: fixture.max_length))
        let golden = try CrossEncoderGolden.load(folder)
        let inputs = golden.pairs.map { scorer.encode(query: $0.query, document: $0.document).input }
        let initial = scorer.model
        var model = initial
        let parameters = model.parameterTable.entries
        #expect(Set(parameters.map(\.name)) == Set(run.tensors.keys), "the same tensors as PyTorch")
        let specs = model.parameterTable.optimizerParameters
        let noDecay = Set(specs.map(\.name).filter { $0.hasSuffix(".bias") || $0.contains("LayerNorm.weight") })
        var adam = AdamW(parameters: specs, learningRate: 1e-3, weightDecay: 0.01, noDecay: noDecay)
        let schedule = LearningRateSchedule.linear(warmupSteps: 1, totalSteps: fixture.steps)
        let loss = CrossEncoderLoss.pointwise(
            numLabels: model.configuration.numLabels, relevant: fixture.labels.map { $0 == 1 })
        var generator = TestRandom(seed: 0)  // unused: dropout is off
        for step in 0..<fixture.steps {
            var gradients = model.parameters.zeros()
            let value = model.accumulateGradients(
                inputs, into: &gradients, using: &generator, loss: loss)
            for (index, entry) in parameters.enumerated() where entry.name.hasSuffix("self.key.bias") {
                let largest = gradients.withEntry(index) { $0.map { abs($0) }.max() ?? 0 }
                #expect(largest < 1e-6, "\(entry.name): gradient \(largest)")
            }
            #expect(
                abs(Double(value) - run.losses[step]) <= 1e-4 * run.losses[step],
                "\(name) step \(step): loss \(value) vs \(run.losses[step])")
            let norm = GradientClipping.clip(&gradients, maxNorm: 1)
            #expect(
                abs(Double(norm) - run.norms[step]) <= 1e-4 * run.norms[step],
                "\(name) step \(step): norm \(norm) vs \(run.norms[step])")
            adam.learningRate = schedule.learningRate(base: 1e-3, afterSteps: step)
            model.updateParameters { adam.step(&$0, gradients: gradients) }
        }
        let failures = T5TrainingGoldenTests.mismatches(
            expected: run.tensors,
            parameters: parameters.filter { !$0.name.hasSuffix("self.key.bias") },
            initial: initial.parameters,
            final: model.parameters)
        #expect(failures.isEmpty, "\(name): \(failures.count) mismatches: \(failures.prefix(10))")
    }
}

/// The golden pairs of a cross-encoder fixture folder.
struct CrossEncoderGolden: Decodable {
    struct Pair: Decodable {
        var query: String
        var document: String
    }
    var pairs: [Pair]

    static func load(_ folder: URL) throws -> CrossEncoderGolden {
        try JSONDecoder().decode(
            CrossEncoderGolden.self,
            from: Data(contentsOf: folder.appendingPathComponent("golden.json")))
    }
}
