import InparsTensor

/// The T5 decoder stack (`decoder.*`), run incrementally over a ``T5DecoderCache``.
///
/// A teacher-forced or training pass is the same code with all positions in one step;
/// generation calls it with one token per step.
struct T5Decoder: Sendable {
    /// Slot `[vocab, dModel]`: `shared.weight`.
    let embedding: Int
    let layers: [T5DecoderLayer]
    /// Slot `[dModel]`: `decoder.final_layer_norm.weight`.
    let finalNorm: Int
    /// Causal bias from `decoder.block.0.layer.0.SelfAttention.relative_attention_bias`.
    let positionBias: T5RelativePositionBias
    let epsilon: Float

    /// Dropout sites of a training pass: embedding, six per block, final.
    var dropoutSites: Int { 2 + 6 * layers.count }

    /// What the backward pass needs from a training forward.
    struct Record {
        /// `[batch · stepLength]` decoder input ids.
        var ids: [Int32]
        var embeddingDropout: DropoutMask
        var bias: RelativeOffsetBias
        var layers: [T5DecoderLayer.Record]
        /// The residual stream before the final norm.
        var finalInput: Tensor
        var finalDropout: DropoutMask
    }

    /// A fresh cache for decoding against `encoderOutput`.
    ///
    /// - Parameters:
    ///   - capacity: positions to reserve (the cache grows when needed).
    ///   - projectMemory: project the encoder output to cross-attention keys and values once
    ///     for every layer (best for generation); `false` absorbs the projections into each
    ///     step instead (``T5CrossAttention/forwardAbsorbed(_:weights:encoderHidden:memoryLengths:into:training:)``),
    ///     which is cheaper when only one or a few steps are decoded (monoT5).
    func makeCache(
        encoderOutput: T5EncoderOutput, weights: ParameterStore, capacity: Int,
        projectMemory: Bool
    ) -> T5DecoderCache {
        let batch = encoderOutput.batch
        return T5DecoderCache(
            selfAttention: layers.map {
                KeyValueCache(batch: batch, width: $0.selfAttention.inner, capacity: capacity)
            },
            memory: projectMemory
                ? layers.map {
                    $0.crossAttention.projectMemory(encoderOutput.hidden, weights: weights)
                } : nil,
            encoderHidden: encoderOutput.hidden, memoryLengths: encoderOutput.lengths, length: 0,
            batch: batch)
    }

    /// Decodes `stepLength` new positions per batch entry, appending them to `cache`.
    ///
    /// - Parameters:
    ///   - tokens: `[batch, stepLength]` token ids, row-major.
    ///   - stepLength: new positions per batch entry (1 when generating).
    ///   - cache: its length grows by `stepLength`.
    ///   - lengths: real decoder length of each entry, counting cached positions, when the
    ///     decoder input is right-padded (transformers' `decoder_attention_mask`); `nil` if not.
    ///   - training: set for a training pass (from an empty cache).
    /// - Returns: final-normalised hidden states `[batch, stepLength, dModel]`; the record when
    ///   training.
    func forward(
        _ tokens: [Int32], stepLength: Int, cache: inout T5DecoderCache, lengths: [Int]?,
        weights: ParameterStore, training: TrainingPass?
    ) -> (Tensor, Record?) {
        precondition(
            tokens.count == cache.batch * stepLength,
            "\(tokens.count) tokens for batch \(cache.batch) × \(stepLength)")
        let past = cache.length
        var hidden = Tensor.embedding(
            weights[embedding], ids: tokens, idShape: [cache.batch, stepLength])
        let embeddingDropout = training?.mask()
        embeddingDropout?.apply(to: &hidden)
        let bias = positionBias.offsets(
            weights, queryLength: stepLength, keyLength: past + stepLength, queryOffset: past)
        var records = [T5DecoderLayer.Record]()
        for (index, layer) in layers.enumerated() {
            let record = layer.forward(
                &hidden, weights: weights, cache: &cache.selfAttention[index], pastLength: past,
                lengths: lengths, bias: bias, memory: cache.memory?[index],
                encoderHidden: cache.encoderHidden, memoryLengths: cache.memoryLengths,
                training: training)
            if let record { records.append(record) }
        }
        cache.length = past + stepLength
        var output = hidden.rmsNormalized(weight: weights[finalNorm], epsilon: epsilon)
        guard let training, let embeddingDropout else { return (output, nil) }
        let finalDropout = training.mask()
        finalDropout.apply(to: &output)
        let record = Record(
            ids: tokens, embeddingDropout: embeddingDropout, bias: bias, layers: records,
            finalInput: hidden, finalDropout: finalDropout)
        return (output, record)
    }

    /// Back-propagates the gradient of the decoder output into `gradients`.
    ///
    /// - Parameters:
    ///   - dOutput: `[batch, stepLength, dModel]`.
    ///   - encoderHidden: the encoder output the forward attended to.
    /// - Returns: the gradient of the encoder output, `[batch, sourceLength, dModel]`.
    func backward(
        _ dOutput: Tensor, record: Record, encoderHidden: Tensor, weights: ParameterStore,
        gradients: inout ParameterStore
    ) -> Tensor {
        var dHidden = Tensor.rmsNormBackward(
            outputGradient: record.finalDropout.applied(to: dOutput), input: record.finalInput,
            weight: weights[finalNorm], epsilon: epsilon,
            weightGradient: &gradients.tensors[finalNorm])
        var dEncoderHidden = Tensor(zeros: encoderHidden.shape)
        var biasGradient = [Float](repeating: 0, count: record.bias.values.count)
        for (layer, layerRecord) in zip(layers, record.layers).reversed() {
            dHidden = layer.backward(
                dHidden, record: layerRecord, weights: weights, gradients: &gradients,
                biasGradient: &biasGradient, encoderHidden: encoderHidden,
                dEncoderHidden: &dEncoderHidden)
        }
        positionBias.backward(
            offsetGradient: biasGradient, bias: record.bias, gradients: &gradients)
        record.embeddingDropout.apply(to: &dHidden)
        Tensor.embeddingBackward(
            outputGradient: dHidden, ids: record.ids,
            tableGradient: &gradients.tensors[embedding])
        return dEncoderHidden
    }
}
