internal import CKernels
import Foundation
import InparsTensor

/// Where one operand of multi-head attention lives inside a wider buffer.
///
/// Heads are read and written in place (fused q/k/v projections, caches): head `h` of batch
/// entry `b` starts at ``start(batch:head:headDimension:)`` and its rows are `rowStride` apart.
struct HeadLayout: Sendable, Equatable {
    /// Elements between consecutive positions (rows) of one batch entry.
    var rowStride: Int
    /// Elements between consecutive batch entries.
    var batchStride: Int
    /// Extra element offset of head 0 inside a row (e.g. `inner` for keys inside a fused QKV row).
    var offset: Int = 0

    /// Element offset of head `head`'s row 0 in batch entry `batch` (heads of `headDimension`
    /// columns side by side).
    @inline(__always)
    func start(batch: Int, head: Int, headDimension: Int) -> Int {
        batch * batchStride + offset + head * headDimension
    }
}

/// Leading keys every batch entry of an attention call reads from one buffer pair (a forked
/// prompt prefix stored once): entry `b`'s keys `0..<lengths[b]` are rows of the shared keys
/// and values (`layout`, batch stride unused), its keys from `lengths[b]` on are rows `0...`
/// of its own (``AttentionProblem/keys``, ``AttentionProblem/values``).
struct SharedKeys: Sendable, Equatable {
    var layout: HeadLayout
    var lengths: [Int]
}

/// What an inference call reads from a cache besides its own keys and values: the shared
/// rows ``AttentionProblem/shared`` indexes, and the keys again in the fused kernel's blocks
/// (``KeyValueCache``'s packed keys), so a decoder step does not re-pack them.
struct CacheBuffers {
    var sharedKeys: UnsafePointer<Float>? = nil
    var sharedValues: UnsafePointer<Float>? = nil
    /// Own keys packed, unit (b, kv) at `(b·numKVHeads + kv)·packedUnitStride`.
    var packedKeys: UnsafePointer<Float>? = nil
    var packedUnitStride = 0
    /// Shared keys packed, key/value head `kv` at `kv·sharedPackedUnitStride`.
    var sharedPackedKeys: UnsafePointer<Float>? = nil
    var sharedPackedUnitStride = 0
}

/// One multi-head attention call: its extents, where its operands live and what each query
/// row may see. The same value describes the forward and the backward of a call.
struct AttentionProblem: Sendable {
    var batch: Int
    /// Query heads.
    var numHeads: Int
    /// Key/value heads: query head `h` reads key/value head `h / (numHeads / numKVHeads)`
    /// (grouped-query attention, as Llama 2/3 70B); `numHeads` for ordinary multi-head attention.
    var numKVHeads: Int
    var headDimension: Int
    var queryLength: Int
    var keyLength: Int
    var queries: HeadLayout
    var keys: HeadLayout
    var values: HeadLayout
    /// Also the layout of the context gradient in the backward pass.
    var output: HeadLayout
    /// Per batch entry, keys `0..<visibleKeys[b]` are real; the rest is padding.
    var visibleKeys: [Int]
    /// Causal masking: query row `i` sees keys `0 ... causalOffset + i`; `nil` for none.
    var causalOffset: Int?
    /// The factor on `q·k` before the bias and softmax: 1 for T5 (folded into its
    /// initialisation), `1/√headDimension` for BERT and Llama.
    var scale: Float = 1
    /// Leading keys read from buffers every entry shares; `nil` for none (inference only).
    var shared: SharedKeys? = nil

    /// Query heads per key/value head.
    var groupSize: Int { numHeads / numKVHeads }
    var pairs: Int { batch * numHeads }
    var scoreCount: Int { queryLength * keyLength }

    /// Floating-point operations of the two products over the visible keys: `4·d` per
    /// (query row, query head, visible key).
    var flops: Int {
        var keys = 0
        for b in 0..<batch {
            let c = columns(b)
            for i in 0..<queryLength { keys += visible(row: i, columns: c) }
        }
        return 4 * keys * numHeads * headDimension
    }

    /// Keys that take part for batch entry `b` (padding excluded).
    @inline(__always)
    func columns(_ b: Int) -> Int { min(visibleKeys[b], keyLength) }

