import CKernels
import Foundation
import InparsTestSupport
import Testing

@testable import InparsTensor

/// Our int8 product (`inpars_int8_gemm`): exact s32 sums of `(a − zero) · w` (per-row zero
/// points of the asymmetric activation codes) on every instruction-set path, the
/// rescale's floats bit for bit, and the same results as oneDNN's int8 matmul through every
/// ``PackedLinearWeight`` entry point.
@Suite struct Int8GEMMKernelTests {
    /// (rows, in, out): none a multiple of the 6-row tiles, the 4-deep groups or the 64-column
    /// panels except where a boundary is the point; more than one 96-row block.
    static let shapes = [(1, 1, 1), (7, 13, 5), (13, 17, 70), (6, 4, 64), (97, 131, 129), (200, 770, 65), (5, 64, 200)]

    /// Values in [-128, 127] (activation codes span all of it; weights [-127, 127]).
    static func bytes(_ count: Int, _ random: inout TestRandom) -> [Int8] {
        (0..<count).map { _ in Int8(truncatingIfNeeded: Int(random.next() % 256)) }
    }

    /// Packs `w` `[n, k]` and runs the product with `mode` on `isa` over `panels`.
    static func product(
        _ a: [Int8], _ w: [Int8], rows m: Int, k: Int, n: Int, zeros: [Int32], rowScales: [Float],
        columnScales: [Float], out: inout [UInt32], mode: Int32, isa: inpars_isa,
        panels: (Int, Int) = (0, Int.max)
    ) {
        var packed = [Int8](repeating: 0, count: inpars_int8_packed_bytes(n, k))
        var columnSums = [Int32](repeating: 0, count: (n + 15) / 16 * 16)
        inpars_int8_pack(w, n, k, &packed, &columnSums)
        for c in 0..<n { #expect(columnSums[c] == (0..<k).reduce(Int32(0)) { $0 + Int32(w[c * k + $1]) }) }
        out.withUnsafeMutableBytes { o in
            inpars_int8_gemm_isa(
                a, k, m, k, packed, columnSums, n, panels.0, panels.1, zeros, rowScales,
                columnScales, o.baseAddress!, n, mode, isa)
        }
    }

    @Test(arguments: shapes)
    func everyPathGivesTheExactSumsAndTheRescaleBits(shape: (Int, Int, Int)) {
        let (m, k, n) = shape
        var random = TestRandom(seed: UInt64(7 * m + 3 * k + n))
        let a = Self.bytes(m * k, &random), w = Self.bytes(n * k, &random)
        let rowScales = random.floats(m, in: 0.001...0.1), columnScales = random.floats(n, in: 0.001...0.1)
        let residual = random.floats(m * n, in: -5...5)
        // Zero points anywhere in the code range, the ends included.
        let zeros = (0..<m).map { r in [Int32(-128), 127, 0][r % 3] + (r < 3 ? 0 : Int32(random.next() % 100) - 50) }
        var sums = [Int32](repeating: 0, count: m * n)
        for r in 0..<m {
            for c in 0..<n {
                var s = 0
                for i in 0..<k { s += (Int(a[r * k + i]) - Int(zeros[r])) * Int(w[c * k + i]) }
                sums[r * n + c] = Int32(s)
            }
        }
        // The rescale as `inpars_rescale` defines it, in Float (two roundings, no fused add).
        let stored = (0..<(m * n)).map { i in Float(sums[i]) * (columnScales[i % n] * rowScales[i / n]) }
        let added = zip(residual, stored).map { $0 + $1 }
        for isa in [INPARS_ISA_GENERIC, INPARS_ISA_AVX512] {
            var out = [UInt32](repeating: 0xDEAD_BEEF, count: m * n)
            Self.product(a, w, rows: m, k: k, n: n, zeros: zeros, rowScales: rowScales, columnScales: columnScales, out: &out, mode: Int32(INPARS_INT8_STORE_S32), isa: isa)
            #expect(out.map { Int32(bitPattern: $0) } == sums, "s32 \(shape) isa \(isa.rawValue)")
            Self.product(a, w, rows: m, k: k, n: n, zeros: zeros, rowScales: rowScales, columnScales: columnScales, out: &out, mode: Int32(INPARS_INT8_STORE), isa: isa)
            #expect(out == stored.map(\.bitPattern), "f32 \(shape) isa \(isa.rawValue)")
            out = residual.map(\.bitPattern)
            Self.product(a, w, rows: m, k: k, n: n, zeros: zeros, rowScales: rowScales, columnScales: columnScales, out: &out, mode: Int32(INPARS_INT8_ADD), isa: isa)
            #expect(out == added.map(\.bitPattern), "f32 add \(shape) isa \(isa.rawValue)")
        }
    }

    @Test func panelRangesWriteTheirColumnsOnly() {
        let (m, k, n) = (9, 40, 150)  // panels of 64, 64 and 22 columns
        var random = TestRandom(seed: 12)
        let a = Self.bytes(m * k, &random), w = Self.bytes(n * k, &random)
        let ones = [Float](repeating: 1, count: max(m, n))
        let zeros = (0..<m).map { Int32($0 * 29 % 256) - 128 }
        var whole = [UInt32](repeating: 0, count: m * n)
        Self.product(a, w, rows: m, k: k, n: n, zeros: zeros, rowScales: ones, columnScales: ones, out: &whole, mode: Int32(INPARS_INT8_STORE_S32), isa: inpars_kernels_isa())
        var parts = [UInt32](repeating: 7, count: m * n)
        Self.product(a, w, rows: m, k: k, n: n, zeros: zeros, rowScales: ones, columnScales: ones, out: &parts, mode: Int32(INPARS_INT8_STORE_S32), isa: inpars_kernels_isa(), panels: (1, 2))
        for r in 0..<m {
            for c in 0..<n {
                let expected = (64..<128).contains(c) ? whole[r * n + c] : 7
                #expect(parts[r * n + c] == expected, "row \(r) column \(c)")
            }
        }
        Self.product(a, w, rows: m, k: k, n: n, zeros: zeros, rowScales: ones, columnScales: ones, out: &parts, mode: Int32(INPARS_INT8_STORE_S32), isa: inpars_kernels_isa(), panels: (0, 1))
        Self.product(a, w, rows: m, k: k, n: n, zeros: zeros, rowScales: ones, columnScales: ones, out: &parts, mode: Int32(INPARS_INT8_STORE_S32), isa: inpars_kernels_isa(), panels: (2, 9))
        #expect(parts == whole)
    }
}

/// ``PackedLinearWeight`` at int8 on ``Int8Panels`` against the same weight on oneDNN's
/// matmul: the same quantized weights and activations and exact integer sums, so the same
/// bits, whichever way the rows or panels go to the threads.
@Suite(.serialized) struct Int8PanelsMatchOneDNNTests {
    /// (rows, in, out): one row and five (decoding steps: split by panels), 50 and 300 (split
    /// by rows); products below 2²⁰ multiply-adds run on one thread.
    static let shapes = [(1, 1000, 1050), (5, 264, 840), (50, 136, 200), (300, 136, 200)]

