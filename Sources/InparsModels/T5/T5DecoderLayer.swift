import InparsTensor

/// One decoder block (`decoder.block.{i}`): causal self-attention (`layer.0`), cross-attention
/// over the encoder output (`layer.1`), feed-forward (`layer.2`), each pre-norm and residual.
struct T5DecoderLayer: Sendable {
    /// Slot `[dModel]`: `layer.0.layer_norm.weight`.
    let selfAttentionNorm: Int
    let selfAttention: T5SelfAttention
    /// Slot `[dModel]`: `layer.1.layer_norm.weight`.
    let crossAttentionNorm: Int
    let crossAttention: T5CrossAttention
    /// Slot `[dModel]`: `layer.2.layer_norm.weight`.
    let feedForwardNorm: Int
    let feedForward: T5FeedForward
    let epsilon: Float

    /// The cross-attention's record, for projected or absorbed memory.
    enum CrossRecord {
        case projected(T5CrossAttention.Record)
        case absorbed(T5CrossAttention.AbsorbedRecord)
    }

    /// What the backward pass needs from a training forward.
    struct Record {
        /// The residual stream entering each sublayer, `[batch, stepLength, dModel]`.
        var attentionInput, crossInput, feedForwardInput: Tensor
        var attention: T5SelfAttention.Record
        var cross: CrossRecord
        var feedForward: T5FeedForward.Record
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
    ///   - training: set for a training pass (six dropout sites).
    func forward(
        _ hidden: inout Tensor, weights: ParameterStore, cache: inout KeyValueCache,
        pastLength: Int, lengths: [Int]?, bias: RelativeOffsetBias, memory: Tensor?,
        encoderHidden: Tensor, memoryLengths: [Int], training: TrainingPass?
    ) -> Record? {
        // The residual inputs are kept only for training: holding them would make the in-place
        // residual adds copy the stream.
        let attentionInput = training.map { _ in hidden }
        let attention = selfAttention.forward(
            hidden.rmsNormalized(weight: weights[selfAttentionNorm], epsilon: epsilon),
            weights: weights, cache: &cache, pastLength: pastLength, lengths: lengths, bias: bias,
            into: &hidden, training: training)
        let crossInput = training.map { _ in hidden }
        let normed = hidden.rmsNormalized(weight: weights[crossAttentionNorm], epsilon: epsilon)
        var cross: CrossRecord?
        if let memory {
            cross = crossAttention.forward(
                normed, weights: weights, memory: memory, memoryLengths: memoryLengths,
                into: &hidden, training: training
            ).map { .projected($0) }
        } else {
            cross = crossAttention.forwardAbsorbed(
                normed, weights: weights, encoderHidden: encoderHidden,
                memoryLengths: memoryLengths, into: &hidden, training: training
            ).map { .absorbed($0) }
        }
        let feedForwardInput = training.map { _ in hidden }
        let fed = feedForward.forward(
            normalizing: &hidden, norm: weights[feedForwardNorm], epsilon: epsilon,
            weights: weights, training: training)
        guard let attention, let cross, let fed, let attentionInput, let crossInput,
            let feedForwardInput
        else { return nil }
        return Record(
            attentionInput: attentionInput, crossInput: crossInput,
            feedForwardInput: feedForwardInput, attention: attention, cross: cross,
            feedForward: fed)
    }

    /// - Parameters:
    ///   - dHidden: the gradient of the block's output, `[batch, stepLength, dModel]`.
    ///   - biasGradient: the decoder's relative-bias gradient (see ``T5SelfAttention``).
    ///   - encoderHidden: the encoder output the cross-attention read.
    ///   - dEncoderHidden: its gradient; this block's share is added.
    /// - Returns: the gradient of the block's input.
    func backward(
        _ dHidden: Tensor, record: Record, weights: ParameterStore,
        gradients: inout ParameterStore, biasGradient: inout [Float], encoderHidden: Tensor,
        dEncoderHidden: inout Tensor
    ) -> Tensor {
        var d = dHidden
        d.backwardSublayer(
            input: record.feedForwardInput, norm: feedForwardNorm, epsilon: epsilon,
            weights: weights, gradients: &gradients
        ) { feedForward.backward($0, record: record.feedForward, weights: weights, gradients: &$1) }
        d.backwardSublayer(
            input: record.crossInput, norm: crossAttentionNorm, epsilon: epsilon, weights: weights,
            gradients: &gradients
        ) { dCross, gradients in
            switch record.cross {
            case .projected(let cross):
                return crossAttention.backward(
                    dCross, record: cross, weights: weights, gradients: &gradients,
                    encoderHidden: encoderHidden, dEncoderHidden: &dEncoderHidden)
            case .absorbed(let cross):
                return crossAttention.backwardAbsorbed(
                    dCross, record: cross, weights: weights, gradients: &gradients,
                    encoderHidden: encoderHidden, dEncoderHidden: &dEncoderHidden)
            }
        }
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
