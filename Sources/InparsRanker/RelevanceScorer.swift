import Foundation
import InparsModels
import InparsTensor

/// A (query, document) pair to score.
public struct ScoringPair: Sendable, Hashable {
    public var query: String
    public var document: String

    public init(query: String, document: String) {
        self.query = query
        self.document = document
    }
}

/// The scores of a batch of pairs.
public struct PairScores: Sendable, Equatable {
    /// One score per pair, in the order given; higher is more relevant.
    public var scores: [Float]
    /// Pairs whose document lost tokens to fit ``RelevanceScorer/maxLength``.
    public var truncatedDocuments: Int

    public init(scores: [Float], truncatedDocuments: Int = 0) {
        self.scores = scores
        self.truncatedDocuments = truncatedDocuments
    }

    /// Whether `pairs` hold at least two different (query, document) pairs and every score is
    /// the same: a model that ignores its input (wrong label pieces, a broken checkpoint,
    /// pygaggle #325), whose ranking silently falls back to the input order.
    public func allAlike(for pairs: [ScoringPair]) -> Bool {
        guard let first = scores.first, scores.count >= 2, Set(pairs).count >= 2 else {
            return false
        }
        return scores.allSatisfy { $0 == first }
    }
}

/// Scores (query, document) pairs for relevance.
///
/// The seam between what ranks — `rerank` (``RunReranker``), `filter --strategy
/// reranker|consistency` (`QueryFilter`) and evaluation during training (`TrainingEvaluation`)
/// — and the models that score: ``MonoT5Reranker`` (T5) and ``CrossEncoderReranker`` (BERT,
/// ELECTRA, RoBERTa, XLM-R).
/// ``RelevanceScorers/load(directory:options:)`` picks the implementation from a model folder.
public protocol RelevanceScorer {
    /// A short name for run tags and summaries, e.g. `monoT5`.
    var name: String { get }
    /// One line for summaries: the model and how it scores, e.g.
    /// `monoT5 (true-false labels, at most 512 tokens)`.
    var details: String { get }
    /// Most model input tokens per pair; longer documents are truncated and counted in
    /// ``PairScores/truncatedDocuments``.
    var maxLength: Int { get }

    /// Scores a batch of pairs; the queries may differ from pair to pair.
    ///
    /// - Parameter progress: called as scoring proceeds, with the number of pairs just done.
    /// - Returns: one score per pair, in the order given, and the truncation count.
    func score(_ pairs: [ScoringPair], progress: ((Int) -> Void)?) throws -> PairScores
}

/// Settings for loading a relevance scorer.
public struct ScorerOptions: Sendable, Equatable {
    /// Most input tokens per pair, special tokens included (512: T5's `model_max_length`).
    public var maxLength: Int
    /// Pairs per forward pass.
    public var batchSize: Int
    /// monoT5 label pieces; `nil`: `yesNo` when the folder name or `_name_or_path` contains
    /// "flan", else `trueFalse`.
    public var labels: MonoT5Reranker.Labels?
    /// The number format of the model's linear layers (converted once at load).
    public var precision: Precision

    public init(
        maxLength: Int = 512, batchSize: Int = 8, labels: MonoT5Reranker.Labels? = nil,
        precision: Precision = .fp32
    ) {
        self.maxLength = maxLength
        self.batchSize = batchSize
        self.labels = labels
        self.precision = precision
    }
}

/// Loads the relevance scorer of a model folder.
public enum RelevanceScorers {
    /// The scorer of the model in `directory`: the family comes from its `config.json`
    /// (``InparsModels/ModelRegistry``), then that family's scorer loads the weights and the
    /// tokenizer.
    ///
    /// - Throws: `ModelError` for a folder without a readable `config.json` or of a family
    ///   inpars does not run (the message lists the supported ones); the family loader's errors
    ///   (`ModelError`, `CheckpointError`, `TokenizerError`) naming the file.
    public static func load(directory: URL, options: ScorerOptions = ScorerOptions()) throws
        -> any RelevanceScorer
    {
        let folder = try ModelRegistry.resolve(directory: directory)
        switch folder.family {
        case .t5: return try MonoT5Reranker.load(directory: directory, options: options)
        case .bert:
            return try CrossEncoderReranker.load(directory: directory, options: options)
        case .causalLM: throw notAScorer(directory)
        }
    }

    /// Throws what ``load(directory:options:)`` would for a folder that is not a model of a
    /// family that scores pairs, reading only its `config.json` (a cheap check before long
    /// preparations).
    public static func check(directory: URL) throws {
        switch try ModelRegistry.resolve(directory: directory).family {
        case .t5, .bert: return
        case .causalLM: throw notAScorer(directory)
        }
    }

    private static func notAScorer(_ directory: URL) -> ModelError {
        .unsupportedTask(
            directory: directory.path, family: .causalLM, task: "score query-document pairs",
            instead: "it generates queries (inpars generate --model); rerank and filter need a reranker folder (monoT5 or a cross-encoder)")
    }
}
