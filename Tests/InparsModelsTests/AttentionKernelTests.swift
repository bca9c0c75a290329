internal import CKernels
import Foundation
import InparsTensor
import InparsTestSupport
import Testing

@testable import InparsModels

/// The strided, multi-worker attention kernel (forward and backward) against the same function
/// composed from plain tensor ops (split heads, batched GEMMs, broadcast adds, softmax and
/// their backwards), with sizes large enough that the kernel fans out over two workers.
@Suite(.serialized) struct AttentionKernelTests {
    /// One call's shapes: fused `[batch, length, (heads + 2·kvHeads)·d]` q/k/v.
    struct Shape {
        var batch = 2, heads = 2, kvHeads = 2, length = 128, d = 4
        var lengths = [128, 100]
        var causal = false
        var scale: Float = 1
        var hasBias = true

        var queryWidth: Int { heads * d }
        var kvWidth: Int { kvHeads * d }
        var width: Int { queryWidth + 2 * kvWidth }
        var biasWidth: Int { 2 * length - 1 }

        var problem: AttentionProblem {
            func layout(_ offset: Int) -> HeadLayout {
                HeadLayout(rowStride: width, batchStride: length * width, offset: offset)
            }
            return AttentionProblem(
                batch: batch, numHeads: heads, numKVHeads: kvHeads, headDimension: d,
                queryLength: length, keyLength: length, queries: layout(0),
                keys: layout(queryWidth), values: layout(queryWidth + kvWidth),
                output: HeadLayout(rowStride: queryWidth, batchStride: length * queryWidth),
                visibleKeys: lengths, causalOffset: causal ? 0 : nil, scale: scale)
        }
    }

    struct Outputs {
        var context, probabilities, dqkv, dBias: [Float]
    }

    /// The kernel on a fused buffer; the bias gradient in its offset layout `[heads, width]`.
    static func kernel(
        _ shape: Shape, qkv: Tensor, bias: RelativeOffsetBias?, dropout: DropoutMask,
        dContext: Tensor
    ) -> Outputs {
        let problem = shape.problem
        var context = Tensor(zeros: [shape.batch, shape.length, shape.queryWidth])
        let probabilities = AttentionKernel.run(
            problem, queries: qkv.storage, keys: qkv.storage, values: qkv.storage, bias: bias,
            into: &context, recording: true, dropout: dropout)!
        var dBias = [Float](repeating: 0, count: bias == nil ? 0 : shape.heads * shape.biasWidth)
        let d = AttentionKernel.runBackward(
            problem, queries: qkv, memory: nil, probabilities: probabilities, dropout: dropout,
            outputGradient: dContext, biasGradient: &dBias)
        return Outputs(
            context: context.storage, probabilities: probabilities.storage,
            dqkv: d.queries.storage, dBias: dBias)
    }

