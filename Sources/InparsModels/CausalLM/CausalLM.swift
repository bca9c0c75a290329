import Foundation
import InparsTensor

/// A Llama-style decoder-only language model (Llama 2/3, Mistral, Qwen2/2.5, Qwen3), for
/// inference: token embedding, `numLayers` × (RMS norm, causal grouped-query self-attention
/// with rotary positions, RMS norm, SwiGLU MLP), a final RMS norm and the LM head (tied to the
/// embedding or not).
///
/// One forward serves prefill and decoding: ``forward(_:stepLength:real:cache:)`` takes new
/// tokens for every entry of a ``CausalLMCache`` and appends their keys and values.
public struct CausalLM: Sendable {
    public let configuration: CausalLMConfiguration
    public let parameters: ParameterStore
    let embedding: Int
    let layers: [CausalLMLayer]
    let finalNorm: Int
    let lmHead: Int

    /// Checkpoint names (Hugging Face's `LlamaForCausalLM` state dict).
    enum Names {
        static let embedding = "model.embed_tokens.weight"
        static let finalNorm = "model.norm.weight"
        static let lmHead = "lm_head.weight"
        static func layer(_ i: Int, _ rest: String) -> String { "model.layers.\(i).\(rest)" }
    }

    /// Builds the parameter table and the layers that read its slots, in state-dict order.
    static func architecture(_ c: CausalLMConfiguration) -> (
        table: ParameterTable, embedding: Int, layers: [CausalLMLayer], finalNorm: Int,
        lmHead: Int
    ) {
        var table = ParameterTable()
        let embedding = table.add(
            Names.embedding, shape: [c.vocabSize, c.hiddenSize],
            tiedNames: c.tieWordEmbeddings ? [Names.lmHead] : [])
        let (q, kv, h) = (c.queryWidth, c.keyValueWidth, c.hiddenSize)
        let layers = (0..<c.numLayers).map { i -> CausalLMLayer in
            let name = { Names.layer(i, $0) }
            let parts = [("q_proj", q), ("k_proj", kv), ("v_proj", kv)]
            let qkv = table.addFused(
                name("self_attn.qkv_proj"),
                parts: parts.map { (name("self_attn.\($0.0).weight"), [$0.1, h]) })
            let qkvBias =
                c.queryKeyValueBias
                ? table.addFused(
                    name("self_attn.qkv_proj.bias"),
                    parts: parts.map { (name("self_attn.\($0.0).bias"), [$0.1]) }) : nil
            let output = table.add(name("self_attn.o_proj.weight"), shape: [h, q])
            let outputBias =
                c.outputBias ? table.add(name("self_attn.o_proj.bias"), shape: [h]) : nil
            let queryNorm =
                c.queryKeyNorm
                ? table.add(name("self_attn.q_norm.weight"), shape: [c.headDimension]) : nil
            let keyNorm =
                c.queryKeyNorm
                ? table.add(name("self_attn.k_norm.weight"), shape: [c.headDimension]) : nil
            let attention = CausalSelfAttention(
                queryKeyValue: qkv, queryKeyValueBias: qkvBias, output: output,
                outputBias: outputBias, queryNorm: queryNorm, keyNorm: keyNorm,
                numHeads: c.numHeads, numKVHeads: c.numKVHeads, headDimension: c.headDimension,
                epsilon: c.rmsNormEpsilon)
            let gateUp = table.addFused(
                name("mlp.gate_up_proj"),
                parts: ["gate_proj", "up_proj"].map {
                    (name("mlp.\($0).weight"), [c.intermediateSize, h])
                })
            let down = table.add(name("mlp.down_proj.weight"), shape: [h, c.intermediateSize])
            return CausalLMLayer(
                inputNorm: table.add(name("input_layernorm.weight"), shape: [h]),
                attention: attention,
                postAttentionNorm: table.add(name("post_attention_layernorm.weight"), shape: [h]),
                feedForward: SwiGLUFeedForward(gateUp: gateUp, down: down),
                epsilon: c.rmsNormEpsilon)
        }
        let finalNorm = table.add(Names.finalNorm, shape: [h])
        let lmHead =
            c.tieWordEmbeddings ? embedding : table.add(Names.lmHead, shape: [c.vocabSize, h])
        return (table, embedding, layers, finalNorm, lmHead)
    }

    /// A model over `parameters`, whose table must be the configuration's.
    public init(configuration: CausalLMConfiguration, parameters: ParameterStore) {
        let built = Self.architecture(configuration)
        precondition(parameters.table == built.table, "parameters of another architecture")
        self.configuration = configuration
        self.parameters = parameters
        embedding = built.embedding
        layers = built.layers
        finalNorm = built.finalNorm
        lmHead = built.lmHead
    }

    /// The parameter table of `configuration` (checkpoint names, shapes, fused slots).
    public static func parameterTable(_ configuration: CausalLMConfiguration) -> ParameterTable {
        architecture(configuration).table
    }

    /// An empty cache for `batch` sequences.
    public func makeCache(batch: Int, capacity: Int = 64) -> CausalLMCache {
        CausalLMCache(
            layers: [KeyValueCache](
                repeating: KeyValueCache(
                    batch: batch, width: configuration.keyValueWidth, capacity: capacity,
                    headDimension: configuration.headDimension),
                count: layers.count),
            lengths: [Int](repeating: 0, count: batch))
    }

