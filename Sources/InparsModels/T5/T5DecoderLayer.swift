import InparsTensor

/// One decoder block (`decoder.block.{i}`): causal self-attention (`layer.0`), cross-attention
/// over the encoder output (`layer.1`), feed-forward (`layer.2`), each pre-norm and residual.
public struct T5DecoderLayer: Sendable {
    /// `[dModel]`: `layer.0.layer_norm.weight`.
    public var selfAttentionNorm: Tensor
    public var selfAttention: T5SelfAttention
    /// `[dModel]`: `layer.1.layer_norm.weight`.
    public var crossAttentionNorm: Tensor
    public var crossAttention: T5CrossAttention
    /// `[dModel]`: `layer.2.layer_norm.weight`.
    public var feedForwardNorm: Tensor
    public var feedForward: T5FeedForward
    public let epsilon: Float

    public init(
        selfAttentionNorm: Tensor, selfAttention: T5SelfAttention, crossAttentionNorm: Tensor,
        crossAttention: T5CrossAttention, feedForwardNorm: Tensor, feedForward: T5FeedForward,
        epsilon: Float
    ) {
        self.selfAttentionNorm = selfAttentionNorm
        self.selfAttention = selfAttention
        self.crossAttentionNorm = crossAttentionNorm
        self.crossAttention = crossAttention
        self.feedForwardNorm = feedForwardNorm
        self.feedForward = feedForward
        self.epsilon = epsilon
    }

    /// Runs `stepLength` new positions through the block, appending to the layer's cache.
    ///
    /// - Parameters:
    ///   - hidden: `[batch, stepLength, dModel]`, updated in place.
    ///   - cache: this layer's self-attention keys and values.
    ///   - pastLength: positions already decoded.
    ///   - lengths: real decoder lengths (padding), or `nil`.
    ///   - bias: causal position bias for the new positions.
    ///   - memory: `crossAttention.projectMemory(encoderHidden)`, `[batch, sourceLength, 2 · inner]`,
    ///     or `nil` to attend to `encoderHidden` with absorbed projections.
    ///   - encoderHidden: `[batch, sourceLength, dModel]`.
    ///   - memoryLengths: real encoder lengths.
    public func forward(
        _ hidden: inout Tensor, cache: inout T5KeyValueCache, pastLength: Int, lengths: [Int]?,
        bias: T5RelativePositionBias.Offsets, memory: Tensor?, encoderHidden: Tensor,
        memoryLengths: [Int]
    ) {
        let normed = hidden.rmsNormalized(weight: selfAttentionNorm, epsilon: epsilon)
        selfAttention.forward(
            normed, cache: &cache, pastLength: pastLength, lengths: lengths, bias: bias,
            into: &hidden)
        let normed2 = hidden.rmsNormalized(weight: crossAttentionNorm, epsilon: epsilon)
        if let memory {
            crossAttention.forward(
                normed2, memory: memory, memoryLengths: memoryLengths, into: &hidden)
        } else {
            crossAttention.forward(
                normed2, encoderHidden: encoderHidden, memoryLengths: memoryLengths, into: &hidden)
        }
        let normed3 = hidden.rmsNormalized(weight: feedForwardNorm, epsilon: epsilon)
        feedForward.forward(normed3, into: &hidden)
    }
}
