import CKernels
import Foundation
import InparsTensor
import InparsTestSupport
import Testing

/// The C softmax kernel: accurate against a double-precision softmax, and the same bits on
/// every instruction-set path (so results do not depend on the CPU that runs them).
@Suite struct SoftmaxKernelTests {
    /// Row lengths around the 16-lane blocks and the tails, and attention's usual 512.
    static let lengths = [1, 2, 7, 8, 15, 16, 17, 31, 33, 64, 100, 127, 512]

    /// Scores spread like attention logits (±12), one row per length, some very negative
    /// entries to reach the −87 clamp.
    static func rows() -> [[Float]] {
        var random = TestRandom(seed: 41)
        return lengths.map { length in
            random.floats(length).enumerated().map { i, x in i % 11 == 5 ? x * 200 - 150 : x * 24 }
        }
    }

    @Test func matchesDoublePrecisionSoftmax() {
        for row in Self.rows() {
            var values = row
            values.withUnsafeMutableBufferPointer { Softmax.normalize($0.baseAddress!, count: $0.count) }
            let maximum = row.map(Double.init).max()!
            let exps = row.map { Foundation.exp(Double($0) - maximum) }
            let sum = exps.reduce(0, +)
            for (x, (got, e)) in zip(row, zip(values, exps)) {
                let expected = e / sum
                // ≈ 1e-7 relative from exp and a few ulp from the sum and the division, plus
                // the rounding of the float difference x − max (|x − max| · 2⁻²⁴ relative);
                // below the −87 clamp the kernel gives exp(−87)/Σ ≤ 1.7e-38 for a true ≈ 0.
                let shifted = abs(Double(x) - maximum)
                let tolerance = (1e-6 + shifted * 6e-8) * expected + 2e-38
                #expect(abs(Double(got) - expected) <= tolerance, "\(row.count): \(got) vs \(expected)")
            }
        }
    }

    @Test func everyInstructionSetGivesTheSameBits() {
        let machine = inpars_kernels_isa()
        for row in Self.rows() {
            var generic = row
            generic.withUnsafeMutableBufferPointer {
                inpars_softmax_row_isa($0.baseAddress!, $0.count, INPARS_ISA_GENERIC)
            }
            for isa in [INPARS_ISA_AVX2, INPARS_ISA_AVX512] where isa.rawValue <= machine.rawValue {
                var vector = row
                vector.withUnsafeMutableBufferPointer {
                    inpars_softmax_row_isa($0.baseAddress!, $0.count, isa)
                }
                #expect(vector.map(\.bitPattern) == generic.map(\.bitPattern), "\(isa) length \(row.count)")
            }
        }
    }
}

/// The row statistics behind greedy choice and log-probabilities: the first arg-max, and
/// `log Σ exp` against double precision, with the same bits on every path.
@Suite struct RowStatisticsKernelTests {
    /// Logit-like rows of the softmax lengths, a vocabulary-sized one, and rows whose maximum
    /// repeats (the first index must win) inside a lane, across lanes and in the tail.
    static func rows() -> [[Float]] {
        var random = TestRandom(seed: 47)
        var rows = (SoftmaxKernelTests.lengths + [1000, 4099]).map { random.floats($0, in: -20...20) }
        var ties = random.floats(70, in: -5...5)
        for i in [9, 25, 41, 66] { ties[i] = 7 }  // lane 9 twice, lane 9 again, then the tail
        rows.append(ties)
        var tailTie = random.floats(37, in: -5...5)
        tailTie[35] = 9
        tailTie[36] = 9
        rows.append(tailTie)
        rows.append([Float](repeating: 2, count: 40))
        return rows
    }

    func statistics(_ row: [Float], isa: inpars_isa) -> (Int, Float, Float) {
        var argmax = 0
        var maximum: Float = 0
        var logNormaliser: Float = 0
        inpars_row_statistics_isa(row, row.count, &argmax, &maximum, &logNormaliser, isa)
        return (argmax, maximum, logNormaliser)
    }

