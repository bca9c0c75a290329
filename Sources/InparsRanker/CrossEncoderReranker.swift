import Foundation
import InparsCore
import InparsModels
import InparsTensor
import InparsTokenizers

/// Cross-encoder relevance scoring (BERT, MiniLM, ELECTRA, RoBERTa, XLM-R / bge-reranker): the
/// pair goes through the encoder as `[CLS] query [SEP] document [SEP]` (`<s> q </s></s> d </s>`
/// for RoBERTa, as the tokenizer's post-processor says) and the classification head scores it.
///
/// Score: the logit for a 1-label head; `log_softmax(logits)[1]` for a 2-label head, as
/// sentence-transformers' `CrossEncoder` reports it. Pairs longer than ``maxLength`` lose tokens
/// from the end of the document only (HF `truncation="only_second"`); a query too long to leave
/// one document token is cut together with the document (`longest_first`, what
/// sentence-transformers does for every pair). Either way the pair counts as truncated.
/// Pairs are sorted by length and batched to cut padding.
public struct CrossEncoderReranker: Sendable {
    public let model: BertModel
    public let tokenizer: any Tokenizer
    public let options: ScorerOptions
    /// Builds the truncated pair inputs (shared with training).
    public let inputBuilder: CrossEncoderInputBuilder

    /// The tokens per pair actually used: `options.maxLength`, lowered to the model's position
    /// limit (``BertConfiguration/maxSequenceLength``) when that is smaller.
    public var maxLength: Int { inputBuilder.maxLength }

    /// - Throws: ``RankerError/invalidOption(name:value:reason:)`` for a batch size below 1,
    ///   monoT5 `labels`, and what ``CrossEncoderInputBuilder`` refuses.
    public init(
        model: BertModel, tokenizer: any Tokenizer, options: ScorerOptions = ScorerOptions(),
        directory: String = ""
    ) throws {
        guard options.batchSize >= 1 else {
            throw RankerError.invalidOption(
                name: "--batch-size", value: String(options.batchSize), reason: "must be at least 1")
        }
        if let labels = options.labels {
            throw RankerError.invalidOption(
                name: "--labels", value: labels.rawValue,
                reason: "label pieces are for monoT5 models; '\(directory)' is a cross-encoder, whose head scores pairs itself")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.options = options
        self.inputBuilder = try CrossEncoderInputBuilder(
            tokenizer: tokenizer, configuration: model.configuration, maxLength: options.maxLength,
            directory: directory)
    }

    /// Loads the model (``BertModel/load(directory:precision:)``, at `options.precision`) and
    /// tokenizer (`TokenizerLoader.load(directory:)`: `tokenizer.json`, else `vocab.txt`) of
    /// one folder.
    public static func load(directory: URL, options: ScorerOptions = ScorerOptions()) throws
        -> CrossEncoderReranker
    {
        let model = try BertModel.load(directory: directory, precision: options.precision)
        let tokenizer = try TokenizerLoader.load(directory: directory)
        return try CrossEncoderReranker(
            model: model, tokenizer: tokenizer, options: options, directory: directory.path)
    }

    /// The model input of a pair, cut to ``maxLength``, and whether it was cut
    /// (``CrossEncoderInputBuilder/encode(query:document:)``).
    public func encode(query: String, document: String) -> (input: BertInput, truncated: Bool) {
        inputBuilder.encode(query: query, document: document)
    }

    /// Scores encoded pairs: sorted by length (longest first), batched by
    /// ``ScorerOptions/batchSize``, results returned in input order.
    ///
    /// - Parameter progress: called after each batch with the number of pairs it held.
    public func score(inputs: [BertInput], progress: ((Int) -> Void)? = nil) -> [Float] {
        let order = inputs.indices.sorted {
            (inputs[$0].ids.count, $1) > (inputs[$1].ids.count, $0)
        }
        var scores = [Float](repeating: 0, count: inputs.count)
        var start = 0
        while start < order.count {
            let end = min(start + options.batchSize, order.count)
            let batch = order[start..<end].map { inputs[$0] }
            let batchScores = model.relevanceScores(model.logits(batch))
            for (index, score) in zip(order[start..<end], batchScores) { scores[index] = score }
            progress?(end - start)
            start = end
        }
        return scores
    }
}

extension CrossEncoderReranker: RelevanceScorer {
    public var name: String { "cross-encoder" }

    public var details: String {
        let c = model.configuration
        let how = c.numLabels == 1 ? "1 label: the logit" : "2 labels: log-softmax of label 1"
        let limit =
            maxLength < options.maxLength
            ? "at most \(maxLength) tokens (the model's position limit; \(options.maxLength) asked)"
            : "at most \(maxLength) tokens"
        let precision = model.precision == .fp32 ? "" : ", \(model.precision.rawValue) linear layers"
        return "cross-encoder (\(c.modelType), \(how), \(limit)\(precision))"
    }

    public func score(_ pairs: [ScoringPair], progress: ((Int) -> Void)?) -> PairScores {
        var truncated = 0
        let inputs = pairs.map { pair in
            let encoded = encode(query: pair.query, document: pair.document)
            if encoded.truncated { truncated += 1 }
            return encoded.input
        }
        return PairScores(
            scores: score(inputs: inputs, progress: progress), truncatedDocuments: truncated)
    }
}
