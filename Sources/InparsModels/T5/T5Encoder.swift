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

/// The T5 encoder stack (`encoder.*`): embedding, bidirectional blocks, final norm.
struct T5Encoder: Sendable {
    /// The embedding, the bidirectional position bias and the final norm.
    let stack: T5Stack
    let layers: [T5EncoderLayer]

    /// Dropout sites of a training pass: embedding, four per block, final.
    var dropoutSites: Int { 2 + 4 * layers.count }

    typealias Record = T5Stack.Record<T5EncoderLayer.Record>

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
        let (embedded, embeddingDropout) = stack.embed(
            ids, idShape: [sequences.count, maxLength], weights: weights, training: training)
        var hidden = embedded
        let bias = stack.positionBias.offsets(
            weights, queryLength: maxLength, keyLength: maxLength)
        var records = [T5EncoderLayer.Record]()
        for layer in layers {
            let record = layer.forward(
                &hidden, weights: weights, lengths: lengths, bias: bias, training: training)
            if let record { records.append(record) }
        }
        let (output, record) = stack.finish(
            hidden, ids: ids, embeddingDropout: embeddingDropout, bias: bias, layers: records,
            weights: weights, training: training)
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
        stack.backward(dOutput, record: record, weights: weights, gradients: &gradients) {
            index, dHidden, gradients, biasGradient in
            layers[index].backward(
                dHidden, record: record.layers[index], weights: weights, gradients: &gradients,
                biasGradient: &biasGradient)
        }
    }
}
