import Foundation
import InparsModels
import InparsTensor
import InparsTestSupport
import InparsTraining
import Testing

/// K = 3 training steps of the tiny fixture T5s against PyTorch + transformers
/// (Scripts/fixtures/make_training_fixtures.py): same batch, dropout off, clipping at 1.0,
/// AdamW with linear warmup and Adafactor in the T5 fine-tuning mode.
///
/// Tolerances: each step's loss and pre-clip gradient norm within relative 1e-4; 32 sampled
/// elements of every checkpoint tensor after the last step within `1e-4·|x| + 1e-6`; and the
/// L2 norm of each tensor's total change within relative 1e-3 (plus 1e-7 absolute), so
/// tensors the optimizer barely moves are still checked.
@Suite struct T5TrainingGoldenTests {
    struct Fixture: Decodable {
        struct Sample: Decodable {
            var shape: [Int]
            var index: [Int]
            var initial: [Double]
            var final: [Double]
            var change_norm: Double
        }

        struct Run: Decodable {
            var model: String
            var losses: [Double]
            var norms: [Double]
            var tensors: [String: Sample]
        }

        var inputs: [[Int32]]
        var labels: [[Int32]]
        var steps: Int
        var runs: [String: Run]
    }

    static let runs = [
        "t5-tiny/adamw", "t5-tiny/adafactor", "t5-tiny-v11/adamw", "t5-tiny-v11/adafactor",
    ]

    @Test(arguments: runs)
    func stepsMatchPyTorch(_ name: String) throws {
        let url = TestPaths.fixtures.appendingPathComponent("training/steps.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let run = try #require(fixture.runs[name])
        let initial = try T5Model.load(
            directory: TestPaths.fixtures.appendingPathComponent(run.model))
        var model = initial
        let parameters = model.parameterTable.entries
        #expect(
            Set(parameters.map(\.name)) == Set(run.tensors.keys),
            "the same trainable tensors as PyTorch")
        let isAdam = name.hasSuffix("adamw")
        let specs = model.parameterTable.optimizerParameters
        var adam = AdamW(parameters: specs, learningRate: 1e-3, weightDecay: 0.01)
        var factor = Adafactor.fineTuning(parameters: specs, learningRate: 1e-3)
        let schedule = LearningRateSchedule.linear(warmupSteps: 1, totalSteps: fixture.steps)
        let batch = T5TrainingBatch(inputs: fixture.inputs, labels: fixture.labels)
        var generator = TestRandom(seed: 0)  // unused: dropout is off
        for step in 0..<fixture.steps {
            var (loss, _, gradients) = model.lossAndGradients(batch, using: &generator)
            #expect(
                abs(Double(loss) - run.losses[step]) <= 1e-4 * run.losses[step],
                "\(name) step \(step): loss \(loss) vs \(run.losses[step])")
            let norm = GradientClipping.clip(&gradients, maxNorm: 1)
            #expect(
                abs(Double(norm) - run.norms[step]) <= 1e-4 * run.norms[step],
                "\(name) step \(step): norm \(norm) vs \(run.norms[step])")
            if isAdam {
                adam.learningRate = schedule.learningRate(base: 1e-3, afterSteps: step)
                model.updateParameters { adam.step(&$0, gradients: gradients) }
            } else {
                model.updateParameters { factor.step(&$0, gradients: gradients) }
            }
        }
        let failures = Self.mismatches(
            expected: run.tensors, parameters: parameters, initial: initial.parameters,
            final: model.parameters)
        #expect(failures.isEmpty, "\(name): \(failures.count) mismatches: \(failures.prefix(10))")
    }

    /// Each sampled element of each tensor after the steps within `1e-4·|x| + 1e-6` of
    /// PyTorch's (and equal before them), and each tensor's change norm within relative
    /// 1e-3 (+1e-7): the mismatches, named.
    static func mismatches(
        expected tensors: [String: Fixture.Sample], parameters: [ParameterEntry],
        initial: ParameterStore, final: ParameterStore
    ) -> [String] {
        var failures = [String]()
        for parameter in parameters {
            guard let expected = tensors[parameter.name] else {
                failures.append("\(parameter.name): not in the fixture")
                continue
            }
            if expected.shape != parameter.shape {
                failures.append("\(parameter.name): shape \(parameter.shape) vs \(expected.shape)")
            }
            let before = initial[parameter.slot].storage
            let after = final[parameter.slot].storage
            for (k, i) in expected.index.enumerated() {
                let value = Double(after[parameter.offset + i])
                if abs(value - expected.final[k]) > 1e-4 * abs(expected.final[k]) + 1e-6 {
                    failures.append("\(parameter.name)[\(i)]: \(value) vs \(expected.final[k])")
                }
                if Double(before[parameter.offset + i]) != expected.initial[k] {
                    failures.append("\(parameter.name)[\(i)]: other starting weights")
                }
            }
            var squares = 0.0
            for i in 0..<parameter.count {
                let change =
                    Double(after[parameter.offset + i]) - Double(before[parameter.offset + i])
                squares += change * change
            }
            let changeNorm = squares.squareRoot()
            if abs(changeNorm - expected.change_norm) > 1e-3 * expected.change_norm + 1e-7 {
                failures.append(
                    "\(parameter.name) change norm \(changeNorm) vs \(expected.change_norm)")
            }
        }
        return failures
    }
}
