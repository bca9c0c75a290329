import Foundation
import InparsCore
import InparsTensor

/// The `config.json` of a BERT-style encoder with a sequence-classification head: BERT and
/// MiniLM (`bert`), ELECTRA discriminators (`electra`), RoBERTa and XLM-RoBERTa (`roberta`,
/// `xlm-roberta`), with transformers' defaults where a field is absent.
public struct BertConfiguration: Sendable, Equatable {
    /// Where the three variants differ: the state-dict prefix, the position ids and the head.
    public enum Variant: String, Sendable, CaseIterable {
        /// `bert.*`; pooler (`dense` + tanh on `[CLS]`) and `classifier` linear.
        case bert
        /// `electra.*`, an `embeddings_project` when `embedding_size` differs from
        /// `hidden_size`; head `classifier.dense` + GELU + `classifier.out_proj` on `[CLS]`.
        case electra
        /// `roberta.*`, positions starting at `pad_token_id + 1`; head `classifier.dense` +
        /// tanh + `classifier.out_proj` on `<s>`.
        case roberta

        /// The variant of a `model_type`.
        public init?(modelType: String) {
            switch modelType {
            case "bert": self = .bert
            case "electra": self = .electra
            case "roberta", "xlm-roberta": self = .roberta
            default: return nil
            }
        }

        /// The state-dict prefix of the encoder's weights.
        var prefix: String { rawValue }
    }

    public var variant: Variant
    /// `model_type` as written (`xlm-roberta` stays distinguishable from `roberta`).
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    /// ELECTRA's embedding width (`embedding_size`); `hiddenSize` for the others.
    public var embeddingSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var intermediateSize: Int
    public var activation: Activation
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEpsilon: Float
    public var padTokenID: Int
    /// Outputs of the classification head: `len(id2label)`, else `num_labels`, else 2.
    public var numLabels: Int
    /// Dropout of training passes (`hidden_dropout_prob`; the attention probabilities use
    /// ``attentionDropout``).
    public var hiddenDropout: Float
    public var attentionDropout: Float

    /// The first position id (RoBERTa: `pad_token_id + 1`; 0 otherwise).
    public var positionOffset: Int { variant == .roberta ? padTokenID + 1 : 0 }

    /// The longest input the position table covers: `max_position_embeddings` less the
    /// RoBERTa offset (XLM-R: 514 − 2 = 512).
    public var maxSequenceLength: Int { maxPositionEmbeddings - positionOffset }

    /// Per-head width.
    public var headDimension: Int { hiddenSize / numHeads }

    /// Reads and checks `directory/config.json`.
    ///
    /// - Throws: ``ModelError/configurationNotFound(path:)``,
    ///   ``ModelError/invalidConfiguration(path:reason:)`` naming the field.
    public static func load(directory: URL) throws -> BertConfiguration {
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.configurationNotFound(path: url.path)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.invalidConfiguration(path: url.path, reason: "not a JSON object")
        }
        return try BertConfiguration(object: object, path: url.path)
    }

    /// Decodes a parsed `config.json` (`path` names it in errors).
    public init(object: [String: Any], path: String = "config.json") throws {
        func invalid(_ reason: String) -> ModelError {
            .invalidConfiguration(path: path, reason: reason)
        }
        func integer(_ key: String, _ fallback: Int?) throws -> Int {
            guard let value = object[key] else {
                guard let fallback else { throw invalid("field '\(key)' is missing") }
                return fallback
            }
            // (Foundation on Linux bridges JSON 0 and 1 to Bool too, so no Bool check here.)
            guard let number = value as? NSNumber, !(value is String),
                number.doubleValue == number.doubleValue.rounded()
            else { throw invalid("field '\(key)' is not an integer") }
            return number.intValue
        }
        func real(_ key: String, _ fallback: Double) throws -> Float {
            guard let value = object[key], !(value is NSNull) else { return Float(fallback) }
            guard let number = value as? NSNumber, !(value is String) else {
                throw invalid("field '\(key)' is not a number")
            }
            return number.floatValue
        }
        // Without `model_type`, the registry recognised the folder by its `architectures`.
        let classes: [String: String] = [
            "BertForSequenceClassification": "bert", "ElectraForSequenceClassification": "electra",
            "RobertaForSequenceClassification": "roberta",
            "XLMRobertaForSequenceClassification": "xlm-roberta",
        ]
        let named =
            object["model_type"] as? String
            ?? (object["architectures"] as? [String])?.lazy.compactMap { classes[$0] }.first
        guard let type = named, let variant = Variant(modelType: type) else {
            throw invalid(
                "field 'model_type' must be bert, electra, roberta or xlm-roberta for a cross-encoder")
        }
        self.variant = variant
        modelType = type
        vocabSize = try integer("vocab_size", 30522)
        hiddenSize = try integer("hidden_size", variant == .electra ? 256 : 768)
        embeddingSize = variant == .electra ? try integer("embedding_size", 128) : hiddenSize
        numLayers = try integer("num_hidden_layers", 12)
        numHeads = try integer("num_attention_heads", variant == .electra ? 4 : 12)
        intermediateSize = try integer("intermediate_size", variant == .electra ? 1024 : 3072)
        maxPositionEmbeddings = try integer("max_position_embeddings", 512)
        typeVocabSize = try integer("type_vocab_size", 2)
        padTokenID = try integer("pad_token_id", variant == .roberta ? 1 : 0)
        layerNormEpsilon = try real("layer_norm_eps", 1e-12)
        hiddenDropout = try real("hidden_dropout_prob", 0.1)
        attentionDropout = try real("attention_probs_dropout_prob", 0.1)
        let act = object["hidden_act"] ?? "gelu"
        guard let name = act as? String, let activation = Activation(huggingFaceName: name) else {
            throw invalid("field 'hidden_act' \(act) is not supported (use gelu, gelu_new, relu or silu)")
        }
        self.activation = activation
        if let position = object["position_embedding_type"], !(position is NSNull) {
            guard position as? String == "absolute" else {
                throw invalid(
                    "field 'position_embedding_type' is \(position); only absolute position embeddings are supported")
            }
        }
        if let labels = object["id2label"] as? [String: Any], !labels.isEmpty {
            numLabels = labels.count
        } else {
            numLabels = try integer("num_labels", 2)
        }
        for (name, value) in [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize),
            ("embedding_size", embeddingSize), ("num_hidden_layers", numLayers),
            ("num_attention_heads", numHeads), ("intermediate_size", intermediateSize),
            ("type_vocab_size", typeVocabSize), ("num_labels", numLabels),
        ] where value <= 0 {
            throw invalid("field '\(name)' must be positive, got \(value)")
        }
        guard hiddenSize % numHeads == 0 else {
            throw invalid(
                "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numHeads)")
        }
        guard maxPositionEmbeddings > positionOffset else {
            throw invalid(
                "max_position_embeddings \(maxPositionEmbeddings) leaves no positions after the offset \(positionOffset)")
        }
        guard (1...2).contains(numLabels) else {
            throw invalid(
                "the classification head has \(numLabels) labels; a relevance cross-encoder has 1 (a score) or 2 (irrelevant, relevant)")
        }
    }
}
