import Foundation
import InparsModels
import InparsTensor

/// Training-time multi-head attention core with saved probabilities:
/// `context = dropout(softmax(Q·Kᵀ + bias + mask)) · V` (no 1/√dKV scaling, as T5).
///
/// As the inference kernel (`T5AttentionKernel`), heads are read and written in place inside
/// the fused projection buffers (``T5HeadLayout``: row stride and head-0 offset), so no head is
/// copied out and the context comes out merged, `[batch, queryLength, numHeads·dKV]`. The work
/// is split by head over `BLAS.threads` workers, each running single-threaded GEMMs per
/// (batch, head) and the softmax and its backward on its own rows; every head is handled by one
/// worker in a fixed order, so results do not depend on the thread count.
///
/// Backward per (batch, head), with `P` the saved probabilities and `P̃ = dropout(P)`:
/// `dP̃ = dC·Vᵀ`, `dV = P̃ᵀ·dC`, `dP = dropout(dP̃)`, `dS = P ⊙ (dP − rowsum(P ⊙ dP))`,
/// `dQ = dS·K`, `dK = dSᵀ·Q`; the bias gradient is `dS` summed over the batch.
struct T5AttentionCore {
    var queries: Tensor
    var queryLayout: T5HeadLayout
    var keys: Tensor
    var keyLayout: T5HeadLayout
    var values: Tensor
    var valueLayout: T5HeadLayout
    /// Softmax output before dropout, `[batch, numHeads, queryLength, keyLength]`.
    var probabilities: Tensor
    var dropout: DropoutMask
    let numHeads: Int
    let dKV: Int

    var batch: Int { probabilities.shape[0] }
    var queryLength: Int { probabilities.shape[2] }
    var keyLength: Int { probabilities.shape[3] }

    /// - Parameters:
    ///   - queries, keys, values: buffers holding the heads at the given layouts (they may be
    ///     the same fused tensor).
    ///   - bias: `[1, numHeads, queryLength, keyLength]` or `nil`.
    ///   - mask: additive, `[1 or batch, 1, 1 or queryLength, keyLength]`.
    /// - Returns: the saved state and the context `[batch, queryLength, numHeads·dKV]`.
    static func forward(
        queries: Tensor, queryLayout: T5HeadLayout, keys: Tensor, keyLayout: T5HeadLayout,
        values: Tensor, valueLayout: T5HeadLayout, batch: Int, numHeads: Int, dKV: Int,
        queryLength: Int, keyLength: Int, bias: Tensor?, mask: Tensor, dropout: DropoutMask
    ) -> (T5AttentionCore, Tensor) {
        if let bias {
            precondition(
                bias.shape == [1, numHeads, queryLength, keyLength],
                "bias \(bias.shape) for \(numHeads) heads × \(queryLength) × \(keyLength)")
        }
        precondition(
            mask.rank == 4 && (mask.shape[0] == 1 || mask.shape[0] == batch)
                && mask.shape[1] == 1 && (mask.shape[2] == 1 || mask.shape[2] == queryLength)
                && mask.shape[3] == keyLength,
            "mask \(mask.shape) for \(batch) × \(queryLength) × \(keyLength) scores")
        let inner = numHeads * dKV
        var probabilities = Tensor(zeros: [0])
        var context = Tensor(zeros: [0])
        probabilities = Tensor(shape: [batch, numHeads, queryLength, keyLength]) { pp in
            context = Tensor(shape: [batch, queryLength, inner]) { pc in
                queries.storage.withUnsafeBufferPointer { pq in
                    keys.storage.withUnsafeBufferPointer { pk in
                        values.storage.withUnsafeBufferPointer { pv in
                            mask.storage.withUnsafeBufferPointer { pm in
                                (bias?.storage ?? []).withUnsafeBufferPointer { pb in
                                    var job = Job(
                                        batch: batch, numHeads: numHeads, dKV: dKV,
                                        queryLength: queryLength, keyLength: keyLength,
                                        queryLayout: queryLayout, keyLayout: keyLayout,
                                        valueLayout: valueLayout, dropout: dropout)
                                    job.queries = address(pq.baseAddress)
                                    job.keys = address(pk.baseAddress)
                                    job.values = address(pv.baseAddress)
                                    job.probabilities = address(pp.baseAddress)
                                    job.context = address(pc.baseAddress)
                                    job.mask = address(pm.baseAddress)
                                    job.maskBatchStride =
                                        mask.shape[0] == 1 ? 0 : mask.shape[2] * keyLength
                                    job.maskRowStride = mask.shape[2] == 1 ? 0 : keyLength
                                    job.bias = bias == nil ? 0 : address(pb.baseAddress)
                                    let ready = job
                                    ready.perform { ready.forward(worker: $0, workers: $1) }
                                }
                            }
                        }
                    }
                }
            }
        }
        let core = T5AttentionCore(
            queries: queries, queryLayout: queryLayout, keys: keys, keyLayout: keyLayout,
            values: values, valueLayout: valueLayout, probabilities: probabilities,
            dropout: dropout, numHeads: numHeads, dKV: dKV)
        return (core, context)
    }

