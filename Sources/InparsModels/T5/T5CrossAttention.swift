import InparsTensor

/// T5 encoder-decoder attention (`layer.1.EncDecAttention`): decoder queries against the
/// encoder output. No position bias, no 1/√dKV scaling; encoder padding is masked.
///
/// The k and v projections are concatenated into ``keyValue``; ``projectMemory(_:)`` applies
/// them to the encoder output once per sequence, and every decoder step reuses the result.
public struct T5CrossAttention: Sendable {
    /// `[inner, dModel]`: the `q` projection.
    public var query: Tensor
    /// `[2 · inner, dModel]`: `k` rows then `v` rows.
    public var keyValue: Tensor
    /// `[dModel, inner]`: the `o` projection.
    public var output: Tensor
    public let numHeads: Int
    public let dKV: Int

    public var inner: Int { numHeads * dKV }

    public init(query: Tensor, key: Tensor, value: Tensor, output: Tensor, numHeads: Int, dKV: Int) {
        self.query = query
        self.keyValue = Tensor.concatenate([key, value], axis: 0)
        self.output = output
        self.numHeads = numHeads
        self.dKV = dKV
    }

    /// Keys and values of the encoder output.
    ///
    /// - Parameter encoderHidden: `[batch, sourceLength, dModel]`.
    /// - Returns: `[batch, sourceLength, 2 · inner]` (k then v in each row).
    public func projectMemory(_ encoderHidden: Tensor) -> Tensor {
        Tensor.linear(encoderHidden, weight: keyValue)
    }

    /// Attention of `x` over the projected encoder output, added into the residual stream.
    ///
    /// - Parameters:
    ///   - x: normalised decoder input, `[batch, stepLength, dModel]`.
    ///   - memory: from ``projectMemory(_:)``, `[batch, sourceLength, 2 · inner]`.
    ///   - memoryLengths: real length of each encoder sequence.
    ///   - residual: `[batch, stepLength, dModel]`.
    public func forward(
        _ x: Tensor, memory: Tensor, memoryLengths: [Int], into residual: inout Tensor
    ) {
        let (batch, stepLength) = (x.shape[0], x.shape[1])
        let sourceLength = memory.shape[1]
        let queries = Tensor.linear(x, weight: query)  // [batch, stepLength, inner]
        var context = Tensor(zeros: [batch, stepLength, inner])
        let memoryWidth = 2 * inner
        queries.storage.withUnsafeBufferPointer { pq in
            memory.storage.withUnsafeBufferPointer { pm in
                context.storage.withUnsafeMutableBufferPointer { out in
                    T5AttentionKernel.multiHead(
                        batch: batch, numHeads: numHeads, dKV: dKV, queryLength: stepLength,
                        keyLength: sourceLength,
                        queries: pq.baseAddress!,
                        queryLayout: T5HeadLayout(rowStride: inner, batchStride: stepLength * inner),
                        keys: pm.baseAddress!,
                        keyLayout: T5HeadLayout(rowStride: memoryWidth, batchStride: sourceLength * memoryWidth),
                        values: pm.baseAddress!,
                        valueLayout: T5HeadLayout(
                            rowStride: memoryWidth, batchStride: sourceLength * memoryWidth, offset: inner),
                        output: out.baseAddress!,
                        outputLayout: T5HeadLayout(rowStride: inner, batchStride: stepLength * inner),
                        visibleKeys: memoryLengths, causalOffset: nil, bias: nil)
                }
            }
        }
        Tensor.accumulateLinear(context, weight: output, into: &residual)
    }
}
