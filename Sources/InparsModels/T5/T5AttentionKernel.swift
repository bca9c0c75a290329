import Foundation
import InparsTensor

/// The attention arithmetic shared by T5's self- and cross-attention, for one (batch, head).
///
/// T5 does **not** scale scores by 1/√dKV (the scale is folded into its initialisation).
/// Queries, keys, values and the output are read and written in place inside wider row-major
/// buffers (fused projections, caches), so no head is ever copied out: each is addressed by a
/// base pointer and a row stride. Padding and causality are handled by limiting each query row
/// to its visible keys, which equals adding `finfo.min` to masked scores as transformers does.
enum T5AttentionKernel {
    /// One (batch, head) of attention.
    ///
    /// - Parameters:
    ///   - queries: `[queryLength, dKV]` with row stride `queryStride`.
    ///   - keys, values: `[keyLength, dKV]` with row strides `keyStride`, `valueStride`.
    ///   - output: `[queryLength, dKV]` with row stride `outputStride`, overwritten.
    ///   - visibleKeys: keys `0..<visibleKeys` are attended to (padding); with `causalOffset`
    ///     set, row `i` further sees only keys `0 ... causalOffset + i`.
    ///   - bias: relative position bias for this head, row `i` starting at `bias + biasRowStart(i)`
    ///     (see ``T5RelativePositionBias/Offsets``); `nil` for none (cross-attention).
    ///   - scores: scratch of at least `queryLength * keyLength` floats.
    static func attend(
        queries: UnsafePointer<Float>, queryStride: Int,
        keys: UnsafePointer<Float>, keyStride: Int,
        values: UnsafePointer<Float>, valueStride: Int,
        output: UnsafeMutablePointer<Float>, outputStride: Int,
        queryLength: Int, keyLength: Int, dKV: Int, visibleKeys: Int, causalOffset: Int?,
        bias: UnsafePointer<Float>?, biasWidthMinusRow: Int,
        scores: UnsafeMutablePointer<Float>
    ) {
        let columns = min(visibleKeys, keyLength)
        precondition(columns > 0, "attention over zero keys")
        // scores[i, j] = q_i · k_j for the visible keys only.
        BLAS.sgemm(
            transposeA: false, transposeB: true, m: queryLength, n: columns, k: dKV,
            a: queries, lda: queryStride, b: keys, ldb: keyStride, c: scores, ldc: columns)
        for i in 0..<queryLength {
            let row = scores + i * columns
            var visible = columns
            if let causalOffset { visible = min(visible, causalOffset + i + 1) }
            if let bias {
                let biasRow = bias + (biasWidthMinusRow - i)
                for j in 0..<visible { row[j] += biasRow[j] }
            }
            var maximum = -Float.infinity
            for j in 0..<visible where row[j] > maximum { maximum = row[j] }
            var sum: Float = 0
            for j in 0..<visible {
                let e = expf(row[j] - maximum)
                row[j] = e
                sum += e
            }
            let inverse = 1 / sum
            for j in 0..<visible { row[j] *= inverse }
            for j in visible..<columns { row[j] = 0 }
        }
        // output = P · V
        BLAS.sgemm(
            transposeA: false, transposeB: false, m: queryLength, n: dKV, k: columns,
            a: scores, lda: columns, b: values, ldb: valueStride, c: output, ldc: outputStride)
    }
}

extension Tensor {
    /// `residual += x · Wᵀ` in one GEMM (`beta = 1`): the output projection of a sublayer
    /// written straight into the residual stream.
    ///
    /// - Parameters:
    ///   - x: `[rows, in]` (any leading shape).
    ///   - weight: `[out, in]`, PyTorch layout.
    ///   - residual: `[rows, out]` (any leading shape with `out` last), updated in place.
    static func accumulateLinear(_ x: Tensor, weight: Tensor, into residual: inout Tensor) {
        let k = x.lastDimension
        let n = weight.shape[0]
        precondition(weight.shape == [n, k], "accumulateLinear: x \(x.shape), weight \(weight.shape)")
        precondition(residual.lastDimension == n && residual.rowCount == x.rowCount,
                     "accumulateLinear: residual \(residual.shape) for x \(x.shape) · \(weight.shape)ᵀ")
        let m = x.rowCount
        x.storage.withUnsafeBufferPointer { px in
            weight.storage.withUnsafeBufferPointer { pw in
                residual.storage.withUnsafeMutableBufferPointer { pr in
                    BLAS.sgemm(
                        transposeA: false, transposeB: true, m: m, n: n, k: k,
                        a: px.baseAddress!, lda: k, b: pw.baseAddress!, ldb: k, beta: 1,
                        c: pr.baseAddress!, ldc: n)
                }
            }
        }
    }
}

/// Where one operand of multi-head attention lives inside a wider buffer.
struct T5HeadLayout {
    /// Elements between consecutive positions (rows) of one batch entry.
    var rowStride: Int
    /// Elements between consecutive batch entries.
    var batchStride: Int
    /// Extra element offset of head 0 inside a row (e.g. `inner` for keys inside a fused QKV row).
    var offset: Int = 0
}

extension T5AttentionKernel {
    /// All batch entries and heads: `output[b, i, h·dKV ..< (h+1)·dKV] = softmax(q kᵀ + bias) v`.
    ///
    /// - Parameters:
    ///   - visibleKeys: per batch entry, how many leading keys are real (the rest is padding).
    ///   - causalOffset: position of query row 0 for causal masking; `nil` for none.
    ///   - bias: relative position bias (`nil` in cross-attention).
    static func multiHead(
        batch: Int, numHeads: Int, dKV: Int, queryLength: Int, keyLength: Int,
        queries: UnsafePointer<Float>, queryLayout: T5HeadLayout,
        keys: UnsafePointer<Float>, keyLayout: T5HeadLayout,
        values: UnsafePointer<Float>, valueLayout: T5HeadLayout,
        output: UnsafeMutablePointer<Float>, outputLayout: T5HeadLayout,
        visibleKeys: [Int], causalOffset: Int?, bias: T5RelativePositionBias.Offsets?
    ) {
        precondition(visibleKeys.count == batch, "visibleKeys for \(visibleKeys.count) of \(batch) entries")
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(queryLength * keyLength, 1))
        defer { scratch.deallocate() }
        let run = { (biasValues: UnsafePointer<Float>?) in
            for b in 0..<batch {
                for h in 0..<numHeads {
                    let headBias = biasValues.map { $0 + h * bias!.width }
                    attend(
                        queries: queries + b * queryLayout.batchStride + queryLayout.offset + h * dKV,
                        queryStride: queryLayout.rowStride,
                        keys: keys + b * keyLayout.batchStride + keyLayout.offset + h * dKV,
                        keyStride: keyLayout.rowStride,
                        values: values + b * valueLayout.batchStride + valueLayout.offset + h * dKV,
                        valueStride: valueLayout.rowStride,
                        output: output + b * outputLayout.batchStride + outputLayout.offset + h * dKV,
                        outputStride: outputLayout.rowStride,
                        queryLength: queryLength, keyLength: keyLength, dKV: dKV,
                        visibleKeys: visibleKeys[b], causalOffset: causalOffset,
                        bias: headBias, biasWidthMinusRow: queryLength - 1, scores: scratch)
                }
            }
        }
        if let bias {
            precondition(bias.numHeads == numHeads && bias.queryLength == queryLength
                         && bias.width >= keyLength + queryLength - 1,
                         "position bias for \(bias.queryLength) queries, attention has \(queryLength)")
            bias.values.withUnsafeBufferPointer { run($0.baseAddress!) }
        } else {
            run(nil)
        }
    }
}
