import Foundation
import InparsTensor
import InparsTestSupport
import Testing

/// bf16 and int8 linear weights (oneDNN) against products the test computes itself, in Double,
/// from its own rounding and quantization of the same inputs.
@Suite struct LinearWeightPrecisionTests {
    /// (rows, in, out): SIMD tails (in, out not multiples of 16), one row, a block shape.
    static let shapes = [(5, 37, 19), (1, 64, 48), (64, 256, 96), (3, 16, 2)]

    /// bf16 of `x`, round to nearest even (finite values), as the test's own reference.
    static func bfloat16(_ x: Float) -> Double {
        let bits = x.bitPattern
        let lsb = (bits >> 16) & 1
        return Double(Float(bitPattern: (bits &+ 0x7FFF &+ lsb) & 0xFFFF_0000))
    }

    /// Symmetric per-row int8 quantization of a `[rows, columns]` matrix: (q, scales), with
    /// `|q| ≤ levels`.
    static func quantize(_ x: [Float], rows: Int, columns: Int, levels: Float = 127) -> ([Double], [Double]) {
        var q = [Double](repeating: 0, count: x.count)
        var scales = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            let row = x[(r * columns)..<((r + 1) * columns)]
            let maximum = row.map { abs($0) }.max()!
            let scale = maximum / levels
            scales[r] = Double(scale)
            for c in 0..<columns where maximum > 0 {
                q[r * columns + c] = Double((x[r * columns + c] * (levels / maximum)).rounded(.toNearestOrEven))
            }
        }
        return (q, scales)
    }

    /// Asymmetric per-row quantization of activation rows, as `inpars_quantize_activations`
    /// defines it: (q − zero, scales) with 256 codes over `[min(0, lo), max(0, hi)]`.
    static func quantizeActivations(_ x: [Float], rows: Int, columns: Int) -> ([Double], [Double]) {
        var q = [Double](repeating: 0, count: x.count)
        var scales = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            let row = Array(x[(r * columns)..<((r + 1) * columns)])
            let lo = min(0, row.min()!), hi = max(0, row.max()!)
            let range = hi - lo
            let toCodes: Float = range > 0 ? 255 / range : 0
            let zero = (-lo * toCodes - 128).rounded(.toNearestOrEven)
            scales[r] = Double(range / 255)
            for c in 0..<columns {
                let code = min(max(row[c] * toCodes + zero, -128), 127).rounded(.toNearestOrEven)
                q[r * columns + c] = Double(code - zero)
            }
        }
        return (q, scales)
    }

    /// `x · Wᵀ` in Double over already-converted operands, each scaled per row.
    static func product(
        _ x: [Double], _ w: [Double], rows: Int, k: Int, n: Int, rowScale: [Double]? = nil,
        columnScale: [Double]? = nil
    ) -> [Float] {
        var out = [Float](repeating: 0, count: rows * n)
        for m in 0..<rows {
            for j in 0..<n {
                var sum = 0.0
                for i in 0..<k { sum += x[m * k + i] * w[j * k + i] }
                out[m * n + j] = Float(sum * (rowScale?[m] ?? 1) * (columnScale?[j] ?? 1))
            }
        }
        return out
    }

    /// A one-row weight (a classifier head) stays fp32 at bf16 and int8, with fp32's product
    /// (oneDNN 2.6's int8 GEMM on AVX-512 without VNNI gets one output column wrong at depths
    /// that are multiples of 16: `DNNL_MAX_CPU_ISA=AVX512_CORE`).
    @Test(arguments: Precision.allCases.filter(DNNLInfo.supports))
    func aOneRowWeightStaysFP32(precision: Precision) {
        for (m, k) in [(3, 16), (8, 64), (3, 17)] {
            var random = TestRandom(seed: UInt64(3 * m + k))
            let w = random.floats(k)
            let x = random.floats(m * k, in: -3...3)
            let weight = LinearWeight(Tensor(shape: [1, k], storage: w)).converted(to: precision)
            #expect(weight.precision == .fp32)
            let actual = weight.matmul(Tensor(shape: [m, k], storage: x))
            let expected = Self.product(x.map(Double.init), w.map(Double.init), rows: m, k: k, n: 1)
            expectClose(actual.storage, expected, rtol: 1e-5, atol: 1e-5, "\(precision) [\(m), \(k)]")
        }
    }

    /// bf16 needs AVX-512 in oneDNN 2.6 (`DNNL_MAX_CPU_ISA=AVX2` turns it off).
    @Test(.enabled(if: DNNLInfo.supports(.bf16)), arguments: shapes)
    func bf16MatchesRoundedOperandsWithFloatAccumulation(shape: (Int, Int, Int)) {
        let (m, k, n) = shape
        var random = TestRandom(seed: UInt64(13 * m + 7 * k + n))
        let w = random.floats(n * k)
        let x = random.floats(m * k, in: -3...3)
        let weight = LinearWeight(Tensor(shape: [n, k], storage: w)).converted(to: .bf16)
        #expect(weight.precision == .bf16)
        let actual = weight.matmul(Tensor(shape: [m, k], storage: x))
        #expect(actual.shape == [m, n])
        let expected = Self.product(x.map(Self.bfloat16), w.map(Self.bfloat16), rows: m, k: k, n: n)
        // Exact products of bf16 operands, summed in f32 (k ≤ 256 terms of magnitude ≤ 3).
        expectClose(actual.storage, expected, rtol: 1e-5, atol: 1e-4, "bf16 \(shape)")
    }

    @Test(arguments: shapes)
    func int8MatchesPerRowQuantizationWithIntegerAccumulation(shape: (Int, Int, Int)) {
        let (m, k, n) = shape
        var random = TestRandom(seed: UInt64(31 * m + 5 * k + n))
        let w = random.floats(n * k)
        var x = random.floats(m * k, in: -3...3)
        if m > 2 { for i in 0..<k { x[k + i] = 0 } }  // an all-zero row: scale 0, output 0
        let weight = LinearWeight(Tensor(shape: [n, k], storage: w)).converted(to: .int8)
        let actual = weight.matmul(Tensor(shape: [m, k], storage: x))
        let (qx, sx) = Self.quantizeActivations(x, rows: m, columns: k)
        // Weights keep 7 bits on CPUs without VNNI (DNNL_MAX_CPU_ISA=AVX2 shows it).
        let levels = Float(DNNLInfo.int8WeightLevels)
        let (qw, sw) = Self.quantize(w, rows: n, columns: k, levels: levels)
        let expected = Self.product(qx, qw, rows: m, k: k, n: n, rowScale: sx, columnScale: sw)
        // The integer sums are exact; only the two scale multiplications round.
        expectClose(actual.storage, expected, rtol: 1e-6, atol: 1e-6, "int8 \(shape)")
    }

    @Test(arguments: Precision.allCases.filter(DNNLInfo.supports))
    func accumulatingAddsTheSameProductIntoTheResidual(precision: Precision) {
        let (m, k, n) = (6, 40, 24)
        var random = TestRandom(seed: 99)
        let w = Tensor(shape: [n, k], storage: random.floats(n * k))
        let x = Tensor(shape: [2, 3, k], storage: random.floats(m * k))
        let residual = Tensor(shape: [2, 3, n], storage: random.floats(m * n, in: -10...10))
        let weight = LinearWeight(w).converted(to: precision)
        var accumulated = residual
        weight.matmul(x, accumulatingInto: &accumulated)
        let product = weight.matmul(x)
        #expect(product.shape == [2, 3, n])
        let expected = zip(residual.storage, product.storage).map { $0 + $1 }
        expectClose(accumulated.storage, expected, rtol: 1e-6, atol: 1e-5, "\(precision) residual")
    }

    /// Row counts the packed fp32 product runs in place (whole 256-row chunks, multiples of 16,
    /// powers of two up to 16) and through its scratch rows (the rest), alone and mixed:
    /// 530 = 256 + 256 + 16 in place + 2 through scratch.
    @Test(arguments: [1, 3, 8, 16, 37, 300, 530])
    func packedFP32MatchesTheBLASProductAndAccumulates(rows: Int) {
        let (k, n) = (70, 33)
        var random = TestRandom(seed: 17)
        let w = Tensor(shape: [n, k], storage: random.floats(n * k))
        let x = Tensor(shape: [rows, k], storage: random.floats(rows * k))
        let residual = Tensor(shape: [rows, n], storage: random.floats(rows * n, in: -10...10))
        let packed = LinearWeight(w).packedForInference()
        let expected = Tensor.linear(x, weight: w)
        expectClose(packed.matmul(x).storage, expected.storage, rtol: 1e-5, atol: 1e-5, "product")
        var accumulated = residual
        packed.matmul(x, accumulatingInto: &accumulated)
        let sum = zip(residual.storage, expected.storage).map { $0 + $1 }
        expectClose(accumulated.storage, sum, rtol: 1e-5, atol: 1e-5, "accumulated")
    }

    /// Rows read back out of the packed fp32 layout are the matrix's rows exactly, for widths
    /// that fill oneDNN's blocks and widths that leave them padded (a tied embedding looked up
    /// in its packed LM head).
    @Test(arguments: [(300, 70), (128, 64), (7, 896)])
    func packedFP32RowsAreTheMatrixRows(shape: (out: Int, in: Int)) {
        var random = TestRandom(seed: 23)
        let w = Tensor(shape: [shape.out, shape.in], storage: random.floats(shape.out * shape.in))
        let ids: [Int32] = [0, Int32(shape.out - 1), 5 % Int32(shape.out), 0]
        let rows = LinearWeight(w).packedForInference().rows(ids, idShape: [2, 2])
        #expect(rows == Tensor.embedding(w, ids: ids, idShape: [2, 2]))
    }

    @Test func fp32StaysBitIdenticalToTheBLASProduct() {
        var random = TestRandom(seed: 5)
        let w = Tensor(shape: [33, 70], storage: random.floats(33 * 70))
        let x = Tensor(shape: [9, 70], storage: random.floats(9 * 70))
        let weight = LinearWeight(w).converted(to: .fp32)
        #expect(weight.precision == .fp32)
        #expect(weight.matmul(x) == Tensor.linear(x, weight: w))
    }

    @Test(.enabled(if: DNNLInfo.supports(.bf16)))
    func convertedWeightsHoldHalfAndAQuarterOfTheBytes() {
        let (n, k) = (128, 256)  // blocks of 64 rows, as real layers have
        var random = TestRandom(seed: 8)
        let fp32 = LinearWeight(Tensor(shape: [n, k], storage: random.floats(n * k)))
        #expect(fp32.byteCount == n * k * 4)
        let bf16 = fp32.converted(to: .bf16).byteCount
        let int8 = fp32.converted(to: .int8).byteCount
        // bf16: 2 bytes a weight; int8: 1 byte a weight, plus per output row a scale and
        // oneDNN's s32 compensation and padding (16 bytes a row on oneDNN 2.6).
        #expect(bf16 == n * k * 2, "bf16 holds \(bf16) bytes")
        #expect(int8 > n * k && int8 <= n * k + 16 * n, "int8 holds \(int8) bytes")
    }

    /// A bf16 weight holds 2 bytes a weight of the layout oneDNN packs it in
    /// (``BF16WeightBytes``): plain where bf16 is emulated; with AVX512-BF16, blocks of 32
    /// inputs × 64 outputs padded with zeros, so a narrow layer (33 × 70) holds more than its
    /// fp32 bytes there; whole blocks (128 × 256) hold half of them everywhere
    /// (``convertedWeightsHoldHalfAndAQuarterOfTheBytes()``).
    @Test(
        .enabled(if: DNNLInfo.supports(.bf16)),
        arguments: [[33, 70], [48, 48], [96, 32], [1005, 48], [128, 256]])
    func bf16WeightsHoldTheLayoutOneDNNPacksThemIn(_ shape: [Int]) {
        var random = TestRandom(seed: 9)
        let matrix = Tensor(shape: shape, storage: random.floats(shape[0] * shape[1]))
        let bytes = LinearWeight(matrix).converted(to: .bf16).byteCount
        let packed = BF16WeightBytes.of([shape], isa: DNNLInfo.effectiveISA)
        #expect(packed.contains(bytes), "\(shape) bf16 holds \(bytes) bytes, not \(packed)")
        #expect(bytes >= matrix.count * 2)
    }

    @Test func repeatedShapesReuseTheirPrimitive() {
        var random = TestRandom(seed: 3)
        let weight = LinearWeight(Tensor(shape: [20, 30], storage: random.floats(600)))
            .converted(to: .int8)
        let x = Tensor(shape: [11, 30], storage: random.floats(330))
        let first = weight.matmul(x)
        let cached = DNNLInfo.cachedPrimitives
        let second = weight.matmul(x)
        #expect(DNNLInfo.cachedPrimitives == cached)
        #expect(first == second)
    }

    @Test func reportsWhatOneDNNRuns() {
        #expect(DNNLInfo.version.hasPrefix("2."))
        #expect(!DNNLInfo.effectiveISA.isEmpty)
        let name = DNNLInfo.implementation(precision: .int8, rows: 8, inFeatures: 64, outFeatures: 64)
        #expect(!name.isEmpty && name != "unknown")
    }
}

