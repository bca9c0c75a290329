import InparsTensor

/// How a training pass computes encoder-decoder attention.
public enum T5CrossAttentionStrategy: Sendable, Equatable {
    /// `absorbed` when the decoder is short (at most `dKV` positions, as monoT5's two target
    /// tokens), else `projected`.
    case automatic
    /// Project the whole encoder output to keys and values (`[batch, sourceLength, 2·inner]`),
    /// as PyTorch does: `O(sourceLength · dModel · 2·inner)` per example and layer.
    case projected
    /// Fold the k and v projections into the queries and the context (per head
    /// `q·(M·W_kᵀ)ᵀ = (q·W_k)·Mᵀ`, `P·(M·W_vᵀ) = (P·M)·W_vᵀ`): `O(targetLength · sourceLength ·
    /// dModel)` per head, far cheaper for a few decoder positions. The same code monoT5
    /// scoring runs at inference.
    case absorbed
}

extension T5Model {
    /// Loss and gradients on one batch: the model's forward pass with a training pass (so each
    /// layer records what its backward needs), the cross-entropy, then the layers' backward
    /// passes in reverse.
    ///
    /// Gradients are a ``ParameterStore`` of the model's table (fused layouts as the weights:
    /// `[3·inner, dModel]` q/k/v, stacked `wi_0`/`wi_1`). The shared embedding is one slot,
    /// read by the encoder and decoder embeddings and (tied head) the LM head, so its gradient
    /// is their sum; the relative-position tables get the sum over all layers of their stack.
    ///
    /// Dropout follows Hugging Face T5 in training mode: after the embeddings, on the attention
    /// probabilities, on each sublayer's output before the residual add, between the
    /// feed-forward activation and `wo`, and after each stack's final norm, all with `rate`;
    /// one seed per site is drawn from `generator` (see ``DropoutMask``). With `rate == 0`
    /// nothing is drawn.
    ///
    /// - Returns: the mean cross-entropy over non-ignored label tokens, the number of those
    ///   tokens, and the gradients.
    public func lossAndGradients(
        _ batch: T5TrainingBatch, dropoutRate: Float = 0,
        crossAttention: T5CrossAttentionStrategy = .automatic,
        using generator: inout some RandomNumberGenerator
    ) -> (loss: Float, tokens: Int, gradients: ParameterStore) {
        var gradients = parameters.zeros()
        let result = accumulateGradients(
            batch, dropoutRate: dropoutRate, crossAttention: crossAttention, gradientScale: 1,
            into: &gradients, using: &generator)
        return (result.loss, result.tokens, gradients)
    }

    /// Adds `gradientScale ×` this batch's gradients into `gradients` (gradient accumulation
    /// over micro-batches: pass `1 / accumulationSteps`, or a token-count ratio).
    ///
    /// - Parameter gradients: accumulators of this model's table (``ParameterStore/zeros()``
    ///   at the start of an optimizer step).
    /// - Returns: the batch's unscaled mean loss and its number of target tokens.
    public func accumulateGradients(
        _ batch: T5TrainingBatch, dropoutRate: Float = 0,
        crossAttention: T5CrossAttentionStrategy = .automatic, gradientScale: Float = 1,
        into gradients: inout ParameterStore, using generator: inout some RandomNumberGenerator
    ) -> (loss: Float, tokens: Int) {
        precondition(gradients.table == parameters.table, "gradients of another model")
        let c = configuration
        let training = TrainingPass(
            rate: dropoutRate, sites: encoder.dropoutSites + decoder.dropoutSites,
            using: &generator)
        // Forward: encoder, decoder over the shifted labels (one step from an empty cache), head.
        let (encoded, encoderRecord) = encoder.forward(
            batch.inputs, padID: Int32(c.padTokenID), weights: parameters, training: training)
        let labels = batch.decoderSequences(
            startID: Int32(c.decoderStartTokenID), padID: Int32(c.padTokenID))
        let absorb =
            switch crossAttention {
            case .automatic: labels.length <= c.dKV
            case .projected: false
            case .absorbed: true
            }
        var cache = makeDecoderCache(
            encoderOutput: encoded, capacity: labels.length, projectMemory: !absorb)
        let (decoded, decoderRecord) = decoder.forward(
            labels.decoderInputs, stepLength: labels.length, cache: &cache, lengths: nil,
            weights: parameters, training: training)
        let rows = decoded.reshaped([batch.size * labels.length, c.dModel])
        var result = Tensor.crossEntropy(logits: logits(rows), targets: labels.targets)
        if gradientScale != 1 { result.gradient.scale(by: gradientScale) }

        // Backward: head, decoder, and the encoder through the decoder's cross-attention
        // (and the projected memory, if any).
        var dHidden = parameters.linear(lmHead).backward(
            outputGradient: result.gradient, input: rows,
            alpha: c.scaleDecoderOutputs ? outputScale : 1,
            weightGradient: &gradients.tensors[lmHead])
        dHidden.reshape(decoded.shape)
        let dEncoded = decoder.backward(
            dHidden, record: decoderRecord!, encoderHidden: encoded.hidden, weights: parameters,
            gradients: &gradients)
        encoder.backward(
            dEncoded, record: encoderRecord!, weights: parameters, gradients: &gradients)
        return (result.loss, result.count)
    }
}