    @Test func matchesTheFirstArgmaxAndDoublePrecisionLogSumExp() {
        for row in Self.rows() {
            let (argmax, maximum, logNormaliser) = row.withUnsafeBufferPointer {
                Softmax.rowStatistics($0)
            }
            let expectedMaximum = row.max()!
            #expect(argmax == row.firstIndex(of: expectedMaximum)!, "length \(row.count)")
            #expect(maximum == expectedMaximum)
            let top = Double(expectedMaximum)
            let expected = top + Foundation.log(row.reduce(0.0) { $0 + Foundation.exp(Double($1) - top) })
            // exp's 1e-7 relative error and float summation over up to 4099 terms.
            #expect(abs(Double(logNormaliser) - expected) <= 2e-6 * max(1, abs(expected)), "length \(row.count)")
        }
    }

    @Test func everyInstructionSetGivesTheSameBits() {
        let machine = inpars_kernels_isa()
        for row in Self.rows() {
            let generic = statistics(row, isa: INPARS_ISA_GENERIC)
            for isa in [INPARS_ISA_AVX2, INPARS_ISA_AVX512] where isa.rawValue <= machine.rawValue {
                let vector = statistics(row, isa: isa)
                #expect(vector.0 == generic.0 && vector.1.bitPattern == generic.1.bitPattern
                    && vector.2.bitPattern == generic.2.bitPattern, "\(isa) length \(row.count)")
            }
        }
    }
}

/// The int8 kernels around oneDNN's matmul: against a plain Swift reference, and the same
/// integers and floats on the AVX-512 and generic paths.
@Suite struct QuantizationKernelTests {
    /// 5 rows of 45 columns (two 16-lane blocks and a tail), one of them all zero.
    static func matrix() -> [Float] {
        var random = TestRandom(seed: 43)
        var x = random.floats(5 * 45, in: -3...3)
        for i in 90..<135 { x[i] = 0 }
        x[7] = 5.5  // a row maximum off the lane grid
        return x
    }

    func quantize(_ x: [Float], isa: inpars_isa) -> (q: [Int8], scales: [Float]) {
        var q = [Int8](repeating: 99, count: x.count)
        var scales = [Float](repeating: -1, count: 5)
        inpars_quantize_rows_isa(x, 5, 45, &q, &scales, 127, isa)
        return (q, scales)
    }

    @Test func quantizationRoundsToNearestEvenWithTheRowScale() {
        let x = Self.matrix()
        let (q, scales) = quantize(x, isa: inpars_kernels_isa())
        for row in 0..<5 {
            let values = x[(row * 45)..<(row * 45 + 45)]
            let maximum = values.map { abs($0) }.max()!
            #expect(scales[row] == maximum / 127)
            let inverse: Float = maximum > 0 ? 127 / maximum : 0
            for (i, v) in values.enumerated() {
                let expected = Int8((v * inverse).rounded(.toNearestOrEven))
                #expect(q[row * 45 + i] == expected, "row \(row) column \(i): \(v)")
            }
        }
        #expect(q[(2 * 45)..<(3 * 45)].allSatisfy { $0 == 0 } && scales[2] == 0)
    }

    @Test func rescaleMultipliesByBothScales() {
        var random = TestRandom(seed: 44)
        let acc = (0..<(3 * 37)).map { _ in Int32.random(in: -2_000_000...2_000_000, using: &random) }
        let rowScales: [Float] = [0.5, 0.013, 3]
        let columnScales = random.floats(37, in: 0.001...0.1)
        let base = random.floats(3 * 37)
        for accumulate in [false, true] {
            var outputs: [[Float]] = []
            for isa in [INPARS_ISA_GENERIC, inpars_kernels_isa()] {
                var out = base
                inpars_rescale_isa(acc, 3, 37, rowScales, columnScales, &out, accumulate ? 1 : 0, isa)
                outputs.append(out)
            }
            for i in 0..<acc.count {
                let v = Float(acc[i]) * (columnScales[i % 37] * rowScales[i / 37])
                #expect(outputs[0][i] == (accumulate ? base[i] + v : v))
            }
            #expect(outputs[1].map(\.bitPattern) == outputs[0].map(\.bitPattern))
        }
    }

    @Test func avx512AndGenericQuantizeAlike() {
        let x = Self.matrix()
        let generic = quantize(x, isa: INPARS_ISA_GENERIC)
        let vector = quantize(x, isa: INPARS_ISA_AVX512)
        #expect(vector.q == generic.q && vector.scales == generic.scales)
    }

