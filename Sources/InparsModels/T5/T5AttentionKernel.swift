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
        let profiling = T5Profile.isEnabled
        var gemmStart = profiling ? T5Profile.now() : 0
        // scores[i, j] = q_i · k_j for the visible keys only. One query (a decoder step over
        // its cache) is a matrix-vector product: GEMV skips GEMM's packing of the keys.
        if queryLength == 1 {
            BLAS.sgemv(
                transposeA: false, rows: columns, columns: dKV, a: keys, lda: keyStride,
                x: queries, y: scores)
        } else {
            BLAS.sgemm(
                transposeA: false, transposeB: true, m: queryLength, n: columns, k: dKV,
                a: queries, lda: queryStride, b: keys, ldb: keyStride, c: scores, ldc: columns)
        }
        if profiling {
            T5Profile.attentionGEMMNanoseconds.add(T5Profile.now() &- gemmStart, ordering: .relaxed)
        }
        for i in 0..<queryLength {
            let row = scores + i * columns
            var visible = columns
            if let causalOffset { visible = min(visible, causalOffset + i + 1) }
            if let bias {
                let biasRow = bias + (biasWidthMinusRow - i)
                for j in 0..<visible { row[j] += biasRow[j] }
            }
            T5Softmax.normalize(row, count: visible)
            for j in visible..<columns { row[j] = 0 }
        }
        // output = P · V (for one query: Vᵀ · p, a GEMV)
        if profiling { gemmStart = T5Profile.now() }
        if queryLength == 1 {
            BLAS.sgemv(
                transposeA: true, rows: columns, columns: dKV, a: values, lda: valueStride,
                x: scores, y: output)
        } else {
            BLAS.sgemm(
                transposeA: false, transposeB: false, m: queryLength, n: dKV, k: columns,
                a: scores, lda: columns, b: values, ldb: valueStride, c: output, ldc: outputStride)
        }
        if profiling {
            T5Profile.attentionGEMMNanoseconds.add(T5Profile.now() &- gemmStart, ordering: .relaxed)
        }
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
        precondition(
            weight.shape == [n, k], "accumulateLinear: x \(x.shape), weight \(weight.shape)")
        precondition(
            residual.lastDimension == n && residual.rowCount == x.rowCount,
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
public struct T5HeadLayout: Sendable {
    /// Elements between consecutive positions (rows) of one batch entry.
    public var rowStride: Int
    /// Elements between consecutive batch entries.
    public var batchStride: Int
    /// Extra element offset of head 0 inside a row (e.g. `inner` for keys inside a fused QKV row).
    public var offset: Int = 0

    /// A layout with the given strides and head-0 offset.
    public init(rowStride: Int, batchStride: Int, offset: Int = 0) {
        self.rowStride = rowStride
        self.batchStride = batchStride
        self.offset = offset
    }

    /// Element offset of head `head`'s row 0 in batch entry `batch` (heads of `dKV` columns).
    @inline(__always)
    public func start(batch: Int, head: Int, dKV: Int) -> Int {
        batch * batchStride + offset + head * dKV
    }
}

extension T5AttentionKernel {
    /// All batch entries and heads: `output[b, i, h·dKV ..< (h+1)·dKV] = softmax(q kᵀ + bias) v`.
    ///
    /// With `BLAS.threads > 1` and enough work, the (batch, head) pairs are split over that many
    /// workers, each running single-threaded GEMMs: the 512×512×64 products of attention scale
    /// better this way than inside OpenBLAS, and the softmax runs in parallel too.
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
        precondition(
            visibleKeys.count == batch, "visibleKeys for \(visibleKeys.count) of \(batch) entries")
        if let bias {
            precondition(
                bias.numHeads == numHeads && bias.queryLength == queryLength
                    && bias.width >= keyLength + queryLength - 1,
                "position bias for \(bias.queryLength) queries, attention has \(queryLength)")
        }
        let pairs = batch * numHeads
        let blasThreads = BLAS.threads
        // Fan out only when there is enough work to pay for it (not for one decoder step).
        let workers = pairs * queryLength * keyLength >= 1 << 16 ? min(blasThreads, pairs) : 1
        func address(_ p: UnsafePointer<Float>) -> Int { Int(bitPattern: p) }
        let emptyBias: [Float] = []
        let sectionStart = T5Profile.isEnabled ? T5Profile.now() : 0
        defer {
            if T5Profile.isEnabled {
                T5Profile.attentionNanoseconds.add(
                    T5Profile.now() &- sectionStart, ordering: .relaxed)
            }
        }
        (bias?.values ?? emptyBias).withUnsafeBufferPointer { biasBuffer in
            let job = MultiHeadJob(
                numHeads: numHeads, dKV: dKV, queryLength: queryLength, keyLength: keyLength,
                queries: address(queries), queryLayout: queryLayout, keys: address(keys),
                keyLayout: keyLayout, values: address(values), valueLayout: valueLayout,
                output: Int(bitPattern: output), outputLayout: outputLayout,
                visibleKeys: visibleKeys, causalOffset: causalOffset,
                bias: bias == nil ? 0 : Int(bitPattern: biasBuffer.baseAddress),
                biasWidth: bias?.width ?? 0, pairs: pairs, workers: workers)
            if workers > 1 {
                BLAS.withSingleThreadedGEMM {
                    DispatchQueue.concurrentPerform(iterations: workers) { job.run(worker: $0) }
                }
            } else {
                job.run(worker: 0)
            }
        }
    }
}

