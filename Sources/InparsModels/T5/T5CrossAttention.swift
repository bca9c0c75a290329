import Foundation
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

    public init(query: Tensor, key: Tensor, value: Tensor, output: Tensor, numHeads: Int, dKV: Int)
    {
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
                        queryLayout: T5HeadLayout(
                            rowStride: inner, batchStride: stepLength * inner),
                        keys: pm.baseAddress!,
                        keyLayout: T5HeadLayout(
                            rowStride: memoryWidth, batchStride: sourceLength * memoryWidth),
                        values: pm.baseAddress!,
                        valueLayout: T5HeadLayout(
                            rowStride: memoryWidth, batchStride: sourceLength * memoryWidth,
                            offset: inner),
                        output: out.baseAddress!,
                        outputLayout: T5HeadLayout(
                            rowStride: inner, batchStride: stepLength * inner),
                        visibleKeys: memoryLengths, causalOffset: nil, bias: nil)
                }
            }
        }
        Tensor.accumulateLinear(context, weight: output, into: &residual)
    }
}

extension T5CrossAttention {
    /// Cross-attention straight from the encoder hidden states, without projecting them to
    /// keys and values: the k and v weights are absorbed into the query and the output.
    ///
    /// Per head, `q·(M·W_kᵀ)ᵀ = (q·W_k)·Mᵀ` and `P·(M·W_vᵀ) = (P·M)·W_vᵀ`, so a step costs
    /// `O(stepLength · sourceLength · dModel)` per head instead of projecting all
    /// `sourceLength` positions (`O(sourceLength · dModel · 2 · inner)`). For the few decoder
    /// steps of monoT5 scoring (one) this removes the decoder's largest GEMM; generation with
    /// many steps should use ``projectMemory(_:)`` once instead.
    ///
    /// - Parameters:
    ///   - x: normalised decoder input, `[batch, stepLength, dModel]`.
    ///   - encoderHidden: `[batch, sourceLength, dModel]`.
    ///   - memoryLengths: real encoder lengths.
    ///   - residual: `[batch, stepLength, dModel]`.
    public func forward(
        _ x: Tensor, encoderHidden: Tensor, memoryLengths: [Int], into residual: inout Tensor
    ) {
        let (batch, stepLength, dModel) = (x.shape[0], x.shape[1], x.shape[2])
        let sourceLength = encoderHidden.shape[1]
        let rows = batch * stepLength
        let queries = Tensor.linear(x, weight: query)  // [batch, stepLength, inner]
        var context = Tensor(zeros: [batch, stepLength, inner])
        // Per head: absorbed queries q·W_k [rows, dModel], then P·M [rows, dModel].
        var absorbed = [Float](repeating: 0, count: rows * dModel)
        var mixed = [Float](repeating: 0, count: rows * dModel)
        var scores = [Float](repeating: 0, count: stepLength * sourceLength)
        let inner = self.inner
        queries.storage.withUnsafeBufferPointer { pq in
            keyValue.storage.withUnsafeBufferPointer { pw in
                encoderHidden.storage.withUnsafeBufferPointer { pm in
                    context.storage.withUnsafeMutableBufferPointer { pc in
                        absorbed.withUnsafeMutableBufferPointer { pa in
                            mixed.withUnsafeMutableBufferPointer { px in
                                scores.withUnsafeMutableBufferPointer { ps in
                                    for h in 0..<numHeads {
                                        let keyRows = pw.baseAddress! + h * dKV * dModel
                                        let valueRows = pw.baseAddress! + (inner + h * dKV) * dModel
                                        // absorbed = q_h [rows, dKV] · W_k,h [dKV, dModel]
                                        BLAS.sgemm(
                                            transposeA: false, transposeB: false, m: rows,
                                            n: dModel,
                                            k: dKV, a: pq.baseAddress! + h * dKV, lda: inner,
                                            b: keyRows, ldb: dModel, c: pa.baseAddress!, ldc: dModel
                                        )
                                        for b in 0..<batch {
                                            let memory = pm.baseAddress! + b * sourceLength * dModel
                                            let columns = min(memoryLengths[b], sourceLength)
                                            let s = ps.baseAddress!
                                            BLAS.sgemm(
                                                transposeA: false, transposeB: true, m: stepLength,
                                                n: columns, k: dModel,
                                                a: pa.baseAddress! + b * stepLength * dModel,
                                                lda: dModel,
                                                b: memory, ldb: dModel, c: s, ldc: columns)
                                            for i in 0..<stepLength {
                                                T5Softmax.normalize(s + i * columns, count: columns)
                                            }
                                            BLAS.sgemm(
                                                transposeA: false, transposeB: false, m: stepLength,
                                                n: dModel, k: columns, a: s, lda: columns,
                                                b: memory, ldb: dModel,
                                                c: px.baseAddress! + b * stepLength * dModel,
                                                ldc: dModel)
                                        }
                                        // context_h = (P·M) [rows, dModel] · W_v,hᵀ [dModel, dKV]
                                        BLAS.sgemm(
                                            transposeA: false, transposeB: true, m: rows, n: dKV,
                                            k: dModel, a: px.baseAddress!, lda: dModel,
                                            b: valueRows,
                                            ldb: dModel, c: pc.baseAddress! + h * dKV, ldc: inner)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Tensor.accumulateLinear(context, weight: output, into: &residual)
    }
}