    /// The asymmetric codes of a row of `values` as `inpars_quantize_activations` defines them,
    /// computed here from the definition (`lo`, `hi` widened to 0; Float operations in the
    /// kernel's order).
    static func expectedCodes(_ values: [Float]) -> (q: [Int8], range: Float, zero: Int32) {
        let lo = min(0, values.min()!), hi = max(0, values.max()!)
        let range = hi - lo
        let toCodes: Float = range > 0 ? 255 / range : 0
        let zero = Int32((-lo * toCodes - 128).rounded(.toNearestOrEven))
        let q = values.map { v -> Int8 in
            let t = min(max(v * toCodes + Float(zero), -128), 127)
            return Int8(t.rounded(.toNearestOrEven))
        }
        return (q, range, zero)
    }

    func quantizeActivations(_ x: [Float], rows: Int, isa: inpars_isa) -> (q: [Int8], scales: [Float], zeros: [Int32]) {
        var q = [Int8](repeating: 99, count: x.count)
        var scales = [Float](repeating: -1, count: rows)
        var zeros = [Int32](repeating: 99, count: rows)
        inpars_quantize_activations_isa(x, rows, x.count / rows, &q, &scales, &zeros, isa)
        return (q, scales, zeros)
    }

    /// Activations: 256 codes over the row's range with its zero point, the same bits on both
    /// paths; a one-sided row uses the whole code range; dequantized within half a step.
    @Test func activationsUseAllCodesWithAZeroPoint() {
        var x = Self.matrix()
        for i in 135..<180 { x[i] = abs(x[i]) }  // row 3: non-negative (ReLU-like), with a 0
        x[140] = 0
        let generic = quantizeActivations(x, rows: 5, isa: INPARS_ISA_GENERIC)
        let vector = quantizeActivations(x, rows: 5, isa: INPARS_ISA_AVX512)
        #expect(vector.q == generic.q && vector.zeros == generic.zeros)
        #expect(vector.scales.map(\.bitPattern) == generic.scales.map(\.bitPattern))
        for row in 0..<5 {
            let values = Array(x[(row * 45)..<(row * 45 + 45)])
            let expected = Self.expectedCodes(values)
            #expect(Array(generic.q[(row * 45)..<(row * 45 + 45)]) == expected.q, "row \(row)")
            #expect(generic.zeros[row] == expected.zero && generic.scales[row] == expected.range / 255, "row \(row)")
            for (i, v) in values.enumerated() {
                let back = generic.scales[row] * (Float(generic.q[row * 45 + i]) - Float(generic.zeros[row]))
                #expect(abs(back - v) <= 0.5001 * generic.scales[row] + 1e-6, "row \(row) column \(i)")
            }
        }
        let relu = generic.q[(3 * 45)..<(4 * 45)]
        #expect(generic.zeros[3] == -128 && relu.min()! == -128 && relu.max()! == 127)
        #expect(generic.q[(2 * 45)..<(3 * 45)].allSatisfy { $0 == -128 } && generic.scales[2] == 0)
    }

    /// The RMS norm folded into the quantization: the codes of `x ⊙ weight` over its own
    /// range, the scale times the norm's `1 / rms` (computed here in Double), and the same
    /// bits on both paths.
    @Test func normFoldedIntoTheQuantization() {
        let x = Self.matrix()
        var random = TestRandom(seed: 45)
        let weight = random.floats(45, in: 0.1...2)
        var results: [([Int8], [Float], [Int32])] = []
        for isa in [INPARS_ISA_GENERIC, INPARS_ISA_AVX512] {
            var q = [Int8](repeating: 99, count: x.count)
            var scales = [Float](repeating: -1, count: 5)
            var zeros = [Int32](repeating: 99, count: 5)
            inpars_rms_quantize_rows_isa(x, 5, 45, weight, 1e-6, &q, &scales, &zeros, isa)
            results.append((q, scales, zeros))
        }
        #expect(results[0].0 == results[1].0 && results[0].2 == results[1].2)
        #expect(results[0].1.map(\.bitPattern) == results[1].1.map(\.bitPattern))
        let (q, scales, zeros) = results[0]
        for row in 0..<5 {
            let values = (0..<45).map { x[row * 45 + $0] * weight[$0] }
            let expected = Self.expectedCodes(values)
            let sumSquares = (0..<45).map { Double(x[row * 45 + $0]) * Double(x[row * 45 + $0]) }.reduce(0, +)
            let inverse = 1 / (sumSquares / 45 + 1e-6).squareRoot()
            let expectedScale = Double(expected.range) * inverse / 255
            #expect(abs(Double(scales[row]) - expectedScale) <= 1e-6 * expectedScale, "row \(row) scale")
            #expect(zeros[row] == expected.zero, "row \(row) zero")
            #expect(Array(q[(row * 45)..<(row * 45 + 45)]) == expected.q, "row \(row) codes")
        }
        #expect(q[(2 * 45)..<(3 * 45)].allSatisfy { $0 == -128 } && scales[2] == 0)
    }

