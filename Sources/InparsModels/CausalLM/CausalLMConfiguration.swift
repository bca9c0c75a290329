import Foundation

/// The `config.json` of a Llama-style decoder (`model_type` `llama`, `mistral`, `qwen2`,
/// `qwen3`), with transformers' defaults for absent fields.
///
/// Both spellings of the rotary settings are read: the Hub's `rope_theta` + `rope_scaling`
/// (and `torch_dtype`), and transformers 5's `rope_parameters` (and `dtype`). Settings that
/// would change the output in ways inpars does not implement are refused with
/// ``ModelError/unsupportedSetting(path:field:value:reason:)``, never ignored: a rope type
/// other than `default`/`llama3`, an activation other than SiLU, MLP biases. A sliding window
/// is accepted and bounds ``contextLength`` (within the window, attention is full attention).
public struct CausalLMConfiguration: Sendable, Equatable {
    /// `llama`, `mistral`, `qwen2` or `qwen3`.
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    /// Key/value heads (grouped-query attention); `numHeads` when absent.
    public var numKVHeads: Int
    /// `head_dim`, or `hiddenSize / numHeads` when absent.
    public var headDimension: Int
    public var rmsNormEpsilon: Float
    public var rotary: RotaryEmbedding
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    /// Biases on q, k and v (Qwen2 always; others with `attention_bias`).
    public var queryKeyValueBias: Bool
    /// A bias on the output projection (`attention_bias` for llama and qwen3).
    public var outputBias: Bool
    /// Per-head RMS norm of queries and keys before the rotation (Qwen3).
    public var queryKeyNorm: Bool
    /// The attention window when one applies (Mistral's `sliding_window`; Qwen's with
    /// `use_sliding_window`), else `nil`.
    public var slidingWindow: Int?
    public var bosTokenIDs: [Int]
    public var eosTokenIDs: [Int]
    /// `torch_dtype` / `dtype` as written (weights are converted to fp32 at load whatever it is).
    public var storedDType: String?

    /// The model types this configuration reads.
    public static let modelTypes = ["llama", "mistral", "qwen2", "qwen3"]

    /// Positions one sequence (prompt plus generated tokens) may span and still be computed
    /// exactly: `max_position_embeddings`, or the sliding window when shorter.
    public var contextLength: Int { min(maxPositionEmbeddings, slidingWindow ?? .max) }
    /// `numHeads · headDimension`: the query width.
    public var queryWidth: Int { numHeads * headDimension }
    /// `numKVHeads · headDimension`: the key (and value) width.
    public var keyValueWidth: Int { numKVHeads * headDimension }

