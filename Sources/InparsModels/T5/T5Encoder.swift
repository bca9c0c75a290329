import InparsTensor

/// The encoder's result: final hidden states and the real length of each sequence.
public struct T5EncoderOutput: Sendable {
    /// `[batch, sourceLength, dModel]` after the final layer norm (padding rows included).
    public var hidden: Tensor
    /// Real (unpadded) length of each batch entry.
    public var lengths: [Int]

    public init(hidden: Tensor, lengths: [Int]) {
        self.hidden = hidden
        self.lengths = lengths
    }

    public var batch: Int { hidden.shape[0] }
}

/// The T5 encoder stack (`encoder.*`).
struct T5Encoder: Sendable {
    /// Slot `[vocab, dModel]`: `shared.weight` (the encoder's `embed_tokens` is tied to it).
    let embedding: Int
    let layers: [T5EncoderLayer]
    /// Slot `[dModel]`: `encoder.final_layer_norm.weight`.
    let finalNorm: Int
    /// Bidirectional bias from `encoder.block.0.layer.0.SelfAttention.relative_attention_bias`.
    let positionBias: T5RelativePositionBias
    let epsilon: Float

    /// Dropout sites of a training pass: embedding, four per block, final.
    var dropoutSites: Int { 2 + 4 * layers.count }

    /// What the backward pass needs from a training forward.
    struct Record {
        /// Right-padded ids `[batch · maxLength]`.
        var ids: [Int32]
        var embeddingDropout: DropoutMask
        var bias: RelativeOffsetBias
        var layers: [T5EncoderLayer.Record]
        /// The residual stream before the final norm.
        var finalInput: Tensor
        var finalDropout: DropoutMask
    }

    /// Encodes a batch of token sequences of unequal lengths (right-padded internally).
    ///
    /// - Parameters:
    ///   - sequences: token ids per batch entry, each non-empty.
    ///   - padID: the id written into padding positions (T5: 0).
    ///   - training: set for a training pass.
    /// - Returns: hidden states `[batch, maxLength, dModel]` and the lengths; the record when
    ///   training.
    func forward(
        _ sequences: [[Int32]], padID: Int32, weights: ParameterStore, training: TrainingPass?
    ) -> (T5EncoderOutput, Record?) {
        precondition(
            !sequences.isEmpty && sequences.allSatisfy { !$0.isEmpty }, "empty input sequence")
        let lengths = sequences.map(\.count)
        let maxLength = lengths.max()!
        var ids = [Int32]()
        ids.reserveCapacity(sequences.count * maxLength)
        for sequence in sequences {
            ids.append(contentsOf: sequence)
            ids.append(contentsOf: repeatElement(padID, count: maxLength - sequence.count))
        }
        var hidden = Tensor.embedding(
            weights[embedding], ids: ids, idShape: [sequences.count, maxLength])
        let embeddingDropout = training?.mask()
        embeddingDropout?.apply(to: &hidden)
        let bias = positionBias.offsets(weights, queryLength: maxLength, keyLength: maxLength)
        var records = [T5EncoderLayer.Record]()
        for layer in layers {
            let record = layer.forward(
                &hidden, weights: weights, lengths: lengths, bias: bias, training: training)
            if let record { records.append(record) }
        }
        var output = hidden.rmsNormalized(weight: weights[finalNorm], epsilon: epsilon)
        guard let training, let embeddingDropout else {
            return (T5EncoderOutput(hidden: output, lengths: lengths), nil)
        }
        let finalDropout = training.mask()
        finalDropout.apply(to: &output)
        let record = Record(
            ids: ids, embeddingDropout: embeddingDropout, bias: bias, layers: records,
            finalInput: hidden, finalDropout: finalDropout)
        return (T5EncoderOutput(hidden: output, lengths: lengths), record)
    }

    /// Back-propagates the gradient of the encoder output into `gradients` (the embedding's
    /// gradient goes to the shared slot).
    ///
    /// - Parameter dOutput: `[batch, maxLength, dModel]`.
    func backward(
        _ dOutput: Tensor, record: Record, weights: ParameterStore,
        gradients: inout ParameterStore
    ) {
        var dHidden = Tensor.rmsNormBackward(
            outputGradient: record.finalDropout.applied(to: dOutput), input: record.finalInput,
            weight: weights[finalNorm], epsilon: epsilon,
            weightGradient: &gradients.tensors[finalNorm])
        var biasGradient = [Float](repeating: 0, count: record.bias.values.count)
        for (layer, layerRecord) in zip(layers, record.layers).reversed() {
            dHidden = layer.backward(
                dHidden, record: layerRecord, weights: weights, gradients: &gradients,
                biasGradient: &biasGradient)
        }
        positionBias.backward(
            offsetGradient: biasGradient, bias: record.bias, gradients: &gradients)
        record.embeddingDropout.apply(to: &dHidden)
        Tensor.embeddingBackward(
            outputGradient: dHidden, ids: record.ids,
            tableGradient: &gradients.tensors[embedding])
    }
}