    /// RMS normalisation: within 2 ulp-scale of a Double-precision norm for row lengths around
    /// the 16-lane blocks (tails included), in place as well as out of place, and the same
    /// bits on both paths.
    @Test func rmsNormalizeMatchesDoublePrecisionOnEveryPath() {
        var random = TestRandom(seed: 46)
        for columns in [1, 15, 16, 17, 45, 64, 896] {
            let rows = 3
            let x = random.floats(rows * columns, in: -3...3)
            let weight = random.floats(columns, in: 0.1...2)
            var results: [[Float]] = []
            for isa in [INPARS_ISA_GENERIC, INPARS_ISA_AVX512] {
                var out = [Float](repeating: .nan, count: x.count)
                inpars_rms_normalize_rows_isa(x, rows, columns, weight, 1e-6, &out, isa)
                var inPlace = x
                inPlace.withUnsafeMutableBufferPointer { p in
                    inpars_rms_normalize_rows_isa(p.baseAddress!, rows, columns, weight, 1e-6, p.baseAddress!, isa)
                }
                #expect(inPlace.map(\.bitPattern) == out.map(\.bitPattern), "in place, \(columns) columns")
                results.append(out)
            }
            #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern), "\(columns) columns")
            for row in 0..<rows {
                let values = (0..<columns).map { Double(x[row * columns + $0]) }
                let inverse = 1 / (values.map { $0 * $0 }.reduce(0, +) / Double(columns) + 1e-6).squareRoot()
                for i in 0..<columns {
                    let expected = values[i] * inverse * Double(weight[i])
                    let got = Double(results[0][row * columns + i])
                    #expect(abs(got - expected) <= 1e-6 * max(1, abs(expected)), "row \(row) column \(i) of \(columns)")
                }
            }
        }
    }

    /// s32 accumulators through ReLU into one-sided codes: `max(0, acc · columnScale)` over
    /// all 256 codes (zero point −128), the activation scale moved into the new scale, the
    /// same bits on both paths; an all-negative row quantizes to the zero code.
    @Test func rescaleReLUQuantize() {
        var random = TestRandom(seed: 46)
        var acc = (0..<(3 * 37)).map { _ in Int32.random(in: -2_000_000...2_000_000, using: &random) }
        for i in 37..<74 { acc[i] = -abs(acc[i]) - 1 }
        let rowScales: [Float] = [0.5, 0.013, 3]
        let columnScales = random.floats(37, in: 0.001...0.1)
        var results: [([Int8], [Float], [Int32])] = []
        for isa in [INPARS_ISA_GENERIC, INPARS_ISA_AVX512] {
            var q = [Int8](repeating: 99, count: acc.count)
            var scales = [Float](repeating: -1, count: 3)
            var zeros = [Int32](repeating: 99, count: 3)
            inpars_rescale_relu_quantize_isa(acc, 3, 37, rowScales, columnScales, &q, &scales, &zeros, isa)
            results.append((q, scales, zeros))
        }
        #expect(results[0].0 == results[1].0 && results[0].2 == results[1].2)
        #expect(results[0].1.map(\.bitPattern) == results[1].1.map(\.bitPattern))
        let (q, scales, zeros) = results[0]
        for row in 0..<3 {
            let values = (0..<37).map { max(0, Float(acc[row * 37 + $0]) * columnScales[$0]) }
            let expected = Self.expectedCodes(values)
            #expect(scales[row] == values.max()! * rowScales[row] / 255)
            #expect(zeros[row] == -128 && Array(q[(row * 37)..<(row * 37 + 37)]) == expected.q, "row \(row)")
        }
        #expect(q[0..<37].max()! == 127)
        #expect(q[37..<74].allSatisfy { $0 == -128 } && scales[1] == 0)
    }

    /// oneDNN's s8 × s8 sums to the sums of `(q − zero) · w`.
    @Test func subtractingZeroPoints() {
        var acc: [Int32] = [10, 20, 30, -5, 0, 7]
        inpars_int8_subtract_zeros(&acc, 2, 3, [2, -128], [1, -3, 100])
        #expect(acc == [8, 26, -170, 123, -384, 12807])
    }
}

