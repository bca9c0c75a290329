import InparsTensor

/// The T5 decoder stack (`decoder.*`), run incrementally over a ``T5DecoderCache``.
///
/// A full (teacher-forced) pass is the same code with all positions in one step; greedy or
/// sampled generation calls ``forward(_:stepLength:cache:lengths:)`` with one token per step.
public struct T5Decoder: Sendable {
    /// `[vocab, dModel]`: `shared.weight`.
    public var embedding: Tensor
    public var layers: [T5DecoderLayer]
    /// `[dModel]`: `decoder.final_layer_norm.weight`.
    public var finalNorm: Tensor
    /// Causal bias from `decoder.block.0.layer.0.SelfAttention.relative_attention_bias`.
    public var positionBias: T5RelativePositionBias
    public let epsilon: Float

    public init(
        embedding: Tensor, layers: [T5DecoderLayer], finalNorm: Tensor,
        positionBias: T5RelativePositionBias, epsilon: Float
    ) {
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.positionBias = positionBias
        self.epsilon = epsilon
    }

    /// A fresh cache for decoding against `encoderOutput`: projects the encoder output to
    /// cross-attention keys and values once for every layer.
    ///
    /// - Parameters:
    ///   - capacity: positions to reserve (the cache grows when needed).
    ///   - projectMemory: project the encoder output to cross-attention keys and values once
    ///     (best for generation); `false` absorbs the projections into each step instead (see
    ///     ``T5CrossAttention/forward(_:encoderHidden:memoryLengths:into:)``), which is cheaper
    ///     when only one or a few steps are decoded (monoT5 scoring).
    public func makeCache(
        encoderOutput: T5EncoderOutput, capacity: Int = 16, projectMemory: Bool = true
    ) -> T5DecoderCache {
        let batch = encoderOutput.batch
        return T5DecoderCache(
            selfAttention: layers.map {
                T5KeyValueCache(batch: batch, inner: $0.selfAttention.inner, capacity: capacity)
            },
            memory: projectMemory
                ? layers.map { $0.crossAttention.projectMemory(encoderOutput.hidden) } : nil,
            encoderHidden: encoderOutput.hidden, memoryLengths: encoderOutput.lengths, length: 0,
            batch: batch)
    }

    /// Decodes `stepLength` new positions per batch entry, appending them to `cache`.
    ///
    /// - Parameters:
    ///   - tokens: `[batch, stepLength]` token ids, row-major.
    ///   - stepLength: new positions per batch entry (1 when generating).
    ///   - cache: from ``makeCache(encoderOutput:capacity:)``; its length grows by `stepLength`.
    ///   - lengths: real decoder length of each entry, counting cached positions, when the
    ///     decoder input is right-padded (transformers' `decoder_attention_mask`); `nil` if not.
    /// - Returns: final-normalised hidden states `[batch, stepLength, dModel]`.
    public func forward(
        _ tokens: [Int32], stepLength: Int, cache: inout T5DecoderCache, lengths: [Int]? = nil
    ) -> Tensor {
        precondition(
            tokens.count == cache.batch * stepLength,
            "\(tokens.count) tokens for batch \(cache.batch) × \(stepLength)")
        let past = cache.length
        var hidden = Tensor.embedding(embedding, ids: tokens, idShape: [cache.batch, stepLength])
        let bias = positionBias.offsets(
            queryLength: stepLength, keyLength: past + stepLength, queryOffset: past)
        for (index, layer) in layers.enumerated() {
            layer.forward(
                &hidden, cache: &cache.selfAttention[index], pastLength: past, lengths: lengths,
                bias: bias, memory: cache.memory?[index], encoderHidden: cache.encoderHidden,
                memoryLengths: cache.memoryLengths)
        }
        cache.length = past + stepLength
        return hidden.rmsNormalized(weight: finalNorm, epsilon: epsilon)
    }

    /// One generation step: one token per batch entry.
    ///
    /// - Returns: `[batch, 1, dModel]`.
    public func step(_ tokens: [Int32], cache: inout T5DecoderCache) -> Tensor {
        forward(tokens, stepLength: 1, cache: &cache)
    }
}
