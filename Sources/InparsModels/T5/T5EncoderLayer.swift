import InparsTensor

/// One encoder block (`encoder.block.{i}`): pre-norm self-attention, then pre-norm
/// feed-forward, each added to the residual stream (T5LayerNorm = RMS norm, no bias).
struct T5EncoderLayer: Sendable {
    /// Slot `[dModel]`: `layer.0.layer_norm.weight`.
    let selfAttentionNorm: Int
    let selfAttention: T5SelfAttention
    /// Slot `[dModel]`: `layer.1.layer_norm.weight`.
    let feedForwardNorm: Int
    let feedForward: T5FeedForward
    let epsilon: Float

    /// What the backward pass needs from a training forward.
    struct Record {
        /// The residual stream entering each sublayer, `[batch, seqLen, dModel]`.
        var attentionInput, feedForwardInput: Tensor
        var attention: T5SelfAttention.Record
        var feedForward: T5FeedForward.Record
    }

    /// - Parameters:
    ///   - hidden: `[batch, seqLen, dModel]`, updated in place.
    ///   - lengths: real length of each batch entry.
    ///   - bias: the encoder's bidirectional position bias for `seqLen` × `seqLen`.
    ///   - training: set for a training pass (four dropout sites).
    func forward(
        _ hidden: inout Tensor, weights: ParameterStore, lengths: [Int], bias: RelativeOffsetBias,
        training: TrainingPass?
    ) -> Record? {
        // The residual inputs are kept only for training: holding them would make the in-place
        // residual adds copy the stream.
        let attentionInput = training.map { _ in hidden }
        let attention = selfAttention.forward(
            hidden.rmsNormalized(weight: weights[selfAttentionNorm], epsilon: epsilon),
            weights: weights, lengths: lengths, bias: bias, into: &hidden, training: training)
        let feedForwardInput = training.map { _ in hidden }
        let fed = feedForward.forward(
            hidden.rmsNormalized(weight: weights[feedForwardNorm], epsilon: epsilon),
            weights: weights, into: &hidden, training: training)
        guard let attention, let fed, let attentionInput, let feedForwardInput else { return nil }
        return Record(
            attentionInput: attentionInput, feedForwardInput: feedForwardInput,
            attention: attention, feedForward: fed)
    }

    /// - Parameters:
    ///   - dHidden: the gradient of the block's output, `[batch, seqLen, dModel]`.
    ///   - biasGradient: the encoder's relative-bias gradient (see ``T5SelfAttention``).
    /// - Returns: the gradient of the block's input.
    func backward(
        _ dHidden: Tensor, record: Record, weights: ParameterStore,
        gradients: inout ParameterStore, biasGradient: inout [Float]
    ) -> Tensor {
        var d = dHidden
        let dFed = feedForward.backward(
            d, record: record.feedForward, weights: weights, gradients: &gradients)
        d.addResidualNormBackward(
            dFed, input: record.feedForwardInput, normSlot: feedForwardNorm, epsilon: epsilon,
            weights: weights, gradients: &gradients)
        let dAttended = selfAttention.backward(
            d, record: record.attention, weights: weights, gradients: &gradients,
            biasGradient: &biasGradient)
        d.addResidualNormBackward(
            dAttended, input: record.attentionInput, normSlot: selfAttentionNorm,
            epsilon: epsilon, weights: weights, gradients: &gradients)
        return d
    }
}

extension Tensor {
    /// The backward of a pre-norm residual sublayer `h + f(RMSNorm(h))` given `f`'s input
    /// gradient: adds the norm's backward to `self` (the residual path's gradient) and the
    /// norm weight's gradient to its slot.
    ///
    /// - Parameters:
    ///   - branch: the gradient of the norm's output, `[..., dModel]`.
    ///   - input: the sublayer's input `h`, saved from the forward pass.
    mutating func addResidualNormBackward(
        _ branch: Tensor, input: Tensor, normSlot: Int, epsilon: Float, weights: ParameterStore,
        gradients: inout ParameterStore
    ) {
        add(
            Tensor.rmsNormBackward(
                outputGradient: branch, input: input, weight: weights[normSlot], epsilon: epsilon,
                weightGradient: &gradients.tensors[normSlot]))
    }
}