    /// Writes the gradients of the queries, keys and values at the forward's layouts into the
    /// given buffers (every head element is overwritten; other columns are left alone) and,
    /// when `biasGradient` is given, adds the batch sum of the score gradient to it.
    ///
    /// - Parameters:
    ///   - dContext: `[batch, queryLength, numHeads·dKV]`.
    ///   - biasGradient: `[numHeads, queryLength, keyLength]` accumulator, or `nil`.
    func backward(
        _ dContext: Tensor, dQueries: UnsafeMutablePointer<Float>,
        dKeys: UnsafeMutablePointer<Float>, dValues: UnsafeMutablePointer<Float>,
        biasGradient: UnsafeMutablePointer<Float>?
    ) {
        precondition(
            dContext.shape == [batch, queryLength, numHeads * dKV],
            "context gradient \(dContext.shape) for \(probabilities.shape)")
        var job = Job(
            batch: batch, numHeads: numHeads, dKV: dKV, queryLength: queryLength,
            keyLength: keyLength, queryLayout: queryLayout, keyLayout: keyLayout,
            valueLayout: valueLayout, dropout: dropout)
        queries.storage.withUnsafeBufferPointer { pq in
            keys.storage.withUnsafeBufferPointer { pk in
                values.storage.withUnsafeBufferPointer { pv in
                    probabilities.storage.withUnsafeBufferPointer { pp in
                        dContext.storage.withUnsafeBufferPointer { pdc in
                            job.queries = address(pq.baseAddress)
                            job.keys = address(pk.baseAddress)
                            job.values = address(pv.baseAddress)
                            job.probabilities = address(pp.baseAddress)
                            job.context = address(pdc.baseAddress)
                            job.dQueries = Int(bitPattern: dQueries)
                            job.dKeys = Int(bitPattern: dKeys)
                            job.dValues = Int(bitPattern: dValues)
                            job.bias = biasGradient.map { Int(bitPattern: $0) } ?? 0
                            let ready = job
                            ready.perform { ready.backward(worker: $0, workers: $1) }
                        }
                    }
                }
            }
        }
    }
}

private func address(_ pointer: UnsafePointer<Float>?) -> Int { Int(bitPattern: pointer) }
private func address(_ pointer: UnsafeMutablePointer<Float>?) -> Int { Int(bitPattern: pointer) }

/// One attention call's buffers as addresses, so that workers on other threads can share it.
/// Worker `w` of `n` handles heads `w, w + n, …` for every batch entry; heads never share
/// output elements (nor bias-gradient rows), so the workers need no synchronisation.
private struct Job: Sendable {
    var batch, numHeads, dKV, queryLength, keyLength: Int
    var queryLayout, keyLayout, valueLayout: T5HeadLayout
    var dropout: DropoutMask
    var queries = 0, keys = 0, values = 0
    /// `[batch, numHeads, queryLength, keyLength]`.
    var probabilities = 0
    /// Forward: the context output; backward: its gradient (`[batch, queryLength, inner]`).
    var context = 0
    var mask = 0, maskBatchStride = 0, maskRowStride = 0
    /// Forward: the bias `[numHeads, q, k]`; backward: its gradient accumulator (0: none).
    var bias = 0
    var dQueries = 0, dKeys = 0, dValues = 0

    /// Mask values at or below this are `AttentionMask.blocked` (possibly plus a bias).
    static let blockedThreshold = AttentionMask.blocked / 2

    var inner: Int { numHeads * dKV }
    var scoreCount: Int { queryLength * keyLength }

