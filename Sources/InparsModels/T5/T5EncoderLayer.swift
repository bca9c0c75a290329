import InparsTensor

/// One encoder block (`encoder.block.{i}`): pre-norm self-attention, then pre-norm
/// feed-forward, each added to the residual stream (T5LayerNorm = RMS norm, no bias).
public struct T5EncoderLayer: Sendable {
    /// `[dModel]`: `layer.0.layer_norm.weight`.
    public var selfAttentionNorm: Tensor
    public var selfAttention: T5SelfAttention
    /// `[dModel]`: `layer.1.layer_norm.weight`.
    public var feedForwardNorm: Tensor
    public var feedForward: T5FeedForward
    public let epsilon: Float

    public init(
        selfAttentionNorm: Tensor, selfAttention: T5SelfAttention, feedForwardNorm: Tensor,
        feedForward: T5FeedForward, epsilon: Float
    ) {
        self.selfAttentionNorm = selfAttentionNorm
        self.selfAttention = selfAttention
        self.feedForwardNorm = feedForwardNorm
        self.feedForward = feedForward
        self.epsilon = epsilon
    }

    /// - Parameters:
    ///   - hidden: `[batch, seqLen, dModel]`, updated in place.
    ///   - lengths: real length of each batch entry.
    ///   - bias: the encoder's bidirectional position bias for `seqLen` × `seqLen`.
    public func forward(
        _ hidden: inout Tensor, lengths: [Int], bias: T5RelativePositionBias.Offsets
    ) {
        let normed = hidden.rmsNormalized(weight: selfAttentionNorm, epsilon: epsilon)
        selfAttention.forward(normed, lengths: lengths, bias: bias, causal: false, into: &hidden)
        let normed2 = hidden.rmsNormalized(weight: feedForwardNorm, epsilon: epsilon)
        feedForward.forward(normed2, into: &hidden)
    }
}
