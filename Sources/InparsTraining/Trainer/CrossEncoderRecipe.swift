import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTensor
import InparsTokenizers

/// Cross-encoder training (InPars-light, the InPars toolkit's BERT-style rerankers): each
/// example becomes the pair input of ``CrossEncoderInputBuilder`` (document-only truncation to
/// ``TrainerOptions/maxLength``, lowered to the model's position limit) and the loss is
/// pointwise (``CrossEncoderLoss/pointwise(numLabels:relevant:)``): binary cross-entropy on the
/// logit of a 1-label head, cross-entropy over a 2-label head; or, distilling a teacher,
/// Margin-MSE on the teacher's score margins (``CrossEncoderLoss/marginMSE(numLabels:teacherMargins:)``).
public struct CrossEncoderRecipe: RerankerTrainingRecipe {
    public let inputs: CrossEncoderInputBuilder
    public let numLabels: Int
    public let loss: TrainerOptions.LossKind

    public static func load(directory: URL, modelDirectory: URL, options: TrainerOptions) throws
        -> (model: BertModel, recipe: CrossEncoderRecipe)
    {
        if let labels = options.labels {
            throw TrainingError.invalidOption(
                name: "--labels", value: labels.rawValue,
                reason: "label pieces are for monoT5 models; '\(modelDirectory.path)' is a cross-encoder, trained on its classification head")
        }
        let model = try BertModel.load(directory: directory)
        let tokenizer = try TokenizerLoader.load(directory: directory)
        let inputs = try CrossEncoderInputBuilder(
            tokenizer: tokenizer, configuration: model.configuration,
            maxLength: options.maxLength, directory: modelDirectory.path)
        return (
            model,
            CrossEncoderRecipe(
                inputs: inputs, numLabels: model.configuration.numLabels,
                loss: options.effectiveLoss)
        )
    }

    public var settings: [String: String] { ["loss": objective] }

    public var maxLength: Int { inputs.maxLength }

    public var objective: String {
        if loss == .marginMSE { return "loss Margin-MSE on the teacher's score margins" }
        return numLabels == 1
            ? "loss pointwise binary cross-entropy on the logit"
            : "loss pointwise cross-entropy over 2 labels"
    }

    public func accumulateGradients(
        model: BertModel, examples: [TrainingExample], teacherScores: [Float]?,
        options: TrainerOptions, gradientScale: Float, into gradients: inout ParameterStore,
        using generator: inout SeededGenerator
    ) -> (loss: Float, truncated: [Bool]) {
        let encoded = examples.map { inputs.encode(query: $0.query, document: $0.passage) }
        let objective: (Tensor) -> (loss: Float, gradient: Tensor)
        if loss == .marginMSE, let teacherScores {
            // Triples arrive as consecutive (positive, negative) examples.
            let margins = stride(from: 0, to: teacherScores.count, by: 2).map {
                teacherScores[$0] - teacherScores[$0 + 1]
            }
            objective = CrossEncoderLoss.marginMSE(numLabels: numLabels, teacherMargins: margins)
        } else {
            objective = CrossEncoderLoss.pointwise(
                numLabels: numLabels, relevant: examples.map(\.relevant))
        }
        let loss = model.accumulateGradients(
            encoded.map(\.input), dropoutRate: options.dropout, gradientScale: gradientScale,
            into: &gradients, using: &generator, loss: objective)
        return (loss, encoded.map(\.truncated))
    }

    public func scorer(model: BertModel, options: TrainerOptions) throws -> any RelevanceScorer {
        try CrossEncoderReranker(
            model: model, tokenizer: inputs.tokenizer,
            options: ScorerOptions(maxLength: options.maxLength, batchSize: options.evalBatchSize))
    }
}
