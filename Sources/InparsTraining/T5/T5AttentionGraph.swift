import InparsModels
import InparsTensor

/// Training-time multi-head attention core with saved activations:
/// `context = dropout(softmax(Q·Kᵀ + bias + mask)) · V` (no 1/√dKV scaling, as T5).
///
/// Unlike the inference kernel (`T5AttentionKernel`, which works in place on fused buffers and
/// skips masked keys), this keeps every head contiguous (`[batch, numHeads, len, dKV]`) and
/// the masks as additive tensors, so the backward is a direct composition of the op backwards
/// (`batchedMatmulBackward`, `softmaxBackward`, `summed(toShape:)`).
struct T5AttentionCore {
    /// `[batch, numHeads, queryLength, dKV]`, `[batch, numHeads, keyLength, dKV]` ×2.
    var queries: Tensor
    var keys: Tensor
    var values: Tensor
    /// Softmax output before dropout, `[batch, numHeads, queryLength, keyLength]`.
    var probabilities: Tensor
    var dropout: DropoutMask

    /// - Parameters:
    ///   - bias: `[1, numHeads, queryLength, keyLength]` or `nil`.
    ///   - mask: additive, broadcastable to the scores (`[batch, 1, 1|queryLength, keyLength]`).
    /// - Returns: the saved state and the context `[batch, numHeads, queryLength, dKV]`.
    static func forward(
        queries: Tensor, keys: Tensor, values: Tensor, bias: Tensor?, mask: Tensor,
        dropout: DropoutMask
    ) -> (T5AttentionCore, Tensor) {
        var scores = Tensor.batchedMatmul(queries, keys, transposeB: true)
        addBiasAndMask(&scores, bias: bias, mask: mask)
        scores.applySoftmax()
        let context = Tensor.batchedMatmul(
            dropout.rate == 0 ? scores : dropout.applied(to: scores), values)
        return (
            T5AttentionCore(
                queries: queries, keys: keys, values: values, probabilities: scores,
                dropout: dropout),
            context
        )
    }

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

    /// - Parameter dContext: `[batch, numHeads, queryLength, dKV]`.
    /// - Returns: gradients of queries, keys, values and the score addends (`dScores`,
    ///   `[batch, numHeads, queryLength, keyLength]`; the bias gradient is its batch sum).
    func backward(_ dContext: Tensor) -> (
        queries: Tensor, keys: Tensor, values: Tensor, scores: Tensor
    ) {
        let dropped = dropout.rate == 0 ? probabilities : dropout.applied(to: probabilities)
        var (dProbabilities, dValues) = Tensor.batchedMatmulBackward(
            outputGradient: dContext, dropped, values)
        dropout.apply(to: &dProbabilities)
        let dScores = Tensor.softmaxBackward(output: probabilities, outputGradient: dProbabilities)
        let (dQueries, dKeys) = Tensor.batchedMatmulBackward(
            outputGradient: dScores, queries, keys, transposeB: true)
        return (dQueries, dKeys, dValues, dScores)
    }
}

extension Tensor {
    /// `[batch, len, parts · numHeads · dKV]` → `parts` tensors `[batch, numHeads, len, dKV]`
    /// (the fused q/k/v or k/v projection split into heads).
    static func splitFusedHeads(_ fused: Tensor, parts: Int, numHeads: Int) -> [Tensor] {
        let (batch, length) = (fused.shape[0], fused.shape[1])
        let dKV = fused.shape[2] / (parts * numHeads)
        let permuted = fused.reshaped([batch, length, parts, numHeads, dKV]).permuted([
            2, 0, 3, 1, 4,
        ])
        return (0..<parts).map {
            permuted.slice(outer: $0..<($0 + 1)).reshaped([batch, numHeads, length, dKV])
        }
    }

    /// The inverse of ``splitFusedHeads(_:parts:numHeads:)`` (used on gradients).
    static func mergeFusedHeads(_ parts: [Tensor]) -> Tensor {
        let (batch, numHeads, length, dKV) = (
            parts[0].shape[0], parts[0].shape[1], parts[0].shape[2], parts[0].shape[3]
        )
        let stacked = Tensor.concatenate(
            parts.map { $0.reshaped([1, batch, numHeads, length, dKV]) }, axis: 0)
        return stacked.unpermuted([2, 0, 3, 1, 4]).reshaped([
            batch, length, parts.count * numHeads * dKV,
        ])
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
        let qkv = Tensor.linear(x, weight: attention.queryKeyValue)
        let heads = Tensor.splitFusedHeads(qkv, parts: 3, numHeads: attention.numHeads)
        let (core, context) = T5AttentionCore.forward(
            queries: heads[0], keys: heads[1], values: heads[2], bias: bias, mask: mask,
            dropout: dropout)
        let merged = context.mergeHeads()
        let output = Tensor.linear(merged, weight: attention.output)
        return (T5SelfAttentionGraph(input: x, core: core, context: merged), output)
    }

    /// - Returns: the input gradient and the score gradient (for the position bias).
    func backward(
        _ dOutput: Tensor, attention: T5SelfAttention, gradients: inout T5SelfAttention
    ) -> (input: Tensor, scores: Tensor) {
        let dContext = Tensor.linearBackward(
            outputGradient: dOutput, input: context, weight: attention.output,
            weightGradient: &gradients.output)
        let d = core.backward(dContext.splitHeads(attention.numHeads))
        let dqkv = Tensor.mergeFusedHeads([d.queries, d.keys, d.values])
        let dx = Tensor.linearBackward(
            outputGradient: dqkv, input: input, weight: attention.queryKeyValue,
            weightGradient: &gradients.queryKeyValue)
        return (dx, d.scores)
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
        let queries = Tensor.linear(x, weight: attention.query).splitHeads(attention.numHeads)
        let kv = Tensor.splitFusedHeads(
            Tensor.linear(encoderHidden, weight: attention.keyValue), parts: 2,
            numHeads: attention.numHeads)
        let (core, context) = T5AttentionCore.forward(
            queries: queries, keys: kv[0], values: kv[1], bias: nil, mask: mask, dropout: dropout)
        let merged = context.mergeHeads()
        let output = Tensor.linear(merged, weight: attention.output)
        return (
            T5CrossAttentionGraph(
                input: x, encoderHidden: encoderHidden, core: core, context: merged), output
        )
    }

    /// - Returns: the gradients of the decoder input and of the encoder output.
    func backward(
        _ dOutput: Tensor, attention: T5CrossAttention, gradients: inout T5CrossAttention
    ) -> (input: Tensor, encoderHidden: Tensor) {
        let dContext = Tensor.linearBackward(
            outputGradient: dOutput, input: context, weight: attention.output,
            weightGradient: &gradients.output)
        let d = core.backward(dContext.splitHeads(attention.numHeads))
        let dx = Tensor.linearBackward(
            outputGradient: d.queries.mergeHeads(), input: input, weight: attention.query,
            weightGradient: &gradients.query)
        let dMemory = Tensor.linearBackward(
            outputGradient: Tensor.mergeFusedHeads([d.keys, d.values]), input: encoderHidden,
            weight: attention.keyValue, weightGradient: &gradients.keyValue)
        return (dx, dMemory)
    }
}