    /// Keys that row `i` of a batch entry with `columns` real keys attends to.
    @inline(__always)
    func visible(row i: Int, columns: Int) -> Int {
        causalOffset.map { min(columns, $0 + i + 1) } ?? columns
    }

    func validate(bias: RelativeOffsetBias?) {
        precondition(
            numKVHeads > 0 && numHeads % numKVHeads == 0,
            "\(numHeads) query heads cannot share \(numKVHeads) key/value heads")
        precondition(
            visibleKeys.count == batch, "visibleKeys for \(visibleKeys.count) of \(batch) entries")
        precondition(
            shared.map { $0.lengths.count == batch } ?? true, "shared lengths for another batch")
        if let bias {
            precondition(
                bias.numHeads == numHeads && bias.queryLength == queryLength
                    && bias.width >= keyLength + queryLength - 1,
                "position bias for \(bias.queryLength) queries, attention has \(queryLength)")
        }
    }
}

/// The attention arithmetic of every model family, for inference and training:
/// `context = dropout(softmax(scale · Q·Kᵀ + bias)) · V` per (batch entry, head), with padding
/// and causality as per-row key limits, and the backward pass.
///
/// Masks are not tensors: each query row attends to its visible keys only (the entry's real
/// length; with causality, keys up to its position), which equals adding `finfo.min` to the
/// masked scores as transformers does, and skips the padded columns' work. Queries, keys,
/// values and the output are addressed in place inside wider buffers (``HeadLayout``), so no
/// key or value head is copied out and the context comes out merged, `[batch, queryLength,
/// numHeads·d]`.
///
/// Two forwards behind the one entry point ``forward(_:queries:keys:values:output:bias:probabilities:dropout:)``:
/// - **Inference** (nothing recorded, no dropout): the fused C kernel
///   (``forwardFused(_:queries:keys:values:output:bias:biasWidth:generic:)``, flash-attention
///   style): per (batch entry, key/value head) the group's query heads are stacked and taken
///   against blocks of 64 keys with an online softmax, so no score matrix is written.
/// - **Training** (recording the probabilities for the backward): OpenBLAS sgemm per (batch,
///   head) pair, softmax rows in between, the probabilities kept.
///
/// Threads: with `BLAS.threads > 1` and enough work, the forward splits the (batch, head) pairs
/// (fused: the (batch, key/value head) units) and the backward the key/value heads over
/// that many workers, each running single-threaded
/// GEMMs (the 512×512×64 products of attention scale better this way than inside OpenBLAS, and
/// the softmax runs in parallel too). Every output element is computed by one worker in a
/// fixed order, so results do not depend on the thread count.
///
/// Backward per (batch, head), with `P` the recorded probabilities and `P̃ = dropout(P)`:
/// `dP̃ = dC·Vᵀ`, `dV = P̃ᵀ·dC`, `dP = dropout(dP̃)`, `dS = P ⊙ (dP − rowsum(P ⊙ dP))`,
/// `dQ = scale·dS·K`, `dK = scale·dSᵀ·Q`; the bias gradient is `dS` summed over the batch along
/// each diagonal. Query heads sharing a key/value head add their `dK`, `dV` together.
enum AttentionKernel {
    /// Runs the forward pass of every (batch, head) pair.
    ///
    /// - Parameters:
    ///   - queries, keys, values, output: base addresses of the buffers the layouts index.
    ///   - bias: added to the scores after scaling; `nil` for none (cross-attention, Llama).
    ///   - probabilities: when recording for the backward pass, `[batch, numHeads, queryLength,
    ///     keyLength]`, overwritten with the softmax output (zeros at masked keys); `nil` at
    ///     inference.
    ///   - dropout: applied to the probabilities before `P·V` (training); rate 0 for none.
    ///   - cached: a cache's shared rows (those `problem.shared` indexes) and packed keys
    ///     (inference only).
    static func forward(
        _ problem: AttentionProblem, queries: UnsafePointer<Float>, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        bias: RelativeOffsetBias?, probabilities: UnsafeMutablePointer<Float>? = nil,
        dropout: DropoutMask = DropoutMask(rate: 0, seed: 0), cached: CacheBuffers = CacheBuffers()
    ) {
        problem.validate(bias: bias)
        precondition(
            dropout.rate == 0 || probabilities != nil, "attention dropout needs recording")
        precondition(
            (problem.shared == nil) == (cached.sharedKeys == nil)
                && (cached.sharedKeys == nil) == (cached.sharedValues == nil),
            "shared keys without their layout, or the reverse")
        precondition(
            problem.shared == nil || probabilities == nil, "recording attention over shared keys")
        StepProfile.measure(StepProfile.Name.attention, operations: Double(problem.flops)) {
            withBias(bias) { biasAddress in
                if probabilities == nil {
                    forwardFused(
                        problem, queries: queries, keys: keys, values: values, output: output,
                        bias: UnsafePointer(bitPattern: biasAddress), biasWidth: bias?.width ?? 0,
                        cached: cached)
                    return
                }
                let job = AttentionJob(
                    problem: problem, queries: address(queries), keys: address(keys),
                    values: address(values), output: address(output), bias: biasAddress,
                    biasWidth: bias?.width ?? 0, probabilities: address(probabilities),
                    dropout: dropout)
                perform(units: problem.pairs, problem: problem) {
                    job.forward(worker: $0, workers: $1)
                }
            }
        }
    }