    static func pair(_ n: Int, _ k: Int, seed: UInt64, refined: Bool = false) -> (PackedLinearWeight, PackedLinearWeight) {
        var random = TestRandom(seed: seed)
        let matrix = Tensor(shape: [n, k], storage: random.floats(n * k))
        return (
            PackedLinearWeight(matrix, precision: .int8, panels: true, refiningActivations: refined),
            PackedLinearWeight(matrix, precision: .int8, panels: false, refiningActivations: refined)
        )
    }

    /// Plain and refined activations (``PackedLinearWeight/refinesActivations``).
    @Test(arguments: shapes, [false, true])
    func productsAndTheFusedFormsAreBitIdentical(shape: (Int, Int, Int), refined: Bool) {
        let (m, d, f) = shape
        let saved = BLAS.threads
        BLAS.threads = 2
        defer { BLAS.threads = saved }
        let (ours, theirs) = Self.pair(f, d, seed: UInt64(m), refined: refined)
        #expect(ours.int8Panels != nil && theirs.int8Panels == nil)
        #expect(ours.rowScales == theirs.rowScales)
        var random = TestRandom(seed: 100 + UInt64(m))
        let x = random.floats(m * d, in: -3...3)
        let norm = random.floats(d, in: 0.5...1.5)
        let residual = random.floats(m * f, in: -2...2)
        for accumulate in [false, true] {
            var a = residual, b = residual
            ours.multiply(x, rows: m, into: &a, accumulate: accumulate)
            theirs.multiply(x, rows: m, into: &b, accumulate: accumulate)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "multiply rows \(m) accumulate \(accumulate)")
        }
        var a = [Float](repeating: 0, count: m * f), b = a
        ours.multiply(rmsNormalizing: x, norm: norm, epsilon: 1e-6, rows: m, into: &a)
        theirs.multiply(rmsNormalizing: x, norm: norm, epsilon: 1e-6, rows: m, into: &b)
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "rms-normalizing rows \(m)")
        let (ours2, theirs2) = Self.pair(d, f, seed: 50 + UInt64(m), refined: refined)
        var h1 = x, h2 = x
        ours.reluFeedForward(&h1, rows: m, norm: norm, epsilon: 1e-6, output: ours2)
        theirs.reluFeedForward(&h2, rows: m, norm: norm, epsilon: 1e-6, output: theirs2)
        #expect(h1.map(\.bitPattern) == h2.map(\.bitPattern), "feed-forward rows \(m)")
        #expect(zip(h1, x).contains { $0 != $1 }, "the feed-forward changes the stream")
    }
}