    /// Reads `directory/config.json`.
    ///
    /// - Throws: ``ModelError`` naming the file and field.
    public static func load(directory: URL) throws -> CausalLMConfiguration {
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.configurationNotFound(path: url.path)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.invalidConfiguration(path: url.path, reason: "not a JSON object")
        }
        return try CausalLMConfiguration(json: object, path: url.path)
    }

    /// Decodes a parsed `config.json`; `path` names it in errors.
    public init(json: [String: Any], path: String) throws {
        let fields = ConfigFields(json: json, path: path)
        modelType = try fields.string("model_type") ?? ""
        guard Self.modelTypes.contains(modelType) else {
            throw ModelError.unsupportedSetting(
                path: path, field: "model_type", value: modelType,
                reason: "a causal LM here is one of \(Self.modelTypes.joined(separator: ", "))")
        }
        vocabSize = try fields.positive("vocab_size")
        hiddenSize = try fields.positive("hidden_size")
        intermediateSize = try fields.positive("intermediate_size")
        numLayers = try fields.positive("num_hidden_layers")
        numHeads = try fields.positive("num_attention_heads")
        numKVHeads = try fields.positive("num_key_value_heads", default: numHeads)
        guard numHeads % numKVHeads == 0 else {
            throw ModelError.invalidConfiguration(
                path: path,
                reason:
                    "num_attention_heads \(numHeads) is not a multiple of num_key_value_heads \(numKVHeads)"
            )
        }
        headDimension = try fields.positive("head_dim", default: hiddenSize / numHeads)
        guard headDimension % 2 == 0 else {
            throw ModelError.invalidConfiguration(
                path: path, reason: "head_dim \(headDimension) is odd (rotary embeddings pair dimensions)")
        }
        rmsNormEpsilon = Float(try fields.number("rms_norm_eps") ?? 1e-6)
        maxPositionEmbeddings = try fields.positive("max_position_embeddings", default: 2048)
        tieWordEmbeddings = try fields.bool("tie_word_embeddings") ?? false
        let attentionBias = try fields.bool("attention_bias") ?? false
        queryKeyValueBias = modelType == "qwen2" || attentionBias
        outputBias = attentionBias && ["llama", "qwen3"].contains(modelType)
        queryKeyNorm = modelType == "qwen3"
        bosTokenIDs = try fields.ids("bos_token_id")
        eosTokenIDs = try fields.ids("eos_token_id")
        storedDType = try fields.string("torch_dtype") ?? fields.string("dtype")
        if let dtype = storedDType, !["float32", "bfloat16", "float16"].contains(dtype) {
            throw ModelError.unsupportedSetting(
                path: path, field: "torch_dtype", value: dtype,
                reason: "weights are read in float32, bfloat16 or float16")
        }
        let activation = try fields.string("hidden_act") ?? "silu"
        guard activation == "silu" || activation == "swish" else {
            throw ModelError.unsupportedSetting(
                path: path, field: "hidden_act", value: activation,
                reason: "the MLP is SwiGLU (silu)")
        }
        if try fields.bool("mlp_bias") == true {
            throw ModelError.unsupportedSetting(
                path: path, field: "mlp_bias", value: "true", reason: "MLP biases are not implemented")
        }
        slidingWindow = try Self.slidingWindow(fields, modelType: modelType)
        rotary = try Self.rotary(fields, dimension: headDimension)
    }

    /// Mistral: `sliding_window` whenever set; Qwen2/3: only with `use_sliding_window` (or a
    /// `sliding_attention` entry in `layer_types`).
    private static func slidingWindow(_ fields: ConfigFields, modelType: String) throws -> Int? {
        guard let window = try fields.optionalInt("sliding_window") else { return nil }
        switch modelType {
        case "mistral": return window
        case "qwen2", "qwen3":
            let layerTypes = fields.json["layer_types"] as? [String] ?? []
            let used =
                try fields.bool("use_sliding_window") == true
                || layerTypes.contains("sliding_attention")
            return used ? window : nil
        default: return nil
        }
    }

    /// `rope_parameters` (transformers 5) or `rope_theta` + `rope_scaling` (the Hub's files).
    private static func rotary(_ fields: ConfigFields, dimension: Int) throws -> RotaryEmbedding {
        let parameters = fields.json["rope_parameters"] as? [String: Any]
        let scaling = parameters ?? (fields.json["rope_scaling"] as? [String: Any])
        let field = parameters == nil ? "rope_scaling" : "rope_parameters"
        if fields.json["rope_scaling"] != nil && !(fields.json["rope_scaling"] is NSNull)
            && fields.json["rope_scaling"] as? [String: Any] == nil
        {
            throw ModelError.invalidConfiguration(
                path: fields.path, reason: "field 'rope_scaling' is neither an object nor null")
        }
        let theta =
            try (parameters?["rope_theta"] as? NSNumber)?.doubleValue
            ?? fields.number("rope_theta") ?? 10000
        let type = (scaling?["rope_type"] ?? scaling?["type"]) as? String ?? "default"
        switch type {
        case "default":
            return RotaryEmbedding(dimension: dimension, base: theta)
        case "llama3":
            func number(_ key: String) throws -> Double {
                guard let value = (scaling?[key] as? NSNumber)?.doubleValue, value > 0 else {
                    throw ModelError.invalidConfiguration(
                        path: fields.path, reason: "\(field).\(key) is missing or not positive")
                }
                return value
            }
            let settings = RotaryEmbedding.Llama3Scaling(
                factor: try number("factor"), lowFrequencyFactor: try number("low_freq_factor"),
                highFrequencyFactor: try number("high_freq_factor"),
                originalMaxPositions: try number("original_max_position_embeddings"))
            guard settings.highFrequencyFactor != settings.lowFrequencyFactor else {
                throw ModelError.invalidConfiguration(
                    path: fields.path, reason: "\(field): high_freq_factor equals low_freq_factor")
            }
            return RotaryEmbedding(dimension: dimension, base: theta, scaling: settings)
        default:
            throw ModelError.unsupportedSetting(
                path: fields.path, field: "\(field).rope_type", value: type,
                reason: "inpars implements the default and llama3 rotary embeddings")
        }
    }
}

/// Typed reads of `config.json` fields, each error naming the file and the field.
struct ConfigFields {
    let json: [String: Any]
    let path: String

    /// JSONSerialization reads `true`/`false` as NSNumbers of type `c`.
    static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    private func value(_ key: String) -> Any? {
        guard let value = json[key], !(value is NSNull) else { return nil }
        return value
    }

    private func wrong(_ key: String, _ expected: String) -> ModelError {
        .invalidConfiguration(path: path, reason: "field '\(key)' is not \(expected)")
    }

    func string(_ key: String) throws -> String? {
        guard let raw = value(key) else { return nil }
        guard let text = raw as? String else { throw wrong(key, "a string") }
        return text
    }

    func number(_ key: String) throws -> Double? {
        guard let raw = value(key) else { return nil }
        guard let number = raw as? NSNumber, !Self.isBoolean(number) else {
            throw wrong(key, "a number")
        }
        return number.doubleValue
    }

    func bool(_ key: String) throws -> Bool? {
        guard let raw = value(key) else { return nil }
        guard let number = raw as? NSNumber, Self.isBoolean(number) else {
            throw wrong(key, "true or false")
        }
        return number.boolValue
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let number = try self.number(key) else { return nil }
        guard number == number.rounded(), number >= 0, number < 1e12 else {
            throw wrong(key, "a whole number")
        }
        return Int(number)
    }

    func positive(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let number = try optionalInt(key) ?? fallback else {
            throw ModelError.invalidConfiguration(path: path, reason: "field '\(key)' is missing")
        }
        guard number > 0 else { throw wrong(key, "a positive whole number") }
        return number
    }

    /// An id, a list of ids, or absent / null (empty).
    func ids(_ key: String) throws -> [Int] {
        guard let raw = value(key) else { return [] }
        if raw is NSNumber { return [try optionalInt(key)!] }
        guard let list = raw as? [NSNumber],
            list.allSatisfy({ $0.doubleValue >= 0 && $0.doubleValue == $0.doubleValue.rounded() })
        else { throw wrong(key, "a token id or a list of token ids") }
        return list.map(\.intValue)
    }
}
