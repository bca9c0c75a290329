internal import CKernels

/// Softmax of attention score rows with a vectorised `exp`, and its backward.
///
/// `expf` from libm per element dominated the non-GEMM time of attention (a 512-token
/// monoT5-base batch of 8 takes 300 M exponentials), so rows are exponentiated eight lanes at
/// a time with the Cephes `expf` scheme: `exp(x) = 2ⁿ · exp(r)`, `n = round(x / ln 2)`,
/// `r = x − n·ln 2` (split in two constants), `exp(r)` by a degree-6 polynomial; relative
/// error ≈ 1e-7, the same order as `expf`. Inputs are `x − max ≤ 0`, clamped at −87 so `2ⁿ`
/// stays a normal float (below that the true value is < 2e-38 and rounds away in the sum).
public enum Softmax {
    /// `1.5 · 2²³`: adding it rounds a float below 2²² in magnitude to an integer, which then
    /// sits in the low mantissa bits (no float→int conversion, which Swift does per lane).
    static let magic: Float = 12_582_912
    static let magicBits: Int32 = 0x4B40_0000

    @inline(__always)
    static func exp8(_ input: SIMD8<Float>) -> SIMD8<Float> {
        let x = input.replacing(with: -87, where: input .< -87)
        let t = x * 1.44269504088896341 + magic
        let n = t - magic  // round(x / ln 2), exactly
        var r = x - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p: SIMD8<Float> = SIMD8(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * (r * r) + r + 1
        let integer = unsafeBitCast(t, to: SIMD8<Int32>.self) &- magicBits
        return y * unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
    }

    @inline(__always)
    static func exp1(_ x: Float) -> Float {
        exp8(SIMD8(repeating: x))[0]
    }

    /// In place: `row[j] = exp(row[j] − max) / Σ` for `j < count`.
    ///
    /// Runs in C (`CKernels`) on the widest of AVX-512, AVX2 or plain code this CPU has; every
    /// path gives the same bits (same exp scheme, no fused multiply-add, a fixed 16-lane sum).
    public static func normalize(_ row: UnsafeMutablePointer<Float>, count: Int) {
        inpars_softmax_row(row, count)
    }

    /// The arg-max (first on ties), maximum and `log Σ exp` of one row of logits (`count` ≥ 1),
    /// in one C pass for the maximum and one for the sum: `row[j] − logNormaliser` is the
    /// log-softmax. Same exp and summation order as ``normalize(_:count:)``, same bits on
    /// every path.
    public static func rowStatistics(
        _ row: UnsafeBufferPointer<Float>
    ) -> (argmax: Int, maximum: Float, logNormaliser: Float) {
        precondition(!row.isEmpty, "statistics of an empty row")
        var argmax = 0
        var maximum: Float = 0
        var logNormaliser: Float = 0
        inpars_row_statistics(row.baseAddress!, row.count, &argmax, &maximum, &logNormaliser)
        return (argmax, maximum, logNormaliser)
    }
}

extension Softmax {
    /// Backward of ``normalize(_:count:)`` for one row, in place:
    /// `dy[j] = y[j] · (dy[j] − Σ_l y[l]·dy[l])` for `j < count`, from the saved output `y`.
    /// Entries with `y = 0` (masked keys) get zero gradient.
    public static func backward(
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
}