/// Refined activations (``PackedLinearWeight/refinesActivations``): the product of the
/// activations with the converted weights (int8 dequantized, or bf16-rounded), to about 16-bit
/// activation precision, where one pass leaves the 8-bit rounding.
@Suite struct RefinedActivationTests {
    /// Checks `make(refined)`'s product of 5 rows (a few large values among uniform ones)
    /// against `x · W'ᵀ` in Double, `W'` = `converted(W)`, the weights as the precision
    /// rounds them: what the weights' rounding alone gives. One pass must be visibly off, the
    /// refined product 50 times closer.
    static func checkRefinement(
        seed: UInt64, converted: ([Float]) -> [Double],
        _ make: (_ matrix: Tensor, _ refined: Bool) -> PackedLinearWeight
    ) {
        let (m, k, n) = (5, 300, 70)
        var random = TestRandom(seed: seed)
        let matrix = Tensor(shape: [n, k], storage: random.floats(n * k))
        let x = random.floats(m * k, in: -3...3).enumerated().map { $0.offset % 7 == 0 ? abs($0.element) * 4 : $0.element }
        let w = converted(matrix.storage)
        var reference = [Double](repeating: 0, count: m * n)
        for r in 0..<m {
            for c in 0..<n {
                reference[r * n + c] = (0..<k).reduce(0.0) { $0 + Double(x[r * k + $1]) * w[c * k + $1] }
            }
        }
        func maxError(refined: Bool) -> Double {
            let weight = make(matrix, refined)
            #expect(weight.refinesActivations == refined)
            var out = [Float](repeating: 0, count: m * n)
            weight.multiply(x, rows: m, into: &out, accumulate: false)
            return zip(out, reference).map { abs(Double($0) - $1) }.max()!
        }
        let once = maxError(refined: false), refined = maxError(refined: true)
        #expect(once > 1e-3, "one pass rounds the activations (\(once))")
        #expect(refined < once / 50, "refined \(refined), one pass \(once)")
    }

    @Test(arguments: [true, false])
    func refiningLeavesOnlyTheInt8WeightsRounding(panels: Bool) {
        Self.checkRefinement(
            seed: 61,
            converted: { matrix in
                let (n, k) = (70, 300)
                var q = [Int8](repeating: 0, count: n * k)
                var scales = [Float](repeating: 0, count: n)
                Quantization.quantizeRows(
                    matrix, rows: n, columns: k, into: &q, scales: &scales,
                    levels: Float(DNNLInfo.int8WeightLevels))
                return q.indices.map { Double(q[$0]) * Double(scales[$0 / k]) }
            },
            { matrix, refined in
                PackedLinearWeight(
                    matrix, precision: .int8, panels: panels && Int8Panels.isAvailable, refiningActivations: refined)
            })
    }

    @Test(.enabled(if: DNNLInfo.supports(.bf16)))
    func refiningLeavesOnlyTheBFloat16WeightsRounding() {
        Self.checkRefinement(seed: 67, converted: { $0.map(RefinedBFloat16ActivationTests.bfloat16) }) { matrix, refined in
            PackedLinearWeight(matrix, precision: .bf16, refiningActivations: refined)
        }
    }
}

/// bf16 residuals (``Quantization/bfloat16Residuals(_:count:into:)``).
@Suite struct RefinedBFloat16ActivationTests {
    /// bf16(x), round to nearest even, written out here rather than taken from the code under
    /// test.
    static func bfloat16(_ value: Float) -> Double {
        let bits = value.bitPattern
        let lower = bits & 0xFFFF, upper = bits & 0xFFFF_0000
        let up = lower > 0x8000 || (lower == 0x8000 && (upper >> 16) & 1 == 1)
        return Double(Float(bitPattern: up ? upper &+ 0x1_0000 : upper))
    }

    /// `x − bf16(x)` is exact, and bf16(x) + bf16(r) carries about 16 significant bits.
    @Test func residualsAreWhatRoundingLeftOut() {
        var random = TestRandom(seed: 68)
        let x = random.floats(4_099, in: -1000...1000) + [0, -0, 1, 1.00390625, 65_504, 3.3895314e38]
        var residuals = [Float](repeating: .nan, count: x.count)
        Quantization.bfloat16Residuals(x, count: x.count, into: &residuals)
        for i in x.indices {
            let hi = Self.bfloat16(x[i])
            #expect(Double(residuals[i]) == Double(x[i]) - hi, "x = \(x[i])")
            #expect(abs(Double(residuals[i])) <= abs(Double(x[i])) / 256, "x = \(x[i])")
        }
    }
}