    /// The same with contiguous heads and the generic ops: key/value heads repeated for their
    /// query heads, the bias and the mask as dense tensors.
    static func reference(
        _ shape: Shape, qkv: Tensor, bias: RelativeOffsetBias?, dropout: DropoutMask,
        dContext: Tensor
    ) -> Outputs {
        let (q0, kv0) = (shape.queryWidth, shape.kvWidth)
        let group = shape.heads / shape.kvHeads
        func repeated(_ x: Tensor) -> Tensor {  // [B, kvHeads, L, d] → [B, heads, L, d]
            Tensor.concatenate(
                (0..<shape.heads).map { x.slice(axis: 1, ($0 / group)..<($0 / group + 1)) },
                axis: 1)
        }
        func grouped(_ x: Tensor) -> Tensor {  // the sum over each group's query heads
            Tensor.concatenate(
                (0..<shape.kvHeads).map { g in
                    (1..<group).reduce(x.slice(axis: 1, (g * group)..<(g * group + 1))) {
                        $0 + x.slice(axis: 1, (g * group + $1)..<(g * group + $1 + 1))
                    }
                }, axis: 1)
        }
        let q = qkv.slice(axis: 2, 0..<q0).splitHeads(shape.heads)
        let k = qkv.slice(axis: 2, q0..<(q0 + kv0)).splitHeads(shape.kvHeads)
        let v = qkv.slice(axis: 2, (q0 + kv0)..<(q0 + 2 * kv0)).splitHeads(shape.kvHeads)
        let denseBias = Self.dense(bias, shape)
        let scores = Tensor.batchedMatmul(q, repeated(k), transposeB: true, alpha: shape.scale)
        let probabilities = (scores + denseBias + Self.mask(shape)).softmax()
        let dropped = dropout.applied(to: probabilities)
        let context = Tensor.batchedMatmul(dropped, repeated(v)).mergeHeads()
        var (dDropped, dv) = Tensor.batchedMatmulBackward(
            outputGradient: dContext.splitHeads(shape.heads), dropped, repeated(v))
        dropout.apply(to: &dDropped)
        let dScores = Tensor.softmaxBackward(output: probabilities, outputGradient: dDropped)
        let (dq, dk) = Tensor.batchedMatmulBackward(
            outputGradient: dScores, q, repeated(k), transposeB: true, alpha: shape.scale)
        let dqkv = Tensor.concatenate(
            [dq.mergeHeads(), grouped(dk).mergeHeads(), grouped(dv).mergeHeads()], axis: 2)
        return Outputs(
            context: context.storage, probabilities: probabilities.storage,
            dqkv: dqkv.storage, dBias: bias == nil ? [] : Self.diagonalSums(dScores, shape))
    }

    /// The bias as `[1, heads, L, L]` (zeros without one).
    static func dense(_ bias: RelativeOffsetBias?, _ shape: Shape) -> Tensor {
        let L = shape.length
        var dense = Tensor(zeros: [1, shape.heads, L, L])
        guard let bias else { return dense }
        for h in 0..<shape.heads {
            for i in 0..<L {
                for j in 0..<L {
                    dense.storage[(h * L + i) * L + j] =
                        bias.values[bias.rowStart(head: h, row: i) + j]
                }
            }
        }
        return dense
    }

    /// Additive padding (and causal) mask `[batch, 1, L, L]`, `finfo.min` where blocked.
    static func mask(_ shape: Shape) -> Tensor {
        let L = shape.length
        var mask = Tensor(zeros: [shape.batch, 1, L, L])
        for b in 0..<shape.batch {
            for i in 0..<L {
                for j in 0..<L where j >= shape.lengths[b] || (shape.causal && j > i) {
                    mask.storage[(b * L + i) * L + j] = -Float.greatestFiniteMagnitude
                }
            }
        }
        return mask
    }

    /// The score gradient summed over the batch and along each diagonal: the gradient of the
    /// offset vectors.
    static func diagonalSums(_ dScores: Tensor, _ shape: Shape) -> [Float] {
        let L = shape.length
        var sums = [Float](repeating: 0, count: shape.heads * shape.biasWidth)
        let perHead = dScores.summed(toShape: [1, shape.heads, L, L])
        for h in 0..<shape.heads {
            for i in 0..<L {
                for j in 0..<L {
                    sums[h * shape.biasWidth + (L - 1 - i) + j] +=
                        perHead.storage[(h * L + i) * L + j]
                }
            }
        }
        return sums
    }

