import Foundation
import InparsCore
import InparsModels
import InparsRanker

/// What ``RerankerTrainer`` needs from a model family: loading the model and its tokenizer
/// from a folder, the loss and gradients of a micro-batch of examples, and a scorer of the
/// current weights for evaluation. Everything else (data stream, optimizer, schedule, clipping,
/// checkpoints, resume, evaluation, logs) is the trainer's, the same for every family.
public protocol RerankerTrainingRecipe: Sendable {
    associatedtype Model: ParameterizedModel

    /// The model and the recipe of the folder `directory` (the source model, or the checkpoint
    /// a run resumes from).
    ///
    /// - Parameter modelDirectory: the run's source folder (its name may decide labels).
    static func load(directory: URL, modelDirectory: URL, options: TrainerOptions) throws
        -> (model: Model, recipe: Self)

    /// Settings beyond the shared ones that change what a run computes, recorded in
    /// `trainer_state.json`; a resumed run must match them.
    var settings: [String: String] { get }

    /// What the model is trained to output, for the plan line (`targets ▁true/▁false`).
    var objective: String { get }

    /// The tokens per example the inputs are cut to: `--max-length`, or the model's position
    /// limit when lower.
    var maxLength: Int { get }

    /// Adds `gradientScale ×` the gradients of one micro-batch into `gradients`.
    ///
    /// - Parameter teacherScores: with distillation, the teacher's score of each example.
    /// - Returns: the micro-batch's loss, and per example whether `--max-length` cut its
    ///   document.
    func accumulateGradients(
        model: Model, examples: [TrainingExample], teacherScores: [Float]?,
        options: TrainerOptions, gradientScale: Float, into gradients: inout ParameterStore,
        using generator: inout SeededGenerator
    ) -> (loss: Float, truncated: [Bool])

    /// A scorer of `model`'s current weights, for evaluation during training.
    func scorer(model: Model, options: TrainerOptions) throws -> any RelevanceScorer
}

/// Fine-tunes a T5 model as a monoT5 reranker.
public typealias MonoT5Trainer = RerankerTrainer<MonoT5Recipe>
/// Fine-tunes a BERT-style cross-encoder (BERT, MiniLM, ELECTRA, RoBERTa, XLM-R).
public typealias CrossEncoderTrainer = RerankerTrainer<CrossEncoderRecipe>