    /// Inference (nothing recorded, no dropout): the fused C kernel (`inpars_attention_forward`,
    /// flash-attention style; AVX-512 where the CPU has it), over the (batch entry, key/value
    /// head) units split among the workers. No score matrix is written.
    ///
    /// - Parameters:
    ///   - bias: `[numHeads, biasWidth]` in ``RelativeOffsetBias``'s layout, or `nil`.
    ///   - generic: run the plain C path even on an AVX-512 CPU (tests compare the two).
    ///   - cached: a cache's shared rows (those `problem.shared` indexes) and packed keys.
    static func forwardFused(
        _ problem: AttentionProblem, queries: UnsafePointer<Float>, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        bias: UnsafePointer<Float>?, biasWidth: Int, generic: Bool = false,
        cached: CacheBuffers = CacheBuffers()
    ) {
        let p = problem
        for b in 0..<p.batch { precondition(p.columns(b) > 0, "attention over zero keys") }
        let visible = p.visibleKeys.map { Int64($0) }
        let sharedLengths = (p.shared?.lengths ?? []).map { Int64($0) }
        visible.withUnsafeBufferPointer { pv in
          sharedLengths.withUnsafeBufferPointer { ps in
            func layout(_ l: HeadLayout) -> inpars_head_layout {
                inpars_head_layout(row_stride: l.rowStride, batch_stride: l.batchStride, offset: l.offset)
            }
            nonisolated(unsafe) var call = inpars_attention(
                batch: p.batch, num_heads: p.numHeads, num_kv_heads: p.numKVHeads,
                head_dim: p.headDimension, query_length: p.queryLength, key_length: p.keyLength,
                queries: layout(p.queries), keys: layout(p.keys), values: layout(p.values),
                output: layout(p.output), visible_keys: pv.baseAddress!,
                causal: p.causalOffset == nil ? 0 : 1, causal_offset: Int64(p.causalOffset ?? 0),
                scale: p.scale, bias: bias, bias_width: biasWidth,
                shared_keys: p.shared == nil ? nil : cached.sharedKeys,
                shared_values: p.shared == nil ? nil : cached.sharedValues,
                shared: layout(p.shared?.layout ?? HeadLayout(rowStride: 0, batchStride: 0)),
                shared_lengths: p.shared == nil ? nil : ps.baseAddress,
                packed_keys: cached.packedKeys, packed_unit_stride: cached.packedUnitStride,
                shared_packed_keys: p.shared == nil ? nil : cached.sharedPackedKeys,
                shared_packed_unit_stride: cached.sharedPackedUnitStride)
            nonisolated(unsafe) let operands = (queries, keys, values, output)
            let chosen = generic ? INPARS_ISA_GENERIC : inpars_kernels_isa()
            perform(units: p.batch * p.numKVHeads, problem: p) { worker, workers in
                inpars_attention_forward_isa(
                    &call, operands.0, operands.1, operands.2, operands.3, worker, workers, chosen)
            }
          }
        }
    }

