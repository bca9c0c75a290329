import Foundation
import InparsModels
import InparsTensor
import InparsTestSupport
import InparsTraining
import Testing

/// The assembled pieces learn: a tiny random T5 fits a toy relevance task.
@Suite struct T5LearningTests {
    /// Label `4 1` ("true") when the input contains token 9, else `7 1` ("false").
    static func toyBatch(seed: UInt64) -> T5TrainingBatch {
        var random = TestRandom(seed: seed)
        var inputs = [[Int32]]()
        var labels = [[Int32]]()
        for example in 0..<8 {
            var row = (0..<Int.random(in: 3...6, using: &random)).map { _ in
                Int32.random(in: 2...8, using: &random)
            }
            if example % 2 == 0 { row.insert(9, at: Int.random(in: 0...row.count, using: &random)) }
            inputs.append(row + [1])
            labels.append(example % 2 == 0 ? [4, 1] : [7, 1])
        }
        return T5TrainingBatch(inputs: inputs, labels: labels)
    }

    @Test(arguments: ["adamw", "adafactor"])
    func lossFallsOverTwentyStepsOnAToyTask(_ optimizerName: String) throws {
        var model = try TinyT5.make(gated: optimizerName == "adafactor", tied: true, seed: 40)
        let parameters = model.parameterTable.optimizerParameters
        var adam = AdamW(parameters: parameters, learningRate: 3e-2, weightDecay: 0.01)
        var factor = Adafactor.fineTuning(parameters: parameters, learningRate: 3e-2)
        let batch = Self.toyBatch(seed: 41)
        var generator = TestRandom(seed: 42)
        var losses = [Float]()
        for _ in 0..<20 {
            var (loss, _, gradients) = model.lossAndGradients(
                batch, dropoutRate: 0.1, using: &generator)
            losses.append(loss)
            GradientClipping.clip(&gradients, maxNorm: 1)
            model.updateParameters {
                if optimizerName == "adamw" {
                    adam.step(&$0, gradients: gradients)
                } else {
                    factor.step(&$0, gradients: gradients)
                }
            }
        }
        var evaluation = TestRandom(seed: 0)
        let final = model.lossAndGradients(batch, using: &evaluation).loss
        #expect(final < 0.3 * losses[0], "loss \(losses[0]) → \(final) (\(losses))")
        // The tied head stays the shared embedding after the updates (one stored tensor).
        #expect(model.hasTiedHead)
    }
}