    /// Runs `stepLength` new positions per cache entry and appends them to `cache`.
    ///
    /// - Parameters:
    ///   - tokens: `[batch, stepLength]` ids, row-major, right-padded (any valid id).
    ///   - real: real new tokens per entry (1...stepLength); `nil` when all are real.
    ///     With `stepLength > 1`, every entry of `cache` must hold the same number of
    ///     positions (a batch prefilled from the start or from one forked prefix).
    /// - Returns: final-normalised hidden states, `[batch, stepLength, hidden]`.
    public func forward(
        _ tokens: [Int32], stepLength: Int, real: [Int]? = nil, cache: inout CausalLMCache
    ) -> Tensor {
        let batch = cache.batch
        precondition(tokens.count == batch * stepLength, "\(tokens.count) ids for \(batch)×\(stepLength)")
        let real = real ?? [Int](repeating: stepLength, count: batch)
        precondition(real.allSatisfy { $0 >= 1 && $0 <= stepLength }, "real lengths \(real)")
        var x = parameters.rows(embedding, ids: tokens, idShape: [batch, stepLength])
        let past = cache.lengths
        for (index, layer) in layers.enumerated() {
            layer.forward(
                &x, weights: parameters, rotary: configuration.rotary,
                cache: &cache.layers[index], past: past, real: real)
        }
        cache.lengths = zip(past, real).map { $0 + $1 }
        return x.rmsNormalized(weight: parameters[finalNorm], epsilon: configuration.rmsNormEpsilon)
    }

    /// Vocabulary logits of hidden states.
    ///
    /// - Parameter hidden: `[..., hidden]`.
    /// - Returns: `[..., vocab]`.
    public func logits(_ hidden: Tensor) -> Tensor {
        parameters.linear(lmHead).matmul(hidden)
    }

    /// The hidden state at each entry's last real position: `[batch, stepLength, hidden]` →
    /// `[batch, hidden]`.
    public static func lastPositions(_ hidden: Tensor, real: [Int]) -> Tensor {
        let (batch, stepLength, width) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
        precondition(real.count == batch, "\(real.count) lengths for \(batch) entries")
        return Tensor(shape: [batch, width]) { out in
            hidden.storage.withUnsafeBufferPointer { p in
                for b in 0..<batch {
                    (out.baseAddress! + b * width).update(
                        from: p.baseAddress! + (b * stepLength + real[b] - 1) * width, count: width)
                }
            }
        }
    }

    /// Logits of right-padded prompts in one pass from an empty cache (a scoring or test
    /// forward).
    ///
    /// - Returns: `[batch, maxLength, vocab]`; positions past a prompt's length are padding.
    public func logits(prompts: [[Int32]]) -> Tensor {
        let width = prompts.map(\.count).max() ?? 0
        precondition(prompts.allSatisfy { !$0.isEmpty }, "empty prompt")
        var cache = makeCache(batch: prompts.count, capacity: width)
        let ids = prompts.flatMap { $0 + [Int32](repeating: 0, count: width - $0.count) }
        let hidden = forward(ids, stepLength: width, real: prompts.map(\.count), cache: &cache)
        return logits(hidden)
    }
}

/// The keys and values of every layer for a batch of sequences of their own lengths.
///
/// Entry `b` holds `lengths[b]` positions. ``selectingRows(_:)`` drops finished sequences or
/// forks one (a shared prompt prefix computed once); ``joining(_:)`` puts the running batch and
/// newly prefilled sequences together (continuous batching).
public struct CausalLMCache: Sendable {
    /// One per layer, `[batch, capacity, numKVHeads·headDimension]`.
    public internal(set) var layers: [KeyValueCache]
    /// Positions held per entry.
    public internal(set) var lengths: [Int]

    public var batch: Int { lengths.count }

    /// This one-entry cache with all its positions shared (``KeyValueCache/sharingPositions(length:)``):
    /// its forks read them in place instead of each holding a copy.
    public func sharingPositions() -> CausalLMCache {
        precondition(batch == 1, "only one sequence's positions can be shared, not \(batch)")
        return CausalLMCache(
            layers: layers.map { $0.sharingPositions(length: lengths[0]) }, lengths: lengths)
    }

    /// Entries `rows` of this cache in that order (repeats fork an entry).
    ///
    /// - Parameter capacity: own positions of room per entry (shared ones need none); `nil`
    ///   keeps this cache's.
    public func selectingRows(_ rows: [Int], capacity: Int? = nil) -> CausalLMCache {
        Self.joining([(self, rows)], capacity: capacity)
    }

    /// The entries `rows` of each part, the parts one after the other.
    ///
    /// - Parameter capacity: own positions of room per entry (shared ones need none; raised
    ///   to every copied length); `nil` for the largest of the parts'.
    public static func joining(
        _ parts: [(cache: CausalLMCache, rows: [Int])], capacity: Int? = nil
    ) -> CausalLMCache {
        precondition(!parts.isEmpty, "joining no caches")
        let layerCount = parts[0].cache.layers.count
        var selected: [(row: Int, length: Int)] = []
        var lengths: [Int] = []
        var base = 0
        for part in parts {
            for row in part.rows {
                precondition(row >= 0 && row < part.cache.batch, "row \(row) outside \(part.cache.batch)")
                selected.append((base + row, part.cache.lengths[row]))
                lengths.append(part.cache.lengths[row])
            }
            base += part.cache.batch
        }
        let capacity = capacity ?? parts.map { $0.cache.layers.first?.capacity ?? 1 }.max() ?? 1
        let layers = (0..<layerCount).map { layer in
            KeyValueCache.gathering(
                selected, from: parts.map { $0.cache.layers[layer] }, capacity: capacity)
        }
        return CausalLMCache(layers: layers, lengths: lengths)
    }
}