    static func check(_ shape: Shape, dropoutRate: Float, seed: UInt64) {
        var random = TestRandom(seed: seed)
        let qkv = Tensor(
            shape: [shape.batch, shape.length, shape.width],
            storage: random.floats(shape.batch * shape.length * shape.width, in: -2...2))
        let bias =
            shape.hasBias
            ? RelativeOffsetBias(
                values: random.floats(shape.heads * shape.biasWidth), numHeads: shape.heads,
                width: shape.biasWidth, queryLength: shape.length, queryOffset: 0) : nil
        let dContext = Tensor(
            shape: [shape.batch, shape.length, shape.queryWidth],
            storage: random.floats(shape.batch * shape.length * shape.queryWidth))
        let dropout = DropoutMask(rate: dropoutRate, seed: 99)

        let expected = Self.reference(
            shape, qkv: qkv, bias: bias, dropout: dropout, dContext: dContext)
        let threads = BLAS.threads
        defer { BLAS.threads = threads }
        BLAS.threads = 2
        let parallel = Self.kernel(shape, qkv: qkv, bias: bias, dropout: dropout, dContext: dContext)
        BLAS.threads = 1
        let serial = Self.kernel(shape, qkv: qkv, bias: bias, dropout: dropout, dContext: dContext)

        let pairs: [(String, [Float], [Float])] = [
            ("context", parallel.context, expected.context),
            ("probabilities", parallel.probabilities, expected.probabilities),
            ("dqkv", parallel.dqkv, expected.dqkv),
            ("dBias", parallel.dBias, expected.dBias),
        ]
        for (name, actual, reference) in pairs {
            let result = compare(actual, reference, rtol: 1e-4, atol: 1e-5)
            #expect(result?.passes == true, "\(name): \(String(describing: result?.worst))")
        }
        // Padded keys get no probability.
        let row = shape.heads * shape.length * shape.length
        #expect(parallel.probabilities[row + shape.lengths[1]] == 0)
        // Each output is computed by one worker in a fixed order: thread count changes nothing.
        #expect(parallel.context == serial.context)
        #expect(parallel.dqkv == serial.dqkv)
        #expect(parallel.dBias == serial.dBias)
    }

    @Test(arguments: [Float(0), 0.2])
    func matchesTheComposedOpsOnOneAndTwoWorkers(dropoutRate: Float) {
        Self.check(Shape(), dropoutRate: dropoutRate, seed: 11)
    }

    /// Grouped-query attention (4 query heads over 2 key/value heads, Llama-style scaled
    /// scores, causal, no bias) against the composed ops with the key/value heads repeated.
    @Test(arguments: [Float(0), 0.2])
    func groupedQueryHeadsMatchRepeatedKeyValueHeads(dropoutRate: Float) {
        var shape = Shape()
        shape.heads = 4
        shape.kvHeads = 2
        shape.d = 8
        shape.causal = true
        shape.scale = 1 / Float(8).squareRoot()
        shape.hasBias = false
        Self.check(shape, dropoutRate: dropoutRate, seed: 12)
    }

    /// Inference (no recording, no bias) stacks the query heads of each key/value head and
    /// takes the rows in tiles that stop at the causal limit; it must give the recording
    /// path's context (checked against the composed ops above): groups of 7 and of 1, queries
    /// after cached positions (a causal offset), a padded entry, many tiles per prompt, a
    /// bidirectional call, and one-query decoder steps.
    @Test(arguments: [(14, 2), (4, 4)])
    func inferenceGivesTheRecordingPathsContext(heads: Int, kvHeads: Int) {
        let (batch, d, keyLength) = (2, 8, 150)
        let width = (heads + 2 * kvHeads) * d
        var random = TestRandom(seed: 13)
        let qkv = random.floats(batch * keyLength * width, in: -2...2)
        for (queryLength, causal) in [(110, true), (150, false), (1, false)] {
            let offset = keyLength - queryLength
            func layout(_ column: Int) -> HeadLayout {
                HeadLayout(rowStride: width, batchStride: keyLength * width, offset: column)
            }
            let problem = AttentionProblem(
                batch: batch, numHeads: heads, numKVHeads: kvHeads, headDimension: d,
                queryLength: queryLength, keyLength: keyLength, queries: layout(offset * width),
                keys: layout(heads * d), values: layout((heads + kvHeads) * d),
                output: HeadLayout(rowStride: heads * d, batchStride: queryLength * heads * d),
                visibleKeys: [keyLength, keyLength - 7], causalOffset: causal ? offset : nil,
                scale: 0.35)
            func context(recording: Bool) -> [Float] {
                var out = Tensor(zeros: [batch, queryLength, heads * d])
                _ = AttentionKernel.run(
                    problem, queries: qkv, keys: qkv, values: qkv, bias: nil, into: &out,
                    recording: recording, dropout: nil)
                return out.storage
            }
            let threads = BLAS.threads
            defer { BLAS.threads = threads }
            BLAS.threads = 2
            let result = compare(context(recording: false), context(recording: true), rtol: 1e-5, atol: 1e-6)
            #expect(result?.passes == true, "\(heads)/\(kvHeads) heads, \(queryLength) queries: \(String(describing: result?.worst))")
        }
    }
}