/// The GELU kernel gives the bits of the Swift ``Activation/gelu8(_:)`` on every path.
@Suite struct GELUKernelTests {
    @Test func everyPathMatchesTheSwiftGELU() {
        var random = TestRandom(seed: 45)
        let x = random.floats(16 * 9 + 5, in: -9...9) + [0, -0.0, 1e-30, -1e-30, 40, -40]
        let expected = x.map { Activation.gelu8(SIMD8(repeating: $0))[0] }
        for isa in [INPARS_ISA_GENERIC, inpars_kernels_isa()] {
            var values = x
            inpars_gelu_isa(&values, values.count, isa)
            #expect(values.map(\.bitPattern) == expected.map(\.bitPattern), "\(isa)")
        }
        // And it is GELU: 0.5·x·(1 + erf(x/√2)) within A&S 7.1.26's 1.5e-7 (scaled by |x|/2).
        var values = x
        inpars_gelu(&values, values.count)
        for (v, got) in zip(x, values) {
            let exact = 0.5 * Double(v) * (1 + Foundation.erf(Double(v) / 2.0.squareRoot()))
            #expect(abs(Double(got) - exact) <= 2e-7 * max(1, abs(Double(v))), "\(v)")
        }
    }
}

/// The SwiGLU gate kernel: silu(g)·l against a double-precision reference, the same bits on
/// every path, and no overflow for large |g|.
@Suite struct GatedSiLUKernelTests {
    @Test func matchesSiLUTimesLinearOnEveryPath() {
        var random = TestRandom(seed: 46)
        let gate = random.floats(16 * 5 + 3, in: -12...12) + [0, -0.0, 95, -95, 200, -200, 1e-30]
        let linear = random.floats(gate.count, in: -2...2)
        var outputs: [[Float]] = []
        for isa in [INPARS_ISA_GENERIC, inpars_kernels_isa()] {
            var out = [Float](repeating: .nan, count: gate.count)
            inpars_gated_silu_isa(gate, linear, &out, gate.count, isa)
            outputs.append(out)
        }
        #expect(outputs[1].map(\.bitPattern) == outputs[0].map(\.bitPattern))
        for (i, got) in outputs[0].enumerated() {
            let g = Double(gate[i])
            let exact = g / (1 + Foundation.exp(-g)) * Double(linear[i])
            // exp to ≈ 1e-7 relative plus a few roundings; below −87 the gate is ≈ 0.
            #expect(got.isFinite && abs(Double(got) - exact) <= 1e-6 * abs(exact) + 1e-30, "\(gate[i])")
        }
    }
}

/// The fused attention kernel against a double-precision attention written out here, on the
/// generic and AVX-512 paths: two batch entries of 2 query heads sharing 1 key/value head
/// (d 16; 70 keys, more than one 64-key block), a relative bias, the second entry padded to
/// 5 keys, causality with an offset; and an entry with no real key gives zeros.
@Suite struct FusedAttentionKernelTests {
    static let (heads, d, queries, keys) = (2, 16, 6, 70)

    /// `out[b, i, h·d + c]` in double precision, from `[b, keys, d]` keys and values.
    static func reference(
        q: [Float], k: [Float], v: [Float], bias: [Float], biasWidth: Int, visible: [Int],
        causalOffset: Int, scale: Double
    ) -> [Double] {
        var out = [Double](repeating: 0, count: visible.count * queries * heads * d)
        for b in visible.indices {
            for i in 0..<queries {
                let seen = min(visible[b], causalOffset + i + 1)
                for h in 0..<heads {
                    let qRow = (b * queries + i) * heads * d + h * d
                    var scores = (0..<seen).map { j -> Double in
                        let kRow = (b * keys + j) * d
                        let dot = (0..<d).reduce(0.0) { $0 + Double(q[qRow + $1]) * Double(k[kRow + $1]) }
                        return dot * scale + Double(bias[h * biasWidth + (queries - 1 - i) + j])
                    }
                    let top = scores.max()!
                    scores = scores.map { Foundation.exp($0 - top) }
                    let sum = scores.reduce(0, +)
                    for c in 0..<d {
                        out[qRow + c] = (0..<seen).reduce(0.0) {
                            $0 + scores[$1] / sum * Double(v[(b * keys + $1) * d + c])
                        }
                    }
                }
            }
        }
        return out
    }