    /// Runs the backward pass of a recorded forward.
    ///
    /// - Parameters:
    ///   - queries, keys, values: the forward's buffers (same layouts).
    ///   - probabilities: what the forward recorded.
    ///   - outputGradient: the context gradient at the forward's `output` layout.
    ///   - dQueries, dKeys, dValues: written at the `queries`, `keys`, `values` layouts (they
    ///     may be one fused buffer); every element of the heads' columns is overwritten,
    ///     padded key rows with zeros, other columns are left alone.
    ///   - biasGradient: `[numHeads, bias.width]` accumulator for the bias gradient, or `nil`.
    static func backward(
        _ problem: AttentionProblem, queries: UnsafePointer<Float>, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, probabilities: UnsafePointer<Float>,
        dropout: DropoutMask, outputGradient: UnsafePointer<Float>,
        dQueries: UnsafeMutablePointer<Float>, dKeys: UnsafeMutablePointer<Float>,
        dValues: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>?,
        biasWidth: Int = 0
    ) {
        problem.validate(bias: nil)
        var job = AttentionJob(
            problem: problem, queries: address(queries), keys: address(keys),
            values: address(values), output: 0, bias: address(biasGradient),
            biasWidth: biasWidth, probabilities: address(probabilities), dropout: dropout)
        job.outputGradient = address(outputGradient)
        job.dQueries = address(dQueries)
        job.dKeys = address(dKeys)
        job.dValues = address(dValues)
        let ready = job
        perform(units: problem.numKVHeads, problem: problem) {
            ready.backward(worker: $0, workers: $1)
        }
    }

    /// Runs `body(worker, workers)` over `min(BLAS.threads, units)` workers with OpenBLAS
    /// single-threaded meanwhile; one worker when the call is small (a decoder step).
    private static func perform(
        units: Int, problem: AttentionProblem, _ body: @Sendable (Int, Int) -> Void
    ) {
        let big = problem.pairs * problem.scoreCount >= 1 << 16
        let workers = big ? min(BLAS.threads, units) : 1
        if workers > 1 {
            BLAS.withSingleThreadedGEMM {
                DispatchQueue.concurrentPerform(iterations: workers) { body($0, workers) }
            }
        } else {
            body(0, 1)
        }
    }

    private static func withBias(_ bias: RelativeOffsetBias?, _ body: (Int) -> Void) {
        guard let bias else { return body(0) }
        bias.values.withUnsafeBufferPointer { body(Int(bitPattern: $0.baseAddress)) }
    }
}

private func address(_ pointer: UnsafePointer<Float>?) -> Int { Int(bitPattern: pointer) }
private func address(_ pointer: UnsafeMutablePointer<Float>?) -> Int { Int(bitPattern: pointer) }

/// One attention call's buffers as addresses, so that workers on other threads can share it
/// (`Sendable`); workers write disjoint output columns (forward) or disjoint key/value heads
/// and bias rows (backward).
private struct AttentionJob: Sendable {
    var problem: AttentionProblem
    var queries, keys, values, output: Int
    /// Forward: the `[numHeads, biasWidth]` bias; backward: its gradient (0: none).
    var bias: Int
    var biasWidth: Int
    /// `[batch, numHeads, queryLength, keyLength]`, or 0 when not recording.
    var probabilities: Int
    var dropout: DropoutMask
    var outputGradient = 0, dQueries = 0, dKeys = 0, dValues = 0

    /// Attends the (batch, head) pairs `worker, worker + workers, …`.
    func forward(worker: Int, workers: Int) {
        let p = problem
        let recording = probabilities != 0
        let scratchCount = max(recording ? (dropout.rate > 0 ? p.scoreCount : 0) : p.scoreCount, 1)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
        defer { scratch.deallocate() }
        for index in stride(from: worker, to: p.pairs, by: workers) {
            let (b, h) = index.quotientAndRemainder(dividingBy: p.numHeads)
            let scores =
                recording
                ? UnsafeMutablePointer<Float>(bitPattern: probabilities)! + index * p.scoreCount
                : scratch
            forwardPair(
                b: b, h: h, scores: scores, leading: recording ? p.keyLength : p.columns(b),
                dropped: recording && dropout.rate > 0 ? scratch : nil, pairIndex: index)
        }
    }