/// The fused inference kernel (C, flash-attention style) against the recording path (OpenBLAS
/// sgemm per pair, softmax rows, the composed-ops check above), on the AVX-512 path (where
/// the CPU has it) and the generic path, on shapes that do not fit its tiles: lengths that
/// are not multiples of its 4-row micro tiles, 16-row macro tiles or 64-key blocks (so both
/// its unmasked and its masked blocks run), padded entries down to one real key, causal
/// offsets (queries after cached positions), grouped query heads, T5's relative bias (also
/// for a decoder step), cross-attention, sharp softmaxes whose running maxima jump between
/// blocks, and head sizes 64, 48, 32 and 8 (8 is not a multiple of 16: generic on every CPU).
///
/// Rows that see no key cannot occur here: every entry has a real key (the kernel
/// preconditions it) and a causal row sees at least key 0. Tolerance: relative 2e-5,
/// absolute 2e-6 on contexts of magnitude ~1 (the paths differ in summation order, fused
/// multiply-adds and the online softmax's rescaling).
@Suite struct FusedAttentionTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var heads = 4, kvHeads = 4, d = 64, queryLength = 70, keyLength = 70
        var lengths = [70, 45]
        var causalOffset: Int? = nil
        var bias = false
        var scale: Float = 0.125
        /// The absolute tolerance: 2e-6, or more where the scores are large (their float
        /// rounding, relative 6e-8, is absolute in the exponent).
        var atol: Float = 2e-6
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "T5 encoder: bias, padding, 70 rows", heads: 3, kvHeads: 3, bias: true, scale: 1),
        Case(
            name: "GQA prefill after a cache: 14/2 heads, causal offset 63", heads: 14, kvHeads: 2,
            queryLength: 37, keyLength: 100, lengths: [100, 93], causalOffset: 63),
        Case(
            name: "GQA decode step: 1 query, 130 keys, d 32", heads: 14, kvHeads: 2, d: 32,
            queryLength: 1, keyLength: 130, lengths: [130, 129], causalOffset: 129),
        Case(
            name: "cross-attention d 48: 33 queries over 77 keys, one real key", d: 48,
            queryLength: 33, keyLength: 77, lengths: [77, 1]),
        Case(
            name: "T5 decoder step with bias", heads: 2, kvHeads: 2, queryLength: 1,
            keyLength: 9, lengths: [9, 9], causalOffset: 8, bias: true, scale: 1),
        Case(
            name: "causal self-attention, 130 rows, groups of 3, d 8", heads: 6, kvHeads: 2, d: 8,
            queryLength: 130, keyLength: 130, lengths: [130, 100], causalOffset: 0),
        // Scores spread over tens (scale 4): the running maxima jump between key blocks, so
        // the outputs are rescaled by factors far below 1; 41 rows (not whole tiles of 4 or
        // 16) over 3 whole blocks of 64 keys and a block of 8. Scores up to ~40 carry float
        // rounding of ~4e-6 (one ulp), which moves the probabilities by as much relatively
        // (both paths measured at ≤ 4.4e-6 against the sgemm path): absolute 1e-5.
        Case(
            name: "sharp softmax: scale 4, 41 rows over 200 keys, groups of 2", heads: 4,
            kvHeads: 2, queryLength: 41, keyLength: 200, lengths: [200, 131], scale: 4,
            atol: 1e-5),
        Case(
            name: "sharp softmax with bias and causality: 41 rows after 159 keys", heads: 2,
            kvHeads: 2, queryLength: 41, keyLength: 200, lengths: [200, 190], causalOffset: 159,
            bias: true, scale: 4, atol: 1e-5),
    ]

    @Test(arguments: cases, [false, true])
    func fusedKernelGivesTheSgemmPathsContext(_ c: Case, generic: Bool) {
        let width = (c.heads + 2 * c.kvHeads) * c.d
        let batch = c.lengths.count
        var random = TestRandom(seed: 21)
        // Queries live in the last `queryLength` rows of a fused q/k/v buffer (a step after
        // cached positions); keys and values in all `keyLength` rows.
        let qkv = random.floats(batch * c.keyLength * width, in: -1...1)
        func layout(_ column: Int) -> HeadLayout {
            HeadLayout(rowStride: width, batchStride: c.keyLength * width, offset: column)
        }
        let problem = AttentionProblem(
            batch: batch, numHeads: c.heads, numKVHeads: c.kvHeads, headDimension: c.d,
            queryLength: c.queryLength, keyLength: c.keyLength,
            queries: layout((c.keyLength - c.queryLength) * width), keys: layout(c.heads * c.d),
            values: layout((c.heads + c.kvHeads) * c.d),
            output: HeadLayout(rowStride: c.heads * c.d, batchStride: c.queryLength * c.heads * c.d),
            visibleKeys: c.lengths, causalOffset: c.causalOffset, scale: c.scale)
        let biasWidth = c.queryLength + c.keyLength - 1
        let bias =
            c.bias
            ? RelativeOffsetBias(
                values: random.floats(c.heads * biasWidth, in: -3...3), numHeads: c.heads,
                width: biasWidth, queryLength: c.queryLength,
                queryOffset: c.keyLength - c.queryLength) : nil
        let count = batch * c.queryLength * c.heads * c.d
        var reference = Tensor(zeros: [batch, c.queryLength, c.heads * c.d])
        _ = AttentionKernel.run(
            problem, queries: qkv, keys: qkv, values: qkv, bias: bias, into: &reference,
            recording: true, dropout: nil)
        var fused = [Float](repeating: .nan, count: count)
        let threads = BLAS.threads
        defer { BLAS.threads = threads }
        BLAS.threads = 2
        qkv.withUnsafeBufferPointer { p in
            fused.withUnsafeMutableBufferPointer { out in
                (bias?.values ?? [0]).withUnsafeBufferPointer { pb in
                    AttentionKernel.forwardFused(
                        problem, queries: p.baseAddress!, keys: p.baseAddress!,
                        values: p.baseAddress!, output: out.baseAddress!,
                        bias: bias == nil ? nil : pb.baseAddress!, biasWidth: biasWidth,
                        generic: generic)
                }
            }
        }
        let result = compare(fused, reference.storage, rtol: 2e-5, atol: c.atol)
        #expect(result?.passes == true, "\(c) generic \(generic): \(String(describing: result?.worst))")
        // A padded entry's one real key: its rows are exactly that key's value.
        if c.lengths.last == 1 {
            let value = Array(qkv[(c.keyLength * width + (c.heads + c.kvHeads) * c.d)...].prefix(c.d))
            let row = Array(fused[(c.queryLength * c.heads * c.d)...].prefix(c.d))
            #expect(zip(row, value).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) })
        }
    }
}