    /// Runs `body(worker, workers)` on `min(BLAS.threads, numHeads)` workers with OpenBLAS
    /// single-threaded meanwhile (one worker when the call is small).
    func perform(_ body: @Sendable (Int, Int) -> Void) {
        let blasThreads = BLAS.threads
        let big = batch * numHeads * scoreCount >= 1 << 16
        let workers = big ? min(blasThreads, numHeads) : 1
        if workers > 1 {
            BLAS.withSingleThreadedGEMM {
                DispatchQueue.concurrentPerform(iterations: workers) { body($0, workers) }
            }
        } else {
            body(0, 1)
        }
    }

    func forward(worker: Int, workers: Int) {
        let q = UnsafePointer<Float>(bitPattern: queries)!
        let k = UnsafePointer<Float>(bitPattern: keys)!
        let v = UnsafePointer<Float>(bitPattern: values)!
        let probabilities = UnsafeMutablePointer<Float>(bitPattern: self.probabilities)!
        let output = UnsafeMutablePointer<Float>(bitPattern: context)!
        let maskBase = UnsafePointer<Float>(bitPattern: mask)!
        let biasBase = UnsafePointer<Float>(bitPattern: bias)
        let scratch =
            dropout.rate == 0 ? nil : UnsafeMutablePointer<Float>.allocate(capacity: scoreCount)
        defer { scratch?.deallocate() }
        for h in stride(from: worker, to: numHeads, by: workers) {
            for b in 0..<batch {
                let pair = (b * numHeads + h) * scoreCount
                let p = probabilities + pair
                BLAS.sgemm(
                    transposeA: false, transposeB: true, m: queryLength, n: keyLength, k: dKV,
                    a: q + queryLayout.start(batch: b, head: h, dKV: dKV),
                    lda: queryLayout.rowStride,
                    b: k + keyLayout.start(batch: b, head: h, dKV: dKV), ldb: keyLayout.rowStride,
                    c: p, ldc: keyLength)
                for i in 0..<queryLength {
                    let row = p + i * keyLength
                    let maskRow = maskBase + b * maskBatchStride + i * maskRowStride
                    // Blocked keys at the end of the row (padding, causality) get exactly 0,
                    // as `exp(finfo.min)` does, and are left out of the softmax (the vectorised
                    // `exp` clamps its input and would leave ~1e-39 there).
                    var visible = keyLength
                    while visible > 1 && maskRow[visible - 1] <= Self.blockedThreshold {
                        visible -= 1
                    }
                    if let biasBase {
                        let biasRow = biasBase + (h * queryLength + i) * keyLength
                        for j in 0..<visible { row[j] += biasRow[j] + maskRow[j] }
                    } else {
                        for j in 0..<visible { row[j] += maskRow[j] }
                    }
                    T5Softmax.normalize(row, count: visible)
                    if visible < keyLength {
                        (row + visible).update(repeating: 0, count: keyLength - visible)
                    }
                }
                var a = UnsafePointer(p)
                if let scratch {
                    dropout.apply(from: p, to: scratch, count: scoreCount, offset: pair)
                    a = UnsafePointer(scratch)
                }
                BLAS.sgemm(
                    transposeA: false, transposeB: false, m: queryLength, n: dKV, k: keyLength,
                    a: a, lda: keyLength, b: v + valueLayout.start(batch: b, head: h, dKV: dKV),
                    ldb: valueLayout.rowStride, c: output + b * queryLength * inner + h * dKV,
                    ldc: inner)
            }
        }
    }

