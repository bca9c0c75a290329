import Foundation
import InparsTensor
import InparsTestSupport
import InparsTraining
import Testing

/// The fixtures of Scripts/fixtures/make_optimizer_fixtures.py (torch 2.15.0,
/// transformers 5.24.0).
struct OptimizerFixture: Decodable {
    struct Schedule: Decodable {
        var kind: String
        var warmup: Int
        var total: Int?
    }

    struct Run: Decodable {
        var name: String
        var clip: Double?
        var schedule: Schedule?
        var norms: [Double]
        var learning_rates: [Double?]
        var steps: [[String: [Double]]]
    }

    var shapes: [String: [Int]]
    var initial: [String: [Double]]
    var gradients: [[String: [Double]]]
    var runs: [Run]

    static let names = ["bias", "weight", "wide", "stacked"]

    static func load() throws -> OptimizerFixture {
        let url = TestPaths.fixtures.appendingPathComponent("optimizers/trajectories.json")
        return try JSONDecoder().decode(OptimizerFixture.self, from: Data(contentsOf: url))
    }

    var specs: [ParameterSpec] { Self.names.map { ParameterSpec(name: $0, shape: shapes[$0]!) } }

    func tensors(_ values: [String: [Double]]) -> [Tensor] {
        Self.names.map { Tensor(shape: shapes[$0]!, storage: values[$0]!.map { Float($0) }) }
    }
}

extension LearningRateSchedule {
    init(_ fixture: OptimizerFixture.Schedule) {
        self =
            fixture.kind == "constant"
            ? .constant(warmupSteps: fixture.warmup)
            : .linear(warmupSteps: fixture.warmup, totalSteps: fixture.total!)
    }
}

/// Our AdamW / Adafactor / schedules / clipping reproduce PyTorch's trajectories.
///
/// Tolerance: every parameter after every step within `|ours − torch| ≤ 1e-5·|torch| + 1e-7`;
/// the update of each step (parameter change) within `1e-3` of the largest update magnitude
/// (so the check is about the optimizer, not only about parameters barely moving); global
/// norms within relative 1e-6; learning rates within 1e-12.
@Suite struct OptimizerGoldenTests {
    static let runNames = [
        "adamw", "adamw_clip_linear", "adamw_constant_warmup", "adafactor_relative",
        "adafactor_relative_clip", "adafactor_warmup_init", "adafactor_fine_tuning",
        "adafactor_fine_tuning_clip_linear", "adafactor_beta1_decay_scaled",
    ]

    /// The optimizer a fixture run used, and its base learning rate (nil: relative step).
    static func optimizer(for run: String, specs: [ParameterSpec]) -> (any Optimizer, Double?) {
        switch run {
        case "adamw", "adamw_clip_linear":
            return (AdamW(parameters: specs, learningRate: 1e-2, weightDecay: 0.01), 1e-2)
        case "adamw_constant_warmup":
            return (AdamW(parameters: specs, learningRate: 3e-2, weightDecay: 0.01), 3e-2)
        case "adafactor_relative", "adafactor_relative_clip":
            return (Adafactor(parameters: specs), nil)
        case "adafactor_warmup_init":
            return (Adafactor(parameters: specs, warmupInit: true), nil)
        case "adafactor_fine_tuning", "adafactor_fine_tuning_clip_linear":
            return (Adafactor.fineTuning(parameters: specs, learningRate: 1e-3), 1e-3)
        case "adafactor_beta1_decay_scaled":
            return (
                Adafactor(
                    parameters: specs, learningRate: 1e-2, beta1: 0.9, weightDecay: 0.01,
                    scaleParameter: true, relativeStep: false), 1e-2
            )
        default: fatalError("unknown fixture run \(run)")
        }
    }

    static func setLearningRate(_ optimizer: inout any Optimizer, _ lr: Double) {
        if var adam = optimizer as? AdamW {
            adam.learningRate = lr
            optimizer = adam
        } else if var factor = optimizer as? Adafactor {
            factor.learningRate = lr
            optimizer = factor
        }
    }

    @Test(arguments: runNames)
    func trajectoryMatchesPyTorch(_ name: String) throws {
        let fixture = try OptimizerFixture.load()
        let run = try #require(fixture.runs.first { $0.name == name })
        var (optimizer, base) = Self.optimizer(for: name, specs: fixture.specs)
        let schedule = run.schedule.map(LearningRateSchedule.init) ?? .constant(warmupSteps: 0)
        var parameters = fixture.tensors(fixture.initial)
        var previous = parameters
        #expect(run.steps.count == 4)
        for (step, expectedValues) in run.steps.enumerated() {
            var gradients = fixture.tensors(fixture.gradients[step])
            if let clip = run.clip {
                let norm = GradientClipping.clip(&gradients, maxNorm: Float(clip))
                #expect(
                    abs(Double(norm) - run.norms[step]) <= 1e-6 * run.norms[step],
                    "\(name) step \(step): norm \(norm) vs \(run.norms[step])")
            }
            if let base {
                let lr = schedule.learningRate(base: base, afterSteps: step)
                let expected = try #require(run.learning_rates[step])
                #expect(
                    abs(lr - expected) <= 1e-12, "\(name) step \(step): lr \(lr) vs \(expected)")
                Self.setLearningRate(&optimizer, lr)
            }
            optimizer.step(parameters: &parameters, gradients: gradients)
            let expected = fixture.tensors(expectedValues)
            for index in parameters.indices {
                let label = "\(name) step \(step) \(OptimizerFixture.names[index])"
                let result = try #require(
                    compare(
                        parameters[index].storage, expected[index].storage, rtol: 1e-5, atol: 1e-7))
                #expect(result.passes, "\(label): \(result.worst)")
                let ours = (0..<parameters[index].count).map {
                    parameters[index].storage[$0] - previous[index].storage[$0]
                }
                let theirs = (0..<parameters[index].count).map {
                    expected[index].storage[$0] - previous[index].storage[$0]
                }
                let scale = theirs.map(abs).max() ?? 0
                let delta = try #require(compare(ours, theirs, atol: 1e-3 * scale + 1e-9))
                #expect(delta.passes, "\(label) update: \(delta.worst)")
            }
            // Continue from PyTorch's parameters so errors cannot compound across steps.
            previous = expected
            parameters = expected
        }
    }

    @Test func schedulesMatchHuggingFace() throws {
        struct Entry: Decodable {
            var kind: String
            var warmup: Int
            var total: Int?
            var multipliers: [Double]
        }
        let url = TestPaths.fixtures.appendingPathComponent("optimizers/schedules.json")
        let entries = try JSONDecoder().decode([Entry].self, from: Data(contentsOf: url))
        #expect(entries.count == 5)
        for entry in entries {
            let schedule = LearningRateSchedule(
                .init(kind: entry.kind, warmup: entry.warmup, total: entry.total))
            for (step, expected) in entry.multipliers.enumerated() {
                let actual = schedule.multiplier(afterSteps: step)
                #expect(
                    abs(actual - expected) <= 1e-12,
                    "\(entry.kind) warmup \(entry.warmup) step \(step): \(actual) vs \(expected)")
            }
        }
    }
}
