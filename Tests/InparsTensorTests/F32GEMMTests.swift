import CKernels
import Foundation
import InparsTestSupport
import Testing

@testable import InparsTensor

/// Our few-row fp32 product on packed panels (`inpars_f32_gemm`): the bits of a plain loop of
/// fused multiply-adds in increasing depth on every instruction-set path, and the same through
/// a ``LinearWeight`` packed by oneDNN (its `BA16a64b` memory read in place).
@Suite struct F32GEMMKernelTests {
    /// (rows, in, out): tiles of 6 rows with every remainder, depths off the 16-deep blocks,
    /// a last panel of fewer than 64 columns, more than one panel; depths over one or more
    /// 128-deep blocks (a partial sum carried between them), 64 rows (the most in flight) and
    /// more (groups of 64).
    static let shapes = [
        (1, 1, 1), (5, 13, 70), (6, 16, 64), (7, 37, 129), (13, 64, 200), (32, 96, 150),
        (32, 300, 130), (47, 128, 64), (64, 257, 70), (70, 129, 65),
    ]

    /// `x · Wᵀ` as `fma(x[m, i], w[c, i], acc)` from zero in increasing `i`, then stored or
    /// added to `residual` (the kernel's defined order).
    static func reference(_ x: [Float], _ w: [Float], rows m: Int, k: Int, n: Int, residual: [Float]?) -> [Float] {
        var out = [Float](repeating: 0, count: m * n)
        for r in 0..<m {
            for c in 0..<n {
                var acc: Float = 0
                for i in 0..<k { acc = acc.addingProduct(x[r * k + i], w[c * k + i]) }  // one rounding
                out[r * n + c] = residual.map { $0[r * n + c] + acc } ?? acc
            }
        }
        return out
    }

    /// `w` `[n, k]` in panels of 64 columns, depth padded to 16: `[panels][kp][64]`, zeros in
    /// the padding (oneDNN's `BA16a64b`).
    static func pack(_ w: [Float], n: Int, k: Int) -> (packed: [Float], panelStride: Int) {
        let kp = (k + 15) / 16 * 16, panels = (n + 63) / 64
        var packed = [Float](repeating: 0, count: panels * kp * 64)
        for c in 0..<n {
            for i in 0..<k { packed[c / 64 * kp * 64 + i * 64 + c % 64] = w[c * k + i] }
        }
        return (packed, kp * 64)
    }

    @Test(arguments: shapes)
    func everyPathGivesThePlainLoopsBits(shape: (Int, Int, Int)) {
        let (m, k, n) = shape
        var random = TestRandom(seed: UInt64(5 * m + 3 * k + n))
        let x = random.floats(m * k, in: -1...1), w = random.floats(n * k, in: -1...1)
        let residual = random.floats(m * n, in: -5...5)
        let (packed, stride) = Self.pack(w, n: n, k: k)
        let stored = Self.reference(x, w, rows: m, k: k, n: n, residual: nil)
        let added = Self.reference(x, w, rows: m, k: k, n: n, residual: residual)
        for isa in [INPARS_ISA_GENERIC, INPARS_ISA_AVX512] {
            var out = [Float](repeating: .nan, count: m * n)
            inpars_f32_gemm_isa(x, k, m, k, packed, stride, n, 0, Int.max, &out, n, 0, isa)
            #expect(out.map(\.bitPattern) == stored.map(\.bitPattern), "store \(shape) isa \(isa.rawValue)")
            out = residual
            inpars_f32_gemm_isa(x, k, m, k, packed, stride, n, 0, Int.max, &out, n, 1, isa)
            #expect(out.map(\.bitPattern) == added.map(\.bitPattern), "add \(shape) isa \(isa.rawValue)")
        }
    }

    /// Panels split over two calls (as over threads) write the same as one call, and nothing
    /// outside their columns.
    @Test func aPanelSplitGivesTheSameBits() {
        let (m, k, n) = (9, 40, 200)
        var random = TestRandom(seed: 11)
        let x = random.floats(m * k, in: -1...1), w = random.floats(n * k, in: -1...1)
        let (packed, stride) = Self.pack(w, n: n, k: k)
        var whole = [Float](repeating: 0, count: m * n)
        inpars_f32_gemm(x, k, m, k, packed, stride, n, 0, Int.max, &whole, n, 0)
        var split = [Float](repeating: .nan, count: m * n)
        inpars_f32_gemm(x, k, m, k, packed, stride, n, 0, 1, &split, n, 0)
        #expect((0..<m).allSatisfy { r in split[(r * n + 64)..<(r * n + n)].allSatisfy(\.isNaN) })
        inpars_f32_gemm(x, k, m, k, packed, stride, n, 1, 4, &split, n, 0)
        #expect(split.map(\.bitPattern) == whole.map(\.bitPattern))
    }

    /// A weight packed by oneDNN: products of up to ``F32Panels/maxRows`` rows run on its
    /// memory in place and give the plain loop's bits, stored and added.
    @Test(arguments: [(1, 896, 150), (7, 96, 1152), (32, 200, 70), (64, 520, 200)])
    func aOneDNNPackedWeightGivesThePlainLoopsBits(shape: (Int, Int, Int)) throws {
        let (m, k, n) = shape
        try #require(F32Panels.isAvailable, "no AVX-512 here: the oneDNN path runs instead")
        var random = TestRandom(seed: UInt64(m + k + n))
        let x = random.floats(m * k, in: -1...1), w = random.floats(n * k, in: -1...1)
        let weight = LinearWeight(Tensor(shape: [n, k], storage: w)).packedForInference()
        let input = Tensor(shape: [m, k], storage: x)
        let product = weight.matmul(input)
        #expect(product.storage.map(\.bitPattern) == Self.reference(x, w, rows: m, k: k, n: n, residual: nil).map(\.bitPattern))
        var residual = Tensor(shape: [m, n], storage: random.floats(m * n, in: -5...5))
        let expected = Self.reference(x, w, rows: m, k: k, n: n, residual: residual.storage)
        weight.matmul(input, accumulatingInto: &residual)
        #expect(residual.storage.map(\.bitPattern) == expected.map(\.bitPattern))
    }
}