    /// One pair: scores (over the visible keys), bias, softmax, (dropout), `P·V`.
    ///
    /// - Parameters:
    ///   - scores: `[queryLength, leading]`; `leading` is `keyLength` when recording.
    ///   - dropped: scratch for `dropout(P)`, `[queryLength, keyLength]`, or `nil`.
    private func forwardPair(
        b: Int, h: Int, scores: UnsafeMutablePointer<Float>, leading: Int,
        dropped: UnsafeMutablePointer<Float>?, pairIndex: Int
    ) {
        let p = problem
        let d = p.headDimension
        let kv = h / p.groupSize
        let q = UnsafePointer<Float>(bitPattern: queries)! + p.queries.start(batch: b, head: h, headDimension: d)
        let k = UnsafePointer<Float>(bitPattern: keys)! + p.keys.start(batch: b, head: kv, headDimension: d)
        let v = UnsafePointer<Float>(bitPattern: values)! + p.values.start(batch: b, head: kv, headDimension: d)
        let out = UnsafeMutablePointer<Float>(bitPattern: output)! + p.output.start(batch: b, head: h, headDimension: d)
        let columns = p.columns(b)
        precondition(columns > 0, "attention over zero keys")
        // scores[i, j] = scale · q_i · k_j for the visible keys only. One query (a decoder step
        // over its cache) is a matrix-vector product: GEMV skips GEMM's packing of the keys.
        StepProfile.measure(StepProfile.Name.attentionGEMM) {
            if p.queryLength == 1 {
                BLAS.sgemv(
                    transposeA: false, rows: columns, columns: d, alpha: p.scale, a: k,
                    lda: p.keys.rowStride, x: q, y: scores)
            } else {
                BLAS.sgemm(
                    transposeA: false, transposeB: true, m: p.queryLength, n: columns, k: d,
                    alpha: p.scale, a: q, lda: p.queries.rowStride, b: k, ldb: p.keys.rowStride,
                    c: scores, ldc: leading)
            }
        }
        let biasBase = UnsafePointer<Float>(bitPattern: bias)
        for i in 0..<p.queryLength {
            let row = scores + i * leading
            let visible = p.visible(row: i, columns: columns)
            if let biasBase {
                let biasRow = biasBase + h * biasWidth + (p.queryLength - 1 - i)
                for j in 0..<visible { row[j] += biasRow[j] }
            }
            Softmax.normalize(row, count: visible)
            if visible < leading { (row + visible).update(repeating: 0, count: leading - visible) }
        }
        var weights = UnsafePointer(scores)
        if let dropped {
            dropout.apply(
                from: scores, to: dropped, count: p.scoreCount, offset: pairIndex * p.scoreCount)
            weights = UnsafePointer(dropped)
        }
        // output = P · V (for one query: Vᵀ · p, a GEMV)
        StepProfile.measure(StepProfile.Name.attentionGEMM) {
            if p.queryLength == 1 {
                BLAS.sgemv(
                    transposeA: true, rows: columns, columns: d, a: v, lda: p.values.rowStride,
                    x: weights, y: out)
            } else {
                BLAS.sgemm(
                    transposeA: false, transposeB: false, m: p.queryLength, n: d, k: columns,
                    a: weights, lda: leading, b: v, ldb: p.values.rowStride, c: out,
                    ldc: p.output.rowStride)
            }
        }
    }

    /// Back-propagates the key/value heads `worker, worker + workers, …`: for each, every
    /// batch entry, and in it every query head of the group (so the batch sum of each head's
    /// bias gradient is taken in a fixed order).
    func backward(worker: Int, workers: Int) {
        let p = problem
        let dScores = UnsafeMutablePointer<Float>.allocate(capacity: max(p.scoreCount, 1))
        defer { dScores.deallocate() }
        let dropped =
            dropout.rate == 0 ? nil : UnsafeMutablePointer<Float>.allocate(capacity: p.scoreCount)
        defer { dropped?.deallocate() }
        for kv in stride(from: worker, to: p.numKVHeads, by: workers) {
            for b in 0..<p.batch {
                for member in 0..<p.groupSize {
                    backwardPair(
                        b: b, h: kv * p.groupSize + member, first: member == 0,
                        dScores: dScores, dropped: dropped)
                }
            }
        }
    }

