import Foundation
import InparsModels
import InparsTensor
import InparsTokenizers

/// monoT5 relevance scoring (Nogueira et al., 2020): `log P(true)` of a T5 model reading
/// `Query: {q} Document: {d} Relevant:`.
///
/// The score is the log of a 2-way softmax over the logits of the positive and negative label
/// pieces (`▁true`/`▁false`, or `▁yes`/`▁no` for FLAN-T5) at the first decoder step, whose
/// input is the decoder start token. Label ids are looked up in the tokenizer's vocabulary.
/// Only those two rows of the LM head are computed, and the decoder's cross-attention runs
/// with absorbed projections (one step needs no projected encoder keys/values).
///
/// Inputs longer than ``Options/maxLength`` lose document tokens, never the query prefix's
/// end, `Relevant:` or EOS. Pairs are sorted by length and batched to cut padding.
public struct MonoT5Reranker: Sendable {
    /// Which label pieces the model answers with.
    public enum Labels: String, Sendable, CaseIterable {
        /// `▁true` / `▁false` (castorini monoT5).
        case trueFalse = "true-false"
        /// `▁yes` / `▁no` (FLAN-T5 rerankers).
        case yesNo = "yes-no"

        /// The labels of a model whose folder name or `_name_or_path` is `hint`/`nameOrPath`:
        /// `yesNo` when either contains "flan" (FLAN-T5), else `trueFalse`.
        public static func detect(hint: String, nameOrPath: String?) -> Labels {
            (hint + " " + (nameOrPath ?? "")).lowercased().contains("flan") ? .yesNo : .trueFalse
        }

        /// The (positive, negative) SentencePiece pieces.
        public var pieces: (positive: String, negative: String) {
            switch self {
            case .trueFalse: return ("▁true", "▁false")
            case .yesNo: return ("▁yes", "▁no")
            }
        }
    }

    /// Scoring settings.
    public struct Options: Sendable, Equatable {
        /// Most input tokens per pair, EOS included (T5's `model_max_length`, 512).
        public var maxLength: Int
        /// Pairs per forward pass.
        public var batchSize: Int
        /// `nil`: `yesNo` when the folder name or `_name_or_path` contains "flan", else `trueFalse`.
        public var labels: Labels?

        public init(maxLength: Int = 512, batchSize: Int = 8, labels: Labels? = nil) {
            self.maxLength = maxLength
            self.batchSize = batchSize
            self.labels = labels
        }
    }

    public let model: T5Model
    public let tokenizer: SentencePieceTokenizer
    public let options: Options
    public let labels: Labels
    /// Vocabulary ids of the positive and negative pieces.
    public let labelIDs: (positive: Int32, negative: Int32)
    /// The tokenizer-free part: model, label ids, batching.
    public let scorer: MonoT5Scorer
    /// Builds the truncated encoder inputs (shared with training).
    public let inputBuilder: MonoT5InputBuilder

    /// Builds a reranker from a loaded model and tokenizer.
    ///
    /// - Parameter flanHint: a name (folder, `_name_or_path`) checked for "flan" when
    ///   `options.labels` is `nil`.
    /// - Throws: ``T5Error/missingPiece(piece:directory:)`` when a label piece is not in the
    ///   vocabulary, ``RankerError`` for options out of range.
    public init(
        model: T5Model, tokenizer: SentencePieceTokenizer, options: Options = Options(),
        flanHint: String = "", directory: String = ""
    ) throws {
        let labels =
            options.labels
            ?? Labels.detect(hint: flanHint, nameOrPath: model.configuration.nameOrPath)
        let (positive, negative) = labels.pieces
        guard let positiveID = tokenizer.id(forPiece: positive) else {
            throw T5Error.missingPiece(piece: positive, directory: directory)
        }
        guard let negativeID = tokenizer.id(forPiece: negative) else {
            throw T5Error.missingPiece(piece: negative, directory: directory)
        }
        for id in [positiveID, negativeID] where Int(id) >= model.configuration.vocabSize {
            throw T5Error.missingPiece(
                piece: id == positiveID ? positive : negative, directory: directory)
        }
        self.model = model
        self.tokenizer = tokenizer
        self.options = options
        self.labels = labels
        self.labelIDs = (positiveID, negativeID)
        self.scorer = try MonoT5Scorer(
            model: model, positiveID: positiveID, negativeID: negativeID,
            batchSize: options.batchSize)
        self.inputBuilder = try MonoT5InputBuilder(
            tokenizer: tokenizer, maxLength: options.maxLength)
    }

    /// Loads the model (``T5Model/load(directory:)``) and tokenizer
    /// (`SentencePieceTokenizer.load(directory:)`) from one Hugging Face folder.
    public static func load(directory: URL, options: Options = Options()) throws -> MonoT5Reranker {
        let model = try T5Model.load(directory: directory)
        let tokenizer = try SentencePieceTokenizer.load(directory: directory)
        return try MonoT5Reranker(
            model: model, tokenizer: tokenizer, options: options,
            flanHint: directory.standardizedFileURL.lastPathComponent, directory: directory.path)
    }

    /// The encoder input of a pair (``MonoT5InputBuilder/inputIDs(query:document:)``).
    public func inputIDs(query: String, document: String) -> [Int32] {
        inputBuilder.inputIDs(query: query, document: document)
    }

    /// Scores documents for one query.
    ///
    /// - Returns: `log P(relevant)` per document, in the order given.
    public func score(query: String, documents: [String]) -> [Float] {
        score(inputs: documents.map { inputIDs(query: query, document: $0) })
    }

    /// Scores pre-tokenised inputs (from ``inputIDs(query:document:)``): sorted by length,
    /// batched by ``Options/batchSize``, results returned in input order.
    ///
    /// - Parameter progress: called after each batch with the number of pairs it held.
    public func score(inputs: [[Int32]], progress: ((Int) -> Void)? = nil) -> [Float] {
        scorer.score(inputs: inputs, progress: progress)
    }
}