/// The fused int8 inference forms (norm folded into the quantization; a ReLU feed-forward with
/// no fp32 hidden rows) against the same steps run one by one.
@Suite struct FusedInt8Tests {
    /// `x / √(mean(x²) + ε) · norm` per row, in Double, rounded to Float.
    static func rmsNormalized(_ x: [Float], rows: Int, columns: Int, norm: [Float], epsilon: Float) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            let row = x[(r * columns)..<((r + 1) * columns)].map(Double.init)
            let inverse = 1 / (row.map { $0 * $0 }.reduce(0, +) / Double(columns) + Double(epsilon)).squareRoot()
            for c in 0..<columns { out[r * columns + c] = Float(row[c] * inverse * Double(norm[c])) }
        }
        return out
    }

    /// 300 rows: a full 256-row chunk and a padded one; widths with SIMD tails.
    @Test func normFoldedIntoTheQuantizationMatchesNormThenProduct() {
        let (m, k, n) = (300, 72, 40)
        var random = TestRandom(seed: 17)
        let w = LinearWeight(Tensor(shape: [n, k], storage: random.floats(n * k))).converted(to: .int8)
        let x = random.floats(m * k, in: -4...4)
        let norm = random.floats(k, in: 0.2...2)
        let fused = w.matmul(
            rmsNormalizing: Tensor(shape: [3, 100, k], storage: x), norm: Tensor(shape: [k], storage: norm),
            epsilon: 1e-6)
        #expect(fused.shape == [3, 100, n])
        let normalized = Self.rmsNormalized(x, rows: m, columns: k, norm: norm, epsilon: 1e-6)
        let separate = w.matmul(Tensor(shape: [m, k], storage: normalized))
        // The same integers up to a rounding tie moved by the order of two multiplications: a
        // flip changes one term by one quantum of x times |w| ≤ 1.
        expectClose(fused.storage, separate.storage, rtol: 1e-5, atol: 2e-2, "rms-normalized int8")
    }

    @Test func reluFeedForwardMatchesTheSteps() {
        let (m, d, f) = (300, 40, 88)
        var random = TestRandom(seed: 23)
        let first = LinearWeight(Tensor(shape: [f, d], storage: random.floats(f * d))).converted(to: .int8)
        let second = LinearWeight(Tensor(shape: [d, f], storage: random.floats(d * f))).converted(to: .int8)
        let h = Tensor(shape: [m, d], storage: random.floats(m * d, in: -3...3))
        let norm = Tensor(shape: [d], storage: random.floats(d, in: 0.5...1.5))
        var fused = h
        first.addReLUFeedForward(into: &fused, norm: norm, epsilon: 1e-6, output: second)
        var hidden = first.matmul(
            Tensor(shape: [m, d], storage: Self.rmsNormalized(h.storage, rows: m, columns: d, norm: norm.storage, epsilon: 1e-6)))
        hidden.activate(.relu)
        var separate = h
        second.matmul(hidden, accumulatingInto: &separate)
        let change = zip(separate.storage, h.storage).map { abs($0 - $1) }.max()!
        #expect(change > 1, "the block changes the stream (\(change))")
        expectClose(fused.storage, separate.storage, rtol: 1e-4, atol: 5e-2, "relu feed-forward int8")
    }
}