    func backward(worker: Int, workers: Int) {
        let q = UnsafePointer<Float>(bitPattern: queries)!
        let k = UnsafePointer<Float>(bitPattern: keys)!
        let v = UnsafePointer<Float>(bitPattern: values)!
        let probabilities = UnsafePointer<Float>(bitPattern: self.probabilities)!
        let dContext = UnsafePointer<Float>(bitPattern: context)!
        let dQ = UnsafeMutablePointer<Float>(bitPattern: dQueries)!
        let dK = UnsafeMutablePointer<Float>(bitPattern: dKeys)!
        let dV = UnsafeMutablePointer<Float>(bitPattern: dValues)!
        let biasGradient = UnsafeMutablePointer<Float>(bitPattern: bias)
        let dScores = UnsafeMutablePointer<Float>.allocate(capacity: scoreCount)
        defer { dScores.deallocate() }
        let dropped =
            dropout.rate == 0 ? nil : UnsafeMutablePointer<Float>.allocate(capacity: scoreCount)
        defer { dropped?.deallocate() }
        for h in stride(from: worker, to: numHeads, by: workers) {
            for b in 0..<batch {
                let pair = (b * numHeads + h) * scoreCount
                let p = probabilities + pair
                let dC = dContext + b * queryLength * inner + h * dKV
                // dP̃ = dC · Vᵀ
                BLAS.sgemm(
                    transposeA: false, transposeB: true, m: queryLength, n: keyLength, k: dKV,
                    a: dC, lda: inner, b: v + valueLayout.start(batch: b, head: h, dKV: dKV),
                    ldb: valueLayout.rowStride, c: dScores, ldc: keyLength)
                // dV = P̃ᵀ · dC
                var pd = p
                if let dropped {
                    dropout.apply(from: p, to: dropped, count: scoreCount, offset: pair)
                    pd = UnsafePointer(dropped)
                }
                BLAS.sgemm(
                    transposeA: true, transposeB: false, m: keyLength, n: dKV, k: queryLength,
                    a: pd, lda: keyLength, b: dC, ldb: inner,
                    c: dV + valueLayout.start(batch: b, head: h, dKV: dKV),
                    ldc: valueLayout.rowStride)
                if dropout.rate > 0 {
                    dropout.apply(from: dScores, to: dScores, count: scoreCount, offset: pair)
                }
                for i in 0..<queryLength {
                    Self.softmaxBackwardRow(
                        output: p + i * keyLength, gradient: dScores + i * keyLength,
                        count: keyLength)
                }
                if let biasGradient {
                    Self.add(dScores, into: biasGradient + h * scoreCount, count: scoreCount)
                }
                // dQ = dS · K, dK = dSᵀ · Q
                BLAS.sgemm(
                    transposeA: false, transposeB: false, m: queryLength, n: dKV, k: keyLength,
                    a: dScores, lda: keyLength,
                    b: k + keyLayout.start(batch: b, head: h, dKV: dKV), ldb: keyLayout.rowStride,
                    c: dQ + queryLayout.start(batch: b, head: h, dKV: dKV),
                    ldc: queryLayout.rowStride)
                BLAS.sgemm(
                    transposeA: true, transposeB: false, m: keyLength, n: dKV, k: queryLength,
                    a: dScores, lda: keyLength,
                    b: q + queryLayout.start(batch: b, head: h, dKV: dKV),
                    ldb: queryLayout.rowStride,
                    c: dK + keyLayout.start(batch: b, head: h, dKV: dKV), ldc: keyLayout.rowStride)
            }
        }
    }

    /// In place: `dy[j] = y[j] · (dy[j] − Σ_l y[l]·dy[l])` (softmax backward of one row).
    static func softmaxBackwardRow(
        output y: UnsafePointer<Float>, gradient dy: UnsafeMutablePointer<Float>, count: Int
    ) {
        let py = UnsafeRawPointer(y)
        let pd = UnsafeMutableRawPointer(dy)
        var sums = SIMD8<Float>()
        var j = 0
        while j + 8 <= count {
            sums +=
                py.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                * pd.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            j += 8
        }
        var dot = sums.sum()
        while j < count {
            dot += y[j] * dy[j]
            j += 1
        }
        let shift = SIMD8<Float>(repeating: dot)
        j = 0
        while j + 8 <= count {
            let value =
                py.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                * (pd.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - shift)
            pd.storeBytes(of: value, toByteOffset: j * 4, as: SIMD8<Float>.self)
            j += 8
        }
        while j < count {
            dy[j] = y[j] * (dy[j] - dot)
            j += 1
        }
    }

    /// `target[j] += source[j]` for `j < count`.
    static func add(
        _ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int
    ) {
        let ps = UnsafeRawPointer(source)
        let pt = UnsafeMutableRawPointer(target)
        var j = 0
        while j + 8 <= count {
            let sum =
                pt.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                + ps.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            pt.storeBytes(of: sum, toByteOffset: j * 4, as: SIMD8<Float>.self)
            j += 8
        }
        while j < count {
            target[j] += source[j]
            j += 1
        }
    }
}
