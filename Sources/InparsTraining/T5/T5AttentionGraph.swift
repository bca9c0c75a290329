import InparsModels
import InparsTensor

extension T5AttentionCore {
    /// `scores += bias + mask` row by row (the general broadcasting path would walk a
    /// multi-index per element).
    ///
    /// - Parameters:
    ///   - scores: `[batch, numHeads, queryLength, keyLength]`.
    ///   - bias: `[1, numHeads, queryLength, keyLength]` or `nil`.
    ///   - mask: `[1 or batch, 1, 1 or queryLength, keyLength]`.
    static func addBiasAndMask(_ scores: inout Tensor, bias: Tensor?, mask: Tensor) {
        let (batch, heads, queries, keys) = (
            scores.shape[0], scores.shape[1], scores.shape[2], scores.shape[3]
        )
        if let bias {
            precondition(
                bias.shape == [1, heads, queries, keys],
                "bias \(bias.shape) for scores \(scores.shape)")
        }
        precondition(
            mask.rank == 4 && (mask.shape[0] == 1 || mask.shape[0] == batch) && mask.shape[1] == 1
                && (mask.shape[2] == 1 || mask.shape[2] == queries) && mask.shape[3] == keys,
            "mask \(mask.shape) for scores \(scores.shape)")
        let maskBatchStride = mask.shape[0] == 1 ? 0 : mask.shape[2] * keys
        let maskRowStride = mask.shape[2] == 1 ? 0 : keys
        let biasStorage = bias?.storage ?? []
        scores.storage.withUnsafeMutableBufferPointer { ps in
            mask.storage.withUnsafeBufferPointer { pm in
                biasStorage.withUnsafeBufferPointer { pb in
                    for b in 0..<batch {
                        for h in 0..<heads {
                            for i in 0..<queries {
                                let row = ((b * heads + h) * queries + i) * keys
                                let maskRow = b * maskBatchStride + i * maskRowStride
                                if pb.isEmpty {
                                    for j in 0..<keys { ps[row + j] += pm[maskRow + j] }
                                } else {
                                    let biasRow = (h * queries + i) * keys
                                    for j in 0..<keys {
                                        ps[row + j] += pb[biasRow + j] + pm[maskRow + j]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Self-attention (`layer.0.SelfAttention`) for training: forward with saved activations and
/// backward into the fused `[3·inner, dModel]` q/k/v weight, the output weight and the
/// relative-position-bias gradient.
struct T5SelfAttentionGraph {
    var input: Tensor
    var core: T5AttentionCore
    /// `[batch, len, inner]`.
    var context: Tensor

    static func forward(
        _ attention: T5SelfAttention, input x: Tensor, bias: Tensor, mask: Tensor,
        dropout: DropoutMask
    ) -> (T5SelfAttentionGraph, Tensor) {
        let (batch, length) = (x.shape[0], x.shape[1])
        let qkv = Tensor.linear(x, weight: attention.queryKeyValue)
        let inner = attention.numHeads * attention.dKV
        func layout(_ part: Int) -> T5HeadLayout {
            T5HeadLayout(rowStride: 3 * inner, batchStride: length * 3 * inner, offset: part * inner)
        }
        let (core, context) = T5AttentionCore.forward(
            queries: qkv, queryLayout: layout(0), keys: qkv, keyLayout: layout(1), values: qkv,
            valueLayout: layout(2), batch: batch, numHeads: attention.numHeads,
            dKV: attention.dKV, queryLength: length, keyLength: length, bias: bias, mask: mask,
            dropout: dropout)
        let output = Tensor.linear(context, weight: attention.output)
        return (T5SelfAttentionGraph(input: x, core: core, context: context), output)
    }

    /// - Returns: the input gradient and the position-bias gradient
    ///   (`[1, numHeads, len, len]`, the score gradient summed over the batch).
    func backward(
        _ dOutput: Tensor, attention: T5SelfAttention, gradients: inout T5SelfAttention
    ) -> (input: Tensor, bias: Tensor) {
        let dContext = Tensor.linearBackward(
            outputGradient: dOutput, input: context, weight: attention.output,
            weightGradient: &gradients.output)
        let length = core.queryLength
        var dBias = Tensor(zeros: [1, attention.numHeads, length, length])
        let dqkv = Tensor(shape: core.queries.shape) { pd in
            dBias.storage.withUnsafeMutableBufferPointer { pb in
                core.backward(
                    dContext, dQueries: pd.baseAddress!, dKeys: pd.baseAddress!,
                    dValues: pd.baseAddress!, biasGradient: pb.baseAddress!)
            }
        }
        let dx = Tensor.linearBackward(
            outputGradient: dqkv, input: input, weight: attention.queryKeyValue,
            weightGradient: &gradients.queryKeyValue)
        return (dx, dBias)
    }
}

/// Encoder-decoder attention (`layer.1.EncDecAttention`) for training.
struct T5CrossAttentionGraph {
    var input: Tensor
    var encoderHidden: Tensor
    var core: T5AttentionCore
    var context: Tensor

    static func forward(
        _ attention: T5CrossAttention, input x: Tensor, encoderHidden: Tensor, mask: Tensor,
        dropout: DropoutMask
    ) -> (T5CrossAttentionGraph, Tensor) {
        let (batch, target, source) = (x.shape[0], x.shape[1], encoderHidden.shape[1])
        let inner = attention.numHeads * attention.dKV
        let queries = Tensor.linear(x, weight: attention.query)
        let kv = Tensor.linear(encoderHidden, weight: attention.keyValue)
        let (core, context) = T5AttentionCore.forward(
            queries: queries,
            queryLayout: T5HeadLayout(rowStride: inner, batchStride: target * inner),
            keys: kv, keyLayout: T5HeadLayout(rowStride: 2 * inner, batchStride: source * 2 * inner),
            values: kv,
            valueLayout: T5HeadLayout(
                rowStride: 2 * inner, batchStride: source * 2 * inner, offset: inner),
            batch: batch, numHeads: attention.numHeads, dKV: attention.dKV,
            queryLength: target, keyLength: source, bias: nil, mask: mask, dropout: dropout)
        let output = Tensor.linear(context, weight: attention.output)
        return (
            T5CrossAttentionGraph(
                input: x, encoderHidden: encoderHidden, core: core, context: context), output
        )
    }

    /// - Returns: the gradients of the decoder input and of the encoder output.
    func backward(
        _ dOutput: Tensor, attention: T5CrossAttention, gradients: inout T5CrossAttention
    ) -> (input: Tensor, encoderHidden: Tensor) {
        let dContext = Tensor.linearBackward(
            outputGradient: dOutput, input: context, weight: attention.output,
            weightGradient: &gradients.output)
        var dQueries = Tensor(zeros: core.queries.shape)
        var dKeyValue = Tensor(zeros: core.keys.shape)
        dQueries.storage.withUnsafeMutableBufferPointer { pq in
            dKeyValue.storage.withUnsafeMutableBufferPointer { pkv in
                core.backward(
                    dContext, dQueries: pq.baseAddress!, dKeys: pkv.baseAddress!,
                    dValues: pkv.baseAddress!, biasGradient: nil)
            }
        }
        let dx = Tensor.linearBackward(
            outputGradient: dQueries, input: input, weight: attention.query,
            weightGradient: &gradients.query)
        let dMemory = Tensor.linearBackward(
            outputGradient: dKeyValue, input: encoderHidden, weight: attention.keyValue,
            weightGradient: &gradients.keyValue)
        return (dx, dMemory)
    }
}