/// Keys and values shared by every entry (a forked prompt prefix stored once): the fused
/// kernel reading an entry's first keys from the shared buffers and the rest from its own
/// must give the recording path's context over the entry's whole keys, on the AVX-512 and the
/// generic path. Shared lengths that are not multiples of the 64-key blocks or 16-key
/// vectors, an entry sharing nothing, and one that sees fewer keys than it shares; a decoder
/// step and a 37-row causal prefill after the shared keys; keys packed at each call or read
/// from a packed copy (a cache's, laid out here from the documented block format: key `j`,
/// dimension `c` at `(j / 64)·d·64 + c·64 + j % 64`). Tolerance as above.
@Suite struct SharedKeysAttentionTests {
    /// `keys` (`[rows, rowStride]`, `heads` heads of `d`) packed per head, `units` apart.
    static func packed(_ keys: [Float], rows: Int, rowStride: Int, heads: Int, d: Int, entries: Int) -> (values: [Float], unit: Int) {
        let unit = (rows + 63) / 64 * 64 * d
        var out = [Float](repeating: 0, count: entries * heads * unit)
        for e in 0..<entries {
            for h in 0..<heads {
                for j in 0..<rows {
                    for c in 0..<d {
                        out[(e * heads + h) * unit + (j / 64) * d * 64 + c * 64 + j % 64] =
                            keys[(e * rows + j) * rowStride + h * d + c]
                    }
                }
            }
        }
        return (out, unit)
    }

