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
public struct T5Encoder: Sendable {
    /// `[vocab, dModel]`: `shared.weight` (the encoder's `embed_tokens` is tied to it).
    public var embedding: Tensor
    public var layers: [T5EncoderLayer]
    /// `[dModel]`: `encoder.final_layer_norm.weight`.
    public var finalNorm: Tensor
    /// Bidirectional bias from `encoder.block.0.layer.0.SelfAttention.relative_attention_bias`.
    public var positionBias: T5RelativePositionBias
    public let epsilon: Float

    public init(
        embedding: Tensor, layers: [T5EncoderLayer], finalNorm: Tensor,
        positionBias: T5RelativePositionBias, epsilon: Float
    ) {
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.positionBias = positionBias
        self.epsilon = epsilon
    }

    /// Encodes a batch of token sequences of unequal lengths (right-padded internally).
    ///
    /// - Parameters:
    ///   - sequences: token ids per batch entry, each non-empty.
    ///   - padID: the id written into padding positions (T5: 0).
    /// - Returns: hidden states `[batch, maxLength, dModel]` and the lengths.
    public func forward(_ sequences: [[Int32]], padID: Int32 = 0) -> T5EncoderOutput {
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
        var hidden = Tensor.embedding(embedding, ids: ids, idShape: [sequences.count, maxLength])
        let bias = positionBias.offsets(queryLength: maxLength, keyLength: maxLength)
        for layer in layers {
            layer.forward(&hidden, lengths: lengths, bias: bias)
        }
        return T5EncoderOutput(
            hidden: hidden.rmsNormalized(weight: finalNorm, epsilon: epsilon), lengths: lengths)
    }
}
