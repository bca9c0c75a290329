import InparsTensor

/// The T5 decoder stack (`decoder.*`), run incrementally over a ``T5DecoderCache``.
///
/// A teacher-forced or training pass is the same code with all positions in one step;
/// generation calls it with one token per step.
struct T5Decoder: Sendable {
    /// The embedding, the causal position bias and the final norm.
    let stack: T5Stack
    let layers: [T5DecoderLayer]

    /// Dropout sites of a training pass: embedding, six per block, final.
    var dropoutSites: Int { 2 + 6 * layers.count }

    typealias Record = T5Stack.Record<T5DecoderLayer.Record>

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
        let (embedded, embeddingDropout) = stack.embed(
            tokens, idShape: [cache.batch, stepLength], weights: weights, training: training)
        var hidden = embedded
        let bias = stack.positionBias.offsets(
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
        return stack.finish(
            hidden, ids: tokens, embeddingDropout: embeddingDropout, bias: bias, layers: records,
            weights: weights, training: training)
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
        var dEncoderHidden = Tensor(zeros: encoderHidden.shape)
        stack.backward(dOutput, record: record, weights: weights, gradients: &gradients) {
            index, dHidden, gradients, biasGradient in
            layers[index].backward(
                dHidden, record: record.layers[index], weights: weights, gradients: &gradients,
                biasGradient: &biasGradient, encoderHidden: encoderHidden,
                dEncoderHidden: &dEncoderHidden)
        }
        return dEncoderHidden
    }
}
