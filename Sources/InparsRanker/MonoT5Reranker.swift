import Foundation
import InparsCore
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
/// Inputs longer than ``ScorerOptions/maxLength`` lose document tokens, never the query prefix's
/// end, `Relevant:` or EOS. Pairs are sorted by length and batched to cut padding.
public struct MonoT5Reranker: Sendable {
    /// Which label pieces the model answers with.
    public enum Labels: String, Sendable, CaseIterable {
        /// `▁true` / `▁false` (castorini monoT5).
        case trueFalse = "true-false"
        /// `▁yes` / `▁no` (FLAN-T5 rerankers).
        case yesNo = "yes-no"

        /// The labels of a model whose folder name or `_name_or_path` is `hint`/`nameOrPath`
        /// and whose `config.json` `model_type` is `modelType`: `yesNo` when either name
        /// contains "flan" (FLAN-T5) or the model is an mT5 (the mMARCO multilingual monoT5
        /// rerankers, `unicamp-dl/mt5-*`, answer `▁yes`/`▁no`, as pygaggle's table has it), else
        /// `trueFalse`.
        public static func detect(hint: String, nameOrPath: String?, modelType: String? = nil)
            -> Labels
        {
            if modelType == "mt5" { return .yesNo }
            return (hint + " " + (nameOrPath ?? "")).lowercased().contains("flan")
                ? .yesNo : .trueFalse
        }

        /// The (positive, negative) SentencePiece pieces.
        public var pieces: (positive: String, negative: String) {
            switch self {
            case .trueFalse: return ("▁true", "▁false")
            case .yesNo: return ("▁yes", "▁no")
            }
        }
    }

    public let model: T5Model
    public let tokenizer: SentencePieceTokenizer
    public let options: ScorerOptions
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
    /// - Throws: ``ModelError/missingPiece(piece:directory:)`` when a label piece is not in the
    ///   vocabulary, ``RankerError/labelNotSingleToken(word:piece:encoded:directory:)`` when the
    ///   label word does not encode to that piece alone, ``RankerError`` for options out of range.
    public init(
        model: T5Model, tokenizer: SentencePieceTokenizer,
        options: ScorerOptions = ScorerOptions(), flanHint: String = "", directory: String = ""
    ) throws {
        let labels =
            options.labels
            ?? Labels.detect(
                hint: flanHint, nameOrPath: model.configuration.nameOrPath,
                modelType: model.configuration.modelType)
        let (positiveID, negativeID) = try labels.ids(
            tokenizer: tokenizer, vocabularySize: model.configuration.vocabSize,
            directory: directory)
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

    /// Loads the model (``T5Model/load(directory:precision:)``, at `options.precision`) and tokenizer
    /// (`SentencePieceTokenizer.load(directory:)`) from one Hugging Face folder.
    public static func load(directory: URL, options: ScorerOptions = ScorerOptions()) throws
        -> MonoT5Reranker
    {
        let model = try T5Model.load(directory: directory, precision: options.precision)
        let tokenizer = try SentencePieceTokenizer.load(directory: directory)
        return try MonoT5Reranker(
            model: model, tokenizer: tokenizer, options: options,
            flanHint: ModelFolderName.of(directory), directory: directory.path)
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
    /// batched by ``ScorerOptions/batchSize``, results returned in input order.
    ///
    /// - Parameter progress: called after each batch with the number of pairs it held.
    public func score(inputs: [[Int32]], progress: ((Int) -> Void)? = nil) -> [Float] {
        scorer.score(inputs: inputs, progress: progress)
    }
}

extension MonoT5Reranker: RelevanceScorer {
    public var name: String { "monoT5" }

    public var details: String {
        let precision = model.precision == .fp32 ? "" : ", \(model.precision.rawValue) linear layers"
        return "monoT5 (\(labels.rawValue) labels, at most \(options.maxLength) tokens\(precision))"
    }

    public var maxLength: Int { options.maxLength }

    /// Scores pairs of any queries in one length-sorted, batched pass (``score(inputs:progress:)``).
    public func score(_ pairs: [ScoringPair], progress: ((Int) -> Void)?) -> PairScores {
        var truncated = 0
        let inputs = pairs.map { pair in
            let input = inputBuilder.encode(query: pair.query, document: pair.document)
            if input.truncated { truncated += 1 }
            return input.ids
        }
        return PairScores(
            scores: score(inputs: inputs, progress: progress), truncatedDocuments: truncated)
    }
}

extension MonoT5Reranker.Labels {
    /// The vocabulary ids of the positive and negative pieces, checked: each piece exists in
    /// `tokenizer` and in the model's vocabulary, and its word ("true", "yes", …) encodes to
    /// that piece alone, so the token scored (and trained) is the one the model produces for
    /// the word. Shared by scoring and training.
    ///
    /// - Throws: ``ModelError/missingPiece(piece:directory:)``,
    ///   ``RankerError/labelNotSingleToken(word:piece:encoded:directory:)``.
    public func ids(
        tokenizer: any Tokenizer, vocabularySize: Int, directory: String
    ) throws -> (positive: Int32, negative: Int32) {
        func id(_ piece: String) throws -> Int32 {
            guard let id = tokenizer.id(forToken: piece), Int(id) < vocabularySize else {
                throw ModelError.missingPiece(piece: piece, directory: directory)
            }
            let word = String(piece.drop { $0 == "▁" })
            let encoded = tokenizer.tokenize(word)
            guard encoded == [id] else {
                throw RankerError.labelNotSingleToken(
                    word: word, piece: piece,
                    encoded: encoded.map { tokenizer.token(forID: $0) ?? "#\($0)" },
                    directory: directory)
            }
            return id
        }
        let (positive, negative) = pieces
        return (try id(positive), try id(negative))
    }
}
