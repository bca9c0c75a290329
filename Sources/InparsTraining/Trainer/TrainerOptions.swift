import Foundation
import InparsModels
import InparsRanker

/// The settings of a training run (`inpars train` flags).
public struct TrainerOptions: Sendable, Equatable {
    /// The training loss (`--loss`).
    public enum LossKind: String, Sendable, Equatable, Codable, CaseIterable {
        /// The family's own objective on the relevance labels: monoT5's target cross-entropy,
        /// a cross-encoder's pointwise binary cross-entropy.
        case bce
        /// Margin-MSE (Hofstätter et al. 2020) on a teacher's score margins: per triple,
        /// `((s⁺ − s⁻) − (t⁺ − t⁻))²` (cross-encoders, with `--teacher`).
        case marginMSE = "margin-mse"
    }

    /// `adamw` or `adafactor` (fine-tuning mode: explicit learning rate, no relative step,
    /// no parameter scaling, no first moment).
    public enum OptimizerKind: String, Sendable, Equatable, Codable, CaseIterable {
        case adamw, adafactor
    }

    /// `constant` or `linear` decay to 0 at the last step, both after linear warmup.
    public enum ScheduleKind: String, Sendable, Equatable, Codable, CaseIterable {
        case constant, linear
    }

    public var optimizer: OptimizerKind = .adamw
    /// Base learning rate (`--lr`, 3e-4 as the InPars scripts).
    public var learningRate: Double = 3e-4
    /// Decoupled weight decay (Hugging Face default 0); layer norms are exempt.
    public var weightDecay: Double = 0
    public var schedule: ScheduleKind = .constant
    public var warmupSteps = 0
    /// Examples per micro-batch (with triples: even, half positives and half negatives).
    public var batchSize = 8
    /// Micro-batches per optimizer step.
    public var gradientAccumulation = 1
    /// Global gradient-norm clipping (0 turns it off).
    public var maxGradNorm: Float = 1
    /// Optimizer steps. Exactly one of `steps` / `epochs` is set.
    public var steps: Int?
    /// Passes over the training units (fractions allowed); rounded up to whole steps.
    public var epochs: Double?
    /// Dropout rate (the config's `dropout_rate` unless overridden).
    public var dropout: Float = 0.1
    /// Seeds data order and dropout.
    public var seed: UInt64 = 42
    /// Most input tokens per example, EOS included.
    public var maxLength = 512
    /// `nil`: detected as the reranker does (FLAN-T5 → yes/no).
    public var labels: MonoT5Reranker.Labels?
    /// Save a checkpoint every this many steps (`nil`: only at the end).
    public var saveEvery: Int?
    /// Evaluate every this many steps (`nil`: only at the end, when evaluation is configured).
    public var evalEvery: Int?
    /// Keep only the newest this many `checkpoint-<step>` folders (`nil`: keep all); `best`
    /// and `final` are separate folders and never removed.
    public var keepLast: Int?
    /// Keep the checkpoint with the best eval nDCG@10 as `best`.
    public var keepBest = false
    /// Progress line every this many steps.
    public var logEvery = 10
    /// Pairs per forward pass during evaluation.
    public var evalBatchSize = 16
    public var crossAttention: T5CrossAttentionStrategy = .automatic
    /// `nil`: `marginMSE` with a teacher, else `bce`.
    public var loss: LossKind?
    /// The teacher model folder for distillation (any relevance model: monoT5 or a
    /// cross-encoder); it scores every training (query, passage) pair once, up front.
    public var teacher: URL?

    public init() {}

    /// The loss this run trains with.
    public var effectiveLoss: LossKind { loss ?? (teacher == nil ? .bce : .marginMSE) }

    /// Optimizer steps for `unitCount` training units.
    public func totalSteps(unitCount: Int, examplesPerUnit: Int) -> Int {
        if let steps { return steps }
        let unitsPerStep =
            unitsPerMicroBatch(examplesPerUnit: examplesPerUnit) * gradientAccumulation
        let units = (epochs ?? 1) * Double(unitCount)
        return max(1, Int((units / Double(unitsPerStep)).rounded(.up)))
    }

    /// Units per micro-batch: `batchSize / 2` triples or `batchSize` pairs.
    public func unitsPerMicroBatch(examplesPerUnit: Int) -> Int { batchSize / examplesPerUnit }
}

extension TrainerOptions {
    /// The dropout of a model folder's `config.json`: T5's `dropout_rate`, else BERT's
    /// `hidden_dropout_prob` (transformers' default 0.1 when absent).
    ///
    /// - Throws: `ModelError.configurationNotFound` / `.invalidConfiguration`.
    public static func configDropout(directory: URL) throws -> Float {
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.configurationNotFound(path: url.path)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.invalidConfiguration(path: url.path, reason: "not a JSON object")
        }
        let key = object["dropout_rate"] == nil ? "hidden_dropout_prob" : "dropout_rate"
        guard let value = object[key] else { return 0.1 }
        guard let number = value as? NSNumber, (0..<1).contains(number.doubleValue) else {
            throw ModelError.invalidConfiguration(
                path: url.path, reason: "field '\(key)' must be a number in [0, 1)")
        }
        return number.floatValue
    }
}
