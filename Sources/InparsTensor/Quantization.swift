internal import CKernels
import Dispatch

/// The element-wise kernels around the oneDNN products: bf16 rounding, symmetric per-row int8
/// quantization (weights), asymmetric per-row int8 quantization (activations) and the int32 →
/// fp32 rescale. SIMD over 16 lanes with a scalar tail.
enum Quantization {
    /// Rounds fp32 to bf16 (round to nearest, ties to even), as PyTorch's `.to(torch.bfloat16)`
    /// does for finite values.
    static func roundToBFloat16(
        _ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<UInt16>
    ) {
        var i = 0
        while i + 16 <= count {
            let bits = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<UInt32>.self)
            let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
            UnsafeMutableRawPointer(out + i).storeBytes(
                of: SIMD16<UInt16>(truncatingIfNeeded: rounded), as: SIMD16<UInt16>.self)
            i += 16
        }
        while i < count {
            let bits = x[i].bitPattern
            out[i] = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
            i += 1
        }
    }

    /// What rounding to bf16 leaves out of each value: `r = x − bf16(x)`, exact in fp32 (the
    /// two share sign and exponent, or `bf16(x)` is the next power of two), |r| ≤ 2⁻⁹ |x|; a
    /// second bf16 product on `r` gives the activations about 16 significant bits
    /// (``PackedLinearWeight/refinesActivations``).
    ///
    /// - Parameters:
    ///   - x: `count` values; residuals: `count` values.
    static func bfloat16Residuals(
        _ x: UnsafePointer<Float>, count: Int, into residuals: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count {
            let bits = x[i].bitPattern
            let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
            residuals[i] = x[i] - Float(bitPattern: rounded)
        }
    }

    /// The value a bf16 bit pattern stands for.
    static func float(bfloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Quantizes each row of a `[rows, columns]` matrix to int8 with its own symmetric scale
    /// `max|row| / levels` (`q = round(x / scale)`, ties to even; an all-zero row gets scale 0
    /// and zeros). Finite inputs.
    ///
    /// Runs in C (`inpars_quantize_rows`, AVX-512 where the CPU has it): the maximum is taken
    /// over bit patterns with the sign cleared and the rounding adds 1.5 · 2²³, both exact, so
    /// every instruction set gives the same integers.
    ///
    /// - Parameter levels: 127, or 63 for weights on CPUs without VNNI (see
    ///   ``DNNLInfo/int8WeightLevels``).
    static func quantizeRows(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, into q: UnsafeMutablePointer<Int8>,
        scales: UnsafeMutablePointer<Float>, levels: Float = 127
    ) {
        RowSplit.run(rows, columns: columns) { start, count in
            inpars_quantize_rows(x + start * columns, count, columns, q + start * columns, scales + start, levels)
        }
    }

    /// Quantizes each activation row to 256 asymmetric codes (`inpars_quantize_activations`):
    /// `x ≈ scales[r] · (q − zeros[r])` over the row's range widened to hold 0, so a one-sided
    /// row (ReLU outputs) keeps all 256 codes where a symmetric scale would use 128. Exact
    /// operations (min/max, a multiply-add, rounding by 1.5 · 2²³), so every instruction set
    /// gives the same codes.
    ///
    /// - Parameters:
    ///   - x: `[rows, columns]`; q: `[rows, columns]`; scales, zeros: `[rows]`.
    static func quantizeActivations(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, into q: UnsafeMutablePointer<Int8>,
        scales: UnsafeMutablePointer<Float>, zeros: UnsafeMutablePointer<Int32>
    ) {
        RowSplit.run(rows, columns: columns) { start, count in
            inpars_quantize_activations(
                x + start * columns, count, columns, q + start * columns, scales + start, zeros + start)
        }
    }

    /// What the activation quantization leaves out of each row: `r = x − scale · (q − zero)`
    /// with `q`, `scale`, `zero` from ``quantizeActivations(_:rows:columns:into:scales:zeros:)``
    /// (|r| ≤ scale / 2 but where the clamp bites), for a second int8 product on the same
    /// weights (``PackedLinearWeight/refinesActivations``).
    ///
    /// - Parameters:
    ///   - x: `[rows, columns]`; residuals: `[rows, columns]`.
    static func activationResiduals(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, into residuals: UnsafeMutablePointer<Float>
    ) {
        let codes = UnsafeMutablePointer<Int8>.allocate(capacity: rows * columns)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        let zeros = UnsafeMutablePointer<Int32>.allocate(capacity: rows)
        defer {
            codes.deallocate()
            scales.deallocate()
            zeros.deallocate()
        }
        inpars_quantize_activations(x, rows, columns, codes, scales, zeros)
        for r in 0..<rows {
            let (scale, zero) = (scales[r], Float(zeros[r]))
            for c in 0..<columns {
                let i = r * columns + c
                residuals[i] = x[i] - scale * (Float(codes[i]) - zero)
            }
        }
    }

    /// `out[m, n] (+)= Float(acc[m, n]) · (columnScales[n] · rowScales[m])`: an int8 product's
    /// s32 accumulators back to fp32 (activation scale per row, weight scale per column).
    /// Runs in C (`inpars_rescale`); element-wise, so the same bits on every instruction set.
    /// These kernels split their rows over ``BLAS/threads`` threads
    /// (``RowSplit``); rows are independent, so the result does not change.
    static func rescale(
        _ acc: UnsafePointer<Int32>, rows: Int, columns: Int, rowScales: UnsafePointer<Float>,
        columnScales: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        RowSplit.run(rows, columns: columns) { start, count in
            inpars_rescale(
                acc + start * columns, count, columns, rowScales + start, columnScales,
                out + start * columns, accumulate ? 1 : 0)
        }
    }

    /// RMS norm and int8 quantization of each row in one pass (`inpars_rms_quantize_rows`):
    /// the asymmetric int8 rows, scales and zero points
    /// (``quantizeActivations(_:rows:columns:into:scales:zeros:)``) of `rmsNorm(x) = x /
    /// √(mean(x²) + ε) · weight`, without the normalised fp32 rows.
    ///
    /// - Parameters:
    ///   - x: `[rows, columns]`.
    ///   - weight: `[columns]`, the norm's weight.
    static func rmsQuantizeRows(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, weight: UnsafePointer<Float>,
        epsilon: Float, into q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>,
        zeros: UnsafeMutablePointer<Int32>
    ) {
        RowSplit.run(rows, columns: columns) { start, count in
            inpars_rms_quantize_rows(
                x + start * columns, count, columns, weight, epsilon, q + start * columns,
                scales + start, zeros + start)
        }
    }

    /// An int8 product's s32 rows (zero points taken off) through ReLU into int8 rows, scales
    /// and zero points for the next product, in one pass (`inpars_rescale_relu_quantize`): the
    /// rows of `relu(Float(acc) · columnScales · rowScales)`, quantized per row on all 256
    /// codes (zero point −128), without the fp32 rows.
    static func rescaleReLUQuantize(
        _ acc: UnsafePointer<Int32>, rows: Int, columns: Int, rowScales: UnsafePointer<Float>,
        columnScales: UnsafePointer<Float>, into q: UnsafeMutablePointer<Int8>,
        scales: UnsafeMutablePointer<Float>, zeros: UnsafeMutablePointer<Int32>
    ) {
        RowSplit.run(rows, columns: columns) { start, count in
            inpars_rescale_relu_quantize(
                acc + start * columns, count, columns, rowScales + start, columnScales,
                q + start * columns, scales + start, zeros + start)
        }
    }
}

