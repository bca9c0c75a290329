import Foundation
import InparsCore
import InparsTensor

/// The fields of a Hugging Face T5 `config.json` that the model needs.
///
/// Covers T5 v1.0 (`feed_forward_proj = "relu"`, tied embeddings), T5 v1.1 / FLAN-T5 / mT5
/// (`"gated-gelu"`, untied `lm_head`). Missing fields take `transformers.T5Config`'s defaults.
/// transformers 5 writes `scale_decoder_outputs` and always `tie_word_embeddings: true`; older
/// files only have `tie_word_embeddings`, whose value then decides the d_model^-0.5 rescaling.
public struct T5Configuration: Codable, Sendable, Equatable {
    /// `model_type`; must be `"t5"` (or `"mt5"`, the same architecture).
    public var modelType: String?
    /// `_name_or_path`, when the file records it (used to recognise FLAN-T5).
    public var nameOrPath: String?
    public var vocabSize: Int
    public var dModel: Int
    public var dKV: Int
    public var dFF: Int
    /// Encoder blocks.
    public var numLayers: Int
    /// Decoder blocks (defaults to `numLayers`).
    public var numDecoderLayers: Int
    public var numHeads: Int
    public var relativeAttentionNumBuckets: Int
    public var relativeAttentionMaxDistance: Int
    public var layerNormEpsilon: Float
    /// `relu`, `gelu`, `gated-gelu`, `gated-silu`, ...
    public var feedForwardProj: String
    public var tieWordEmbeddings: Bool
    /// Multiply the decoder output by `dModel^-0.5` before the LM head (T5 v1.0).
    public var scaleDecoderOutputs: Bool
    public var decoderStartTokenID: Int
    public var padTokenID: Int
    public var eosTokenID: Int

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case nameOrPath = "_name_or_path"
        case vocabSize = "vocab_size"
        case dModel = "d_model"
        case dKV = "d_kv"
        case dFF = "d_ff"
        case numLayers = "num_layers"
        case numDecoderLayers = "num_decoder_layers"
        case numHeads = "num_heads"
        case relativeAttentionNumBuckets = "relative_attention_num_buckets"
        case relativeAttentionMaxDistance = "relative_attention_max_distance"
        case layerNormEpsilon = "layer_norm_epsilon"
        case feedForwardProj = "feed_forward_proj"
        case tieWordEmbeddings = "tie_word_embeddings"
        case scaleDecoderOutputs = "scale_decoder_outputs"
        case decoderStartTokenID = "decoder_start_token_id"
        case padTokenID = "pad_token_id"
        case eosTokenID = "eos_token_id"
    }

    /// A configuration with `transformers.T5Config`'s defaults (t5-small) unless overridden.
    public init(
        vocabSize: Int = 32128, dModel: Int = 512, dKV: Int = 64, dFF: Int = 2048,
        numLayers: Int = 6, numDecoderLayers: Int? = nil, numHeads: Int = 8,
        relativeAttentionNumBuckets: Int = 32, relativeAttentionMaxDistance: Int = 128,
        layerNormEpsilon: Float = 1e-6, feedForwardProj: String = "relu",
        tieWordEmbeddings: Bool = true, scaleDecoderOutputs: Bool? = nil,
        decoderStartTokenID: Int = 0, padTokenID: Int = 0, eosTokenID: Int = 1
    ) {
        self.modelType = "t5"
        self.vocabSize = vocabSize
        self.dModel = dModel
        self.dKV = dKV
        self.dFF = dFF
        self.numLayers = numLayers
        self.numDecoderLayers = numDecoderLayers ?? numLayers
        self.numHeads = numHeads
        self.relativeAttentionNumBuckets = relativeAttentionNumBuckets
        self.relativeAttentionMaxDistance = relativeAttentionMaxDistance
        self.layerNormEpsilon = layerNormEpsilon
        self.feedForwardProj = feedForwardProj
        self.tieWordEmbeddings = tieWordEmbeddings
        self.scaleDecoderOutputs = scaleDecoderOutputs ?? tieWordEmbeddings
        self.decoderStartTokenID = decoderStartTokenID
        self.padTokenID = padTokenID
        self.eosTokenID = eosTokenID
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        nameOrPath = try c.decodeIfPresent(String.self, forKey: .nameOrPath)
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? 32128
        dModel = try c.decodeIfPresent(Int.self, forKey: .dModel) ?? 512
        dKV = try c.decodeIfPresent(Int.self, forKey: .dKV) ?? 64
        dFF = try c.decodeIfPresent(Int.self, forKey: .dFF) ?? 2048
        numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? 6
        numDecoderLayers = try c.decodeIfPresent(Int.self, forKey: .numDecoderLayers) ?? numLayers
        numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? 8
        relativeAttentionNumBuckets =
            try c.decodeIfPresent(Int.self, forKey: .relativeAttentionNumBuckets) ?? 32
        relativeAttentionMaxDistance =
            try c.decodeIfPresent(Int.self, forKey: .relativeAttentionMaxDistance) ?? 128
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? 1e-6
        feedForwardProj = try c.decodeIfPresent(String.self, forKey: .feedForwardProj) ?? "relu"
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? true
        scaleDecoderOutputs =
            try c.decodeIfPresent(Bool.self, forKey: .scaleDecoderOutputs) ?? tieWordEmbeddings
        padTokenID = try c.decodeIfPresent(Int.self, forKey: .padTokenID) ?? 0
        decoderStartTokenID =
            try c.decodeIfPresent(Int.self, forKey: .decoderStartTokenID) ?? padTokenID
        // `eos_token_id` may be an int or a list of ints; the first one ends a sequence.
        if let single = try? c.decodeIfPresent(Int.self, forKey: .eosTokenID) {
            eosTokenID = single
        } else if let list = try? c.decodeIfPresent([Int].self, forKey: .eosTokenID),
            let first = list.first
        {
            eosTokenID = first
        } else {
            eosTokenID = 1
        }
    }

    /// Whether the feed-forward block is gated (`gated-gelu`, `gated-silu`: T5 v1.1, FLAN-T5).
    public var isGatedActivation: Bool { feedForwardProj.hasPrefix("gated-") }

    /// The feed-forward activation as `transformers` maps `feed_forward_proj` (`gated-gelu` →
    /// `gelu_new`, the tanh approximation), or `nil` when unsupported.
    public var denseActivation: Activation? {
        if feedForwardProj == "gated-gelu" { return .geluTanh }
        let name = feedForwardProj.split(separator: "-").last.map(String.init) ?? ""
        return Activation(huggingFaceName: name)
    }

    /// `numHeads * dKV`, the width of the attention projections.
    public var innerDimension: Int { numHeads * dKV }

    /// Reads `config.json` from a model folder and checks that it describes a T5 model.
    ///
    /// - Throws: ``ModelError/configurationNotFound(path:)``, ``ModelError/invalidConfiguration(path:reason:)``,
    ///   ``ModelError/notT5(path:modelType:)``, ``ModelError/unsupportedActivation(path:value:)``.
    public static func load(directory: URL) throws -> T5Configuration {
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.configurationNotFound(path: url.path)
        }
        let configuration: T5Configuration
        do {
            configuration = try JSONDecoder().decode(T5Configuration.self, from: data)
        } catch {
            throw ModelError.invalidConfiguration(path: url.path, reason: plainDescription(of: error))
        }
        try configuration.validate(path: url.path)
        return configuration
    }

    /// Checks the architecture and the extents. A missing `model_type` is accepted: the model
    /// registry recognises such folders by their `architectures`.
    public func validate(path: String) throws {
        if let modelType, !ModelFamily.t5.modelTypes.contains(modelType) {
            throw ModelError.notT5(path: path, modelType: modelType)
        }
        guard denseActivation != nil else {
            throw ModelError.unsupportedActivation(path: path, value: feedForwardProj)
        }
        let extents: [(String, Int)] = [
            ("vocab_size", vocabSize), ("d_model", dModel), ("d_kv", dKV), ("d_ff", dFF),
            ("num_layers", numLayers), ("num_decoder_layers", numDecoderLayers),
            ("num_heads", numHeads),
            ("relative_attention_num_buckets", relativeAttentionNumBuckets),
            ("relative_attention_max_distance", relativeAttentionMaxDistance),
        ]
        for (name, value) in extents where value <= 0 {
            throw ModelError.invalidConfiguration(
                path: path, reason: "field '\(name)' must be positive, got \(value)")
        }
    }
}