    /// One pair's backward; `first` marks the first query head of its key/value head, which
    /// overwrites `dK`, `dV` (and zeroes the padded key rows) where the others add.
    private func backwardPair(
        b: Int, h: Int, first: Bool, dScores: UnsafeMutablePointer<Float>,
        dropped: UnsafeMutablePointer<Float>?
    ) {
        let p = problem
        let (d, K) = (p.headDimension, p.keyLength)
        let kv = h / p.groupSize
        let pair = b * p.numHeads + h
        let q = UnsafePointer<Float>(bitPattern: queries)! + p.queries.start(batch: b, head: h, headDimension: d)
        let k = UnsafePointer<Float>(bitPattern: keys)! + p.keys.start(batch: b, head: kv, headDimension: d)
        let v = UnsafePointer<Float>(bitPattern: values)! + p.values.start(batch: b, head: kv, headDimension: d)
        let probs = UnsafePointer<Float>(bitPattern: probabilities)! + pair * p.scoreCount
        let dC = UnsafePointer<Float>(bitPattern: outputGradient)! + p.output.start(batch: b, head: h, headDimension: d)
        let dQ = UnsafeMutablePointer<Float>(bitPattern: dQueries)! + p.queries.start(batch: b, head: h, headDimension: d)
        let dK = UnsafeMutablePointer<Float>(bitPattern: dKeys)! + p.keys.start(batch: b, head: kv, headDimension: d)
        let dV = UnsafeMutablePointer<Float>(bitPattern: dValues)! + p.values.start(batch: b, head: kv, headDimension: d)
        let columns = p.columns(b)
        let beta: Float = first ? 0 : 1
        // dP̃ = dC · Vᵀ
        BLAS.sgemm(
            transposeA: false, transposeB: true, m: p.queryLength, n: columns, k: d, a: dC,
            lda: p.output.rowStride, b: v, ldb: p.values.rowStride, c: dScores, ldc: K)
        // dV = P̃ᵀ · dC
        var weights = probs
        if let dropped {
            dropout.apply(from: probs, to: dropped, count: p.scoreCount, offset: pair * p.scoreCount)
            weights = UnsafePointer(dropped)
        }
        BLAS.sgemm(
            transposeA: true, transposeB: false, m: columns, n: d, k: p.queryLength, a: weights,
            lda: K, b: dC, ldb: p.output.rowStride, beta: beta, c: dV, ldc: p.values.rowStride)
        let biasGradient = UnsafeMutablePointer<Float>(bitPattern: bias)
        for i in 0..<p.queryLength {
            let row = dScores + i * K
            if dropout.rate > 0 {
                dropout.apply(
                    from: row, to: row, count: columns, offset: pair * p.scoreCount + i * K)
            }
            Softmax.backward(output: probs + i * K, gradient: row, count: columns)
            if let biasGradient {
                add(row, into: biasGradient + h * biasWidth + (p.queryLength - 1 - i), count: columns)
            }
        }
        // dQ = scale · dS · K, dK = scale · dSᵀ · Q
        BLAS.sgemm(
            transposeA: false, transposeB: false, m: p.queryLength, n: d, k: columns,
            alpha: p.scale, a: dScores, lda: K, b: k, ldb: p.keys.rowStride, c: dQ,
            ldc: p.queries.rowStride)
        BLAS.sgemm(
            transposeA: true, transposeB: false, m: columns, n: d, k: p.queryLength,
            alpha: p.scale, a: dScores, lda: K, b: q, ldb: p.queries.rowStride, beta: beta,
            c: dK, ldc: p.keys.rowStride)
        if first && columns < K {
            for row in columns..<K {
                (dK + row * p.keys.rowStride).update(repeating: 0, count: d)
                (dV + row * p.values.rowStride).update(repeating: 0, count: d)
            }
        }
    }