    @Test func matchesDoublePrecisionAttentionOnEveryPath() {
        var random = TestRandom(seed: 47)
        let q = random.floats(2 * Self.queries * Self.heads * Self.d, in: -1...1)
        let k = random.floats(2 * Self.keys * Self.d, in: -1...1)
        let v = random.floats(2 * Self.keys * Self.d, in: -1...1)
        let biasWidth = Self.queries + Self.keys - 1
        let bias = random.floats(Self.heads * biasWidth, in: -2...2)
        let visible: [Int64] = [70, 5]
        let causalOffset = 60
        let expected = Self.reference(
            q: q, k: k, v: v, bias: bias, biasWidth: biasWidth, visible: visible.map { Int($0) },
            causalOffset: causalOffset, scale: 0.25)
        for isa in [INPARS_ISA_GENERIC, inpars_kernels_isa()] {
            var out = [Float](repeating: .nan, count: expected.count)
            visible.withUnsafeBufferPointer { pv in
                bias.withUnsafeBufferPointer { pb in
                    var call = inpars_attention(
                        batch: 2, num_heads: Self.heads, num_kv_heads: 1, head_dim: Self.d,
                        query_length: Self.queries, key_length: Self.keys,
                        queries: inpars_head_layout(
                            row_stride: Self.heads * Self.d,
                            batch_stride: Self.queries * Self.heads * Self.d, offset: 0),
                        keys: inpars_head_layout(row_stride: Self.d, batch_stride: Self.keys * Self.d, offset: 0),
                        values: inpars_head_layout(row_stride: Self.d, batch_stride: Self.keys * Self.d, offset: 0),
                        output: inpars_head_layout(
                            row_stride: Self.heads * Self.d,
                            batch_stride: Self.queries * Self.heads * Self.d, offset: 0),
                        visible_keys: pv.baseAddress!, causal: 1, causal_offset: Int64(causalOffset),
                        scale: 0.25, bias: pb.baseAddress!, bias_width: biasWidth, shared_keys: nil,
                        shared_values: nil, shared: inpars_head_layout(), shared_lengths: nil, packed_keys: nil,
                        packed_unit_stride: 0, shared_packed_keys: nil, shared_packed_unit_stride: 0)
                    // Two workers' shares, one after the other: together every unit.
                    inpars_attention_forward_isa(&call, q, k, v, &out, 0, 2, isa)
                    inpars_attention_forward_isa(&call, q, k, v, &out, 1, 2, isa)
                }
            }
            for (index, (got, want)) in zip(out, expected).enumerated() {
                // Float products and sums over ≤ 70 keys of values ≤ 1: a few 1e-7.
                #expect(abs(Double(got) - want) <= 2e-6, "\(isa) element \(index): \(got) vs \(want)")
            }
        }
    }

    @Test func anEntryWithNoRealKeyGivesZeros() {
        let visible: [Int64] = [0]
        let q = [Float](repeating: 1, count: 2 * 16)
        let kv = [Float](repeating: 1, count: 3 * 16)
        for isa in [INPARS_ISA_GENERIC, inpars_kernels_isa()] {
            var out = [Float](repeating: .nan, count: q.count)
            visible.withUnsafeBufferPointer { pv in
                let layout = inpars_head_layout(row_stride: 16, batch_stride: 48, offset: 0)
                var call = inpars_attention(
                    batch: 1, num_heads: 1, num_kv_heads: 1, head_dim: 16, query_length: 2,
                    key_length: 3, queries: inpars_head_layout(row_stride: 16, batch_stride: 32, offset: 0),
                    keys: layout, values: layout,
                    output: inpars_head_layout(row_stride: 16, batch_stride: 32, offset: 0),
                    visible_keys: pv.baseAddress!, causal: 0, causal_offset: 0, scale: 1,
                    bias: nil, bias_width: 0, shared_keys: nil, shared_values: nil,
                    shared: inpars_head_layout(), shared_lengths: nil, packed_keys: nil,
                        packed_unit_stride: 0, shared_packed_keys: nil, shared_packed_unit_stride: 0)
                inpars_attention_forward_isa(&call, q, kv, kv, &out, 0, 1, isa)
            }
            #expect(out == [Float](repeating: 0, count: q.count), "\(isa)")
        }
    }
}
