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
            normalizing: &hidden, norm: weights[selfAttentionNorm], epsilon: epsilon,
            weights: weights, lengths: lengths, bias: bias, training: training)
        let feedForwardInput = training.map { _ in hidden }
        let fed = feedForward.forward(
            normalizing: &hidden, norm: weights[feedForwardNorm], epsilon: epsilon,
            weights: weights, training: training)
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
        d.backwardSublayer(
            input: record.feedForwardInput, norm: feedForwardNorm, epsilon: epsilon,
            weights: weights, gradients: &gradients
        ) { feedForward.backward($0, record: record.feedForward, weights: weights, gradients: &$1) }
        d.backwardSublayer(
            input: record.attentionInput, norm: selfAttentionNorm, epsilon: epsilon,
            weights: weights, gradients: &gradients
        ) {
            selfAttention.backward(
                $0, record: record.attention, weights: weights, gradients: &$1,
                biasGradient: &biasGradient)
        }
        return d
    }
}

extension Tensor {
    /// Backward through a pre-norm residual sublayer `h + f(RMSNorm(h))`, `self` being the
    /// gradient of the residual stream after it: `branch` back-propagates `f` from `self` to
    /// the norm's output (adding its weights' gradients), then the norm's backward is added to
    /// `self` (the residual path's gradient) and the norm weight's gradient to its slot.
    ///
    /// - Parameters:
    ///   - input: the sublayer's input `h`, saved from the forward pass.
    ///   - norm: the slot of the norm's weight, `[dModel]`.
    mutating func backwardSublayer(
        input: Tensor, norm: Int, epsilon: Float, weights: ParameterStore,
        gradients: inout ParameterStore, branch: (Tensor, inout ParameterStore) -> Tensor
    ) {
        let dNormed = branch(self, &gradients)
        add(
            Tensor.rmsNormBackward(
                outputGradient: dNormed, input: input, weight: weights[norm], epsilon: epsilon,
                weightGradient: &gradients.tensors[norm]))
    }
}