    /// `target[j] += source[j]` for `j < count`.
    private func add(
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

extension AttentionKernel {
    /// ``forward(_:queries:keys:values:output:bias:probabilities:dropout:)`` over arrays (the
    /// same array may be passed for several operands: a fused projection).
    ///
    /// - Parameters:
    ///   - output: the context, `[batch, queryLength, …]` at `problem.output`; written.
    ///   - recording: keep the probabilities for the backward pass.
    ///   - dropout: on the probabilities (training); `nil` or rate 0 for none.
    ///   - cache: the cache `keys` and `values` belong to, whose shared rows (those
    ///     `problem.shared` indexes) and packed keys the call reads too; `nil` for none.
    /// - Returns: the probabilities `[batch, numHeads, queryLength, keyLength]` when recording.
    static func run(
        _ problem: AttentionProblem, queries: [Float], keys: [Float], values: [Float],
        bias: RelativeOffsetBias?, into output: inout Tensor, recording: Bool,
        dropout: DropoutMask?, cache: KeyValueCache? = nil
    ) -> Tensor? {
        let shape = [problem.batch, problem.numHeads, problem.queryLength, problem.keyLength]
        func call(_ probabilities: UnsafeMutablePointer<Float>?) {
            queries.withUnsafeBufferPointer { pq in
                keys.withUnsafeBufferPointer { pk in
                    values.withUnsafeBufferPointer { pv in
                        output.storage.withUnsafeMutableBufferPointer { po in
                            func attend(_ cached: CacheBuffers) {
                                forward(
                                    problem, queries: pq.baseAddress!, keys: pk.baseAddress!,
                                    values: pv.baseAddress!, output: po.baseAddress!,
                                    bias: bias, probabilities: probabilities,
                                    dropout: dropout ?? DropoutMask(rate: 0, seed: 0),
                                    cached: cached)
                            }
                            if let cache {
                                cache.withBuffers(shared: problem.shared != nil, attend)
                            } else {
                                attend(CacheBuffers())
                            }
                        }
                    }
                }
            }
        }
        guard recording else {
            call(nil)
            return nil
        }
        return Tensor(shape: shape) { call($0.baseAddress!) }
    }

    /// ``backward(_:queries:keys:values:probabilities:dropout:outputGradient:dQueries:dKeys:dValues:biasGradient:biasWidth:)``
    /// for the two ways layers hold their operands: q, k and v in one fused projection
    /// (`memory` `nil`), or queries alone and keys and values side by side in `memory`
    /// (cross-attention over a projected encoder output).
    ///
    /// - Parameters:
    ///   - biasGradient: `[numHeads, width]` accumulator of the relative bias gradient, or
    ///     empty for none.
    /// - Returns: the gradients, shaped like `queries` and `memory`.
    static func runBackward(
        _ problem: AttentionProblem, queries: Tensor, memory: Tensor?, probabilities: Tensor,
        dropout: DropoutMask, outputGradient: Tensor, biasGradient: inout [Float]
    ) -> (queries: Tensor, memory: Tensor?) {
        let keyValues = memory ?? queries
        var dMemory = memory.map { Tensor(shape: $0.shape) { _ in } }
        let biasWidth = biasGradient.isEmpty ? 0 : biasGradient.count / problem.numHeads
        let dQueries = Tensor(shape: queries.shape) { pdq in
            queries.storage.withUnsafeBufferPointer { pq in
                keyValues.storage.withUnsafeBufferPointer { pkv in
                    probabilities.storage.withUnsafeBufferPointer { pp in
                        outputGradient.storage.withUnsafeBufferPointer { pdc in
                            biasGradient.withUnsafeMutableBufferPointer { pb in
                                func call(_ dkv: UnsafeMutablePointer<Float>) {
                                    backward(
                                        problem, queries: pq.baseAddress!, keys: pkv.baseAddress!,
                                        values: pkv.baseAddress!, probabilities: pp.baseAddress!,
                                        dropout: dropout, outputGradient: pdc.baseAddress!,
                                        dQueries: pdq.baseAddress!, dKeys: dkv, dValues: dkv,
                                        biasGradient: biasWidth == 0 ? nil : pb.baseAddress,
                                        biasWidth: biasWidth)
                                }
                                if dMemory == nil {
                                    call(pdq.baseAddress!)
                                } else {
                                    dMemory!.storage.withUnsafeMutableBufferPointer {
                                        call($0.baseAddress!)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dQueries, dMemory)
    }
}
