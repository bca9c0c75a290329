import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTokenizers

/// monoT5 training: each example becomes encoder input `Query: {q} Document: {d} Relevant:`
/// (document truncated to ``TrainerOptions/maxLength``, ``MonoT5InputBuilder``) and target
/// `▁true </s>` / `▁false </s>` (`▁yes`/`▁no` for FLAN-T5 and mT5); the loss is the mean token
/// cross-entropy over the targets.
public struct MonoT5Recipe: RerankerTrainingRecipe {
    public let tokenizer: SentencePieceTokenizer
    public let labels: MonoT5Reranker.Labels
    /// The target ids of each label: the piece, then EOS.
    public let targets: (positive: [Int32], negative: [Int32])
    public let inputs: MonoT5InputBuilder

    public static func load(directory: URL, modelDirectory: URL, options: TrainerOptions) throws
        -> (model: T5Model, recipe: MonoT5Recipe)
    {
        if options.effectiveLoss != .bce {
            throw TrainingError.invalidOption(
                name: "--loss", value: options.effectiveLoss.rawValue,
                reason: "distillation trains cross-encoder students; a monoT5 student trains on its true/false targets (--loss bce, no --teacher)")
        }
        let model = try T5Model.load(directory: directory)
        let tokenizer = try SentencePieceTokenizer.load(directory: directory)
        let labels =
            options.labels
            ?? MonoT5Reranker.Labels.detect(
                hint: modelDirectory.standardizedFileURL.lastPathComponent,
                nameOrPath: model.configuration.nameOrPath,
                modelType: model.configuration.modelType)
        let targets = try labelTargets(
            labels, tokenizer: tokenizer, vocabularySize: model.configuration.vocabSize,
            directory: modelDirectory.path)
        let inputs = try MonoT5InputBuilder(tokenizer: tokenizer, maxLength: options.maxLength)
        return (
            model,
            MonoT5Recipe(tokenizer: tokenizer, labels: labels, targets: targets, inputs: inputs)
        )
    }

    /// The target ids of each label (the piece, then EOS), checked as scoring checks them.
    public static func labelTargets(
        _ labels: MonoT5Reranker.Labels, tokenizer: SentencePieceTokenizer, vocabularySize: Int,
        directory: String
    ) throws -> (positive: [Int32], negative: [Int32]) {
        let (p, n) = try labels.ids(
            tokenizer: tokenizer, vocabularySize: vocabularySize, directory: directory)
        return ([p, tokenizer.eosID], [n, tokenizer.eosID])
    }

    public var settings: [String: String] { ["--labels": labels.rawValue] }

    public var maxLength: Int { inputs.maxLength }

    public var objective: String { "targets \(labels.pieces.positive)/\(labels.pieces.negative)" }

    /// The encoder inputs and targets of `examples`, and which documents were cut.
    public func makeBatch(_ examples: [TrainingExample]) -> (
        batch: T5TrainingBatch, truncated: [Bool]
    ) {
        var encoder = [[Int32]]()
        var labels = [[Int32]]()
        var truncated = [Bool]()
        for example in examples {
            let input = inputs.encode(query: example.query, document: example.passage)
            encoder.append(input.ids)
            truncated.append(input.truncated)
            labels.append(example.relevant ? targets.positive : targets.negative)
        }
        return (T5TrainingBatch(inputs: encoder, labels: labels), truncated)
    }

    public func accumulateGradients(
        model: T5Model, examples: [TrainingExample], teacherScores: [Float]?,
        options: TrainerOptions, gradientScale: Float, into gradients: inout ParameterStore,
        using generator: inout SeededGenerator
    ) -> (loss: Float, truncated: [Bool]) {
        let (batch, truncated) = makeBatch(examples)
        let loss = model.accumulateGradients(
            batch, dropoutRate: options.dropout, crossAttention: options.crossAttention,
            gradientScale: gradientScale, into: &gradients, using: &generator
        ).loss
        return (loss, truncated)
    }

    public func scorer(model: T5Model, options: TrainerOptions) throws -> any RelevanceScorer {
        try MonoT5Reranker(
            model: model, tokenizer: tokenizer,
            options: ScorerOptions(
                maxLength: options.maxLength, batchSize: options.evalBatchSize, labels: labels))
    }
}