    @Test(arguments: [(1, 149), (37, 113)], [(false, false), (true, false), (false, true)])
    func sharedKeysGiveTheContextOfTheWholeKeys(
        step: (queries: Int, offset: Int), path: (generic: Bool, packed: Bool)
    ) {
        let generic = path.generic
        let (heads, kvHeads, d, keyLength) = (14, 2, 64, 150)
        let (batch, kvWidth, width) = (4, kvHeads * d, (heads + 2 * kvHeads) * d)
        let sharedLengths = [70, 37, 0, 100]
        let visible = step.queries == 1 ? [150, 149, 120, 80] : [150, 150, 140, 80]
        var random = TestRandom(seed: 29)
        let sharedKeys = random.floats(100 * kvWidth, in: -1...1)
        let sharedValues = random.floats(100 * kvWidth, in: -1...1)
        // The whole rows: queries, then keys and values, the shared rows copied in.
        var whole = random.floats(batch * keyLength * width, in: -1...1)
        var ownKeys = [Float](repeating: 0, count: batch * keyLength * kvWidth)
        var ownValues = ownKeys
        for b in 0..<batch {
            for row in 0..<keyLength {
                let base = (b * keyLength + row) * width + heads * d
                let shared = row < sharedLengths[b]
                for c in 0..<kvWidth {
                    if shared {
                        whole[base + c] = sharedKeys[row * kvWidth + c]
                        whole[base + kvWidth + c] = sharedValues[row * kvWidth + c]
                    } else {
                        let own = (b * keyLength + row - sharedLengths[b]) * kvWidth + c
                        ownKeys[own] = whole[base + c]
                        ownValues[own] = whole[base + kvWidth + c]
                    }
                }
            }
        }
        func layout(_ column: Int) -> HeadLayout {
            HeadLayout(rowStride: width, batchStride: keyLength * width, offset: column)
        }
        var problem = AttentionProblem(
            batch: batch, numHeads: heads, numKVHeads: kvHeads, headDimension: d,
            queryLength: step.queries, keyLength: keyLength,
            queries: layout((keyLength - step.queries) * width), keys: layout(heads * d),
            values: layout(heads * d + kvWidth),
            output: HeadLayout(rowStride: heads * d, batchStride: step.queries * heads * d),
            visibleKeys: visible, causalOffset: step.offset, scale: 0.125)
        var reference = Tensor(zeros: [batch, step.queries, heads * d])
        _ = AttentionKernel.run(
            problem, queries: whole, keys: whole, values: whole, bias: nil, into: &reference,
            recording: true, dropout: nil)
        let own = HeadLayout(rowStride: kvWidth, batchStride: keyLength * kvWidth)
        problem.keys = own
        problem.values = own
        problem.shared = SharedKeys(
            layout: HeadLayout(rowStride: kvWidth, batchStride: 0), lengths: sharedLengths)
        var fused = [Float](repeating: .nan, count: reference.storage.count)
        let threads = BLAS.threads
        defer { BLAS.threads = threads }
        BLAS.threads = 2
        whole.withUnsafeBufferPointer { q in
            ownKeys.withUnsafeBufferPointer { k in
                ownValues.withUnsafeBufferPointer { v in
                    sharedKeys.withUnsafeBufferPointer { sk in
                        sharedValues.withUnsafeBufferPointer { sv in
                            fused.withUnsafeMutableBufferPointer { out in
                                var cached = CacheBuffers(
                                    sharedKeys: sk.baseAddress!, sharedValues: sv.baseAddress!)
                                let own = Self.packed(
                                    ownKeys, rows: keyLength, rowStride: kvWidth, heads: kvHeads,
                                    d: d, entries: batch)
                                let shared = Self.packed(
                                    sharedKeys, rows: 100, rowStride: kvWidth, heads: kvHeads,
                                    d: d, entries: 1)
                                own.values.withUnsafeBufferPointer { po in
                                    shared.values.withUnsafeBufferPointer { ps in
                                        if path.packed {
                                            cached.packedKeys = po.baseAddress!
                                            cached.packedUnitStride = own.unit
                                            cached.sharedPackedKeys = ps.baseAddress!
                                            cached.sharedPackedUnitStride = shared.unit
                                        }
                                        AttentionKernel.forwardFused(
                                            problem, queries: q.baseAddress!, keys: k.baseAddress!,
                                            values: v.baseAddress!, output: out.baseAddress!,
                                            bias: nil, biasWidth: 0, generic: generic,
                                            cached: cached)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let result = compare(fused, reference.storage, rtol: 2e-5, atol: 2e-6)
        #expect(result?.passes == true, "\(step) \(path): \(String(describing: result?.worst))")
    }
}

/// A cache made with a head size the fused kernel takes in blocks keeps its keys packed as
/// well as in rows: after a prefill, decoder steps, growth past its capacity, a fork of a
/// shared prefix, a finished row leaving and a new entry joining (one sharing the prefix, one
/// whose shared rows are copied in), its packed keys are exactly the rows laid out in the
/// documented blocks (key `j`, dimension `c` at `(j / 64)·d·64 + c·64 + j % 64`), and so are
/// the shared prefix's. On a CPU without AVX-512 the cache packs nothing.
@Suite struct PackedKeyValueCacheTests {
    static let (d, heads) = (64, 2)
    static var width: Int { d * heads }

    /// Checks `cache.packedKeys` against its rows.
    static func expectPacked(_ cache: KeyValueCache, lengths: [Int], _ note: String) {
        guard inpars_attention_reads_packed_keys(d) != 0 else {
            #expect(cache.packedKeys.isEmpty)
            return
        }
        let unit = (cache.capacity + 63) / 64 * 64 * d
        var mismatches = 0
        for b in 0..<cache.batch {
            for j in 0..<(lengths[b] - cache.sharedLengths[b]) {
                for h in 0..<heads {
                    for c in 0..<d {
                        let row = cache.keys[(b * cache.capacity + j) * width + h * d + c]
                        let packed = cache.packedKeys[(b * heads + h) * unit + (j / 64) * d * 64 + c * 64 + j % 64]
                        if row != packed { mismatches += 1 }
                    }
                }
            }
        }
        #expect(mismatches == 0, "\(note): \(mismatches) packed keys differ from the rows")
    }

    /// `[batch, steps, 3·width]` projections whose keys sit at column `width`.
    static func projection(_ random: inout TestRandom, batch: Int, steps: Int) -> Tensor {
        Tensor(shape: [batch, steps, 3 * width], storage: random.floats(batch * steps * 3 * width, in: -1...1))
    }

    @Test func packedKeysFollowTheRowsThroughForksAndJoins() {
        var random = TestRandom(seed: 37)
        var prefix = KeyValueCache(batch: 1, width: Self.width, capacity: 80, headDimension: Self.d)
        prefix.append(Self.projection(&random, batch: 1, steps: 70), keyOffset: Self.width, valueOffset: 2 * Self.width, at: 0)
        Self.expectPacked(prefix, lengths: [70], "prefix")
        let shared = prefix.sharingPositions(length: 70)
        if inpars_attention_reads_packed_keys(Self.d) != 0, let positions = shared.shared {
            let unit = 128 * Self.d
            var mismatches = 0
            for j in 0..<70 {
                for h in 0..<Self.heads {
                    for c in 0..<Self.d {
                        if positions.keys[j * Self.width + h * Self.d + c]
                            != positions.packedKeys[h * unit + (j / 64) * Self.d * 64 + c * 64 + j % 64] { mismatches += 1 }
                    }
                }
            }
            #expect(mismatches == 0, "shared prefix: \(mismatches) packed keys differ")
        }
        var running = shared.selectingRows([0, 0, 0], length: 70)
        running.append(Self.projection(&random, batch: 3, steps: 9), keyOffset: Self.width, valueOffset: 2 * Self.width, at: 70)
        var lengths = [79, 79, 79]
        for _ in 0..<60 {  // past the initial capacity: the own buffers grow
            running.append(Self.projection(&random, batch: 3, steps: 1), keyOffset: Self.width, valueOffset: 2 * Self.width, at: lengths)
            lengths = lengths.map { $0 + 1 }
        }
        Self.expectPacked(running, lengths: lengths, "after steps")
        // Row 1 leaves; a fork of the prefix and an unshared entry join.
        var fork = shared.selectingRows([0], length: 70)
        fork.append(Self.projection(&random, batch: 1, steps: 4), keyOffset: Self.width, valueOffset: 2 * Self.width, at: 70)
        let otherPrefix = prefix.sharingPositions(length: 30)
        var other = KeyValueCache.gathering([(0, 30)], from: [otherPrefix], capacity: 8)
        other.append(Self.projection(&random, batch: 1, steps: 2), keyOffset: Self.width, valueOffset: 2 * Self.width, at: 30)
        let joined = KeyValueCache.gathering(
            [(0, lengths[0]), (2, lengths[2]), (3, 74), (4, 32)], from: [running, fork, other],
            capacity: running.capacity)
        #expect(joined.sharedLengths == [70, 70, 70, 0])
        Self.expectPacked(joined, lengths: [lengths[0], lengths[2], 74, 32], "after the join")
    }
}

/// ``StepProfile``'s attention sections: one call per forward with its useful operations
/// (`Q·Kᵀ` and `P·V`, 2 per multiply-add, over the visible keys only), the recording path's
/// products per (entry, head) pair, and nothing while the profile is off.
@Suite(.serialized) struct AttentionProfileTests {
    @Test func attentionSectionsCountTheVisibleKeysWork() {
        var shape = AttentionKernelTests.Shape()
        (shape.length, shape.lengths, shape.hasBias) = (8, [8, 5], false)
        var random = TestRandom(seed: 5)
        let qkv = Tensor(shape: [2, 8, shape.width], storage: random.floats(2 * 8 * shape.width))
        // Non-causal: every query row sees its entry's keys, 8 + 5 per row, 8 rows, 2 heads,
        // d = 4, and two products of one multiply-add per (row, key, dimension).
        let expected = Double(2 * 2 * shape.d * shape.heads * 8 * (8 + 5))
        defer { StepProfile.isEnabled = false }
        for recording in [false, true] {
            StepProfile.reset()
            StepProfile.isEnabled = true
            var out = Tensor(zeros: [2, 8, shape.queryWidth])
            _ = AttentionKernel.run(
                shape.problem, queries: qkv.storage, keys: qkv.storage, values: qkv.storage,
                bias: nil, into: &out, recording: recording, dropout: nil)
            StepProfile.isEnabled = false
            let attention = StepProfile.section(StepProfile.Name.attention)
            #expect(attention.calls == 1 && attention.operations == expected, "\(attention)")
            #expect(attention.seconds > 0 && attention.gflops > 0)
            let products = StepProfile.section(StepProfile.Name.attentionGEMM)
            #expect(products.calls == (recording ? 2 * 2 * 2 : 0), "recording \(recording): \(products)")
            StepProfile.reset()
            _ = AttentionKernel.run(
                shape.problem, queries: qkv.storage, keys: qkv.storage, values: qkv.storage,
                bias: nil, into: &out, recording: recording, dropout: nil)
            #expect(StepProfile.totals.isEmpty, "the profile is off")
        }
    }
}