/// One multi-head attention call, with its buffers as addresses so that workers on other
/// threads can share it (`Sendable`); each worker writes disjoint output columns.
private struct MultiHeadJob: Sendable {
    var numHeads, dKV, queryLength, keyLength: Int
    var queries: Int
    var queryLayout: T5HeadLayout
    var keys: Int
    var keyLayout: T5HeadLayout
    var values: Int
    var valueLayout: T5HeadLayout
    var output: Int
    var outputLayout: T5HeadLayout
    var visibleKeys: [Int]
    var causalOffset: Int?
    /// Address of the `[numHeads, biasWidth]` bias, or 0 for none.
    var bias: Int
    var biasWidth: Int
    var pairs: Int
    var workers: Int

    /// Attends the (batch, head) pairs `worker, worker + workers, …`.
    func run(worker: Int) {
        let q = UnsafePointer<Float>(bitPattern: queries)!
        let k = UnsafePointer<Float>(bitPattern: keys)!
        let v = UnsafePointer<Float>(bitPattern: values)!
        let o = UnsafeMutablePointer<Float>(bitPattern: output)!
        let biasBase = UnsafePointer<Float>(bitPattern: bias)
        let scratch = UnsafeMutablePointer<Float>.allocate(
            capacity: max(queryLength * keyLength, 1))
        defer { scratch.deallocate() }
        for index in stride(from: worker, to: pairs, by: workers) {
            let (b, h) = index.quotientAndRemainder(dividingBy: numHeads)
            T5AttentionKernel.attend(
                queries: q + b * queryLayout.batchStride + queryLayout.offset + h * dKV,
                queryStride: queryLayout.rowStride,
                keys: k + b * keyLayout.batchStride + keyLayout.offset + h * dKV,
                keyStride: keyLayout.rowStride,
                values: v + b * valueLayout.batchStride + valueLayout.offset + h * dKV,
                valueStride: valueLayout.rowStride,
                output: o + b * outputLayout.batchStride + outputLayout.offset + h * dKV,
                outputStride: outputLayout.rowStride,
                queryLength: queryLength, keyLength: keyLength, dKV: dKV,
                visibleKeys: visibleKeys[b], causalOffset: causalOffset,
                bias: biasBase.map { $0 + h * biasWidth }, biasWidthMinusRow: queryLength - 1,
                scores: scratch)
        }
    }
}
