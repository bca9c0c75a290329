internal import CKernels
import Dispatch

/// The element-wise kernels around the oneDNN products: bf16 rounding, symmetric per-row int8
/// quantization and the int32 → fp32 rescale. SIMD over 16 lanes with a scalar tail.
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
        splittingRows(rows, columns: columns) { start, count in
            inpars_quantize_rows(x + start * columns, count, columns, q + start * columns, scales + start, levels)
        }
    }

    /// `out[m, n] (+)= Float(acc[m, n]) · (columnScales[n] · rowScales[m])`: an int8 product's
    /// s32 accumulators back to fp32 (activation scale per row, weight scale per column).
    /// Runs in C (`inpars_rescale`); element-wise, so the same bits on every instruction set.
    /// These kernels split their rows over ``BLAS/threads`` threads
    /// (``splittingRows(_:columns:_:)``); rows are independent, so the result does not change.
    static func rescale(
        _ acc: UnsafePointer<Int32>, rows: Int, columns: Int, rowScales: UnsafePointer<Float>,
        columnScales: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        splittingRows(rows, columns: columns) { start, count in
            inpars_rescale(
                acc + start * columns, count, columns, rowScales + start, columnScales,
                out + start * columns, accumulate ? 1 : 0)
        }
    }

    /// RMS norm and int8 quantization of each row in one pass (`inpars_rms_quantize_rows`):
    /// the int8 rows and scales of `rmsNorm(x) = x / √(mean(x²) + ε) · weight`, without the
    /// normalised fp32 rows.
    ///
    /// - Parameters:
    ///   - x: `[rows, columns]`.
    ///   - weight: `[columns]`, the norm's weight.
    static func rmsQuantizeRows(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, weight: UnsafePointer<Float>,
        epsilon: Float, into q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>
    ) {
        splittingRows(rows, columns: columns) { start, count in
            inpars_rms_quantize_rows(
                x + start * columns, count, columns, weight, epsilon, q + start * columns,
                scales + start, 127)
        }
    }

    /// An int8 product's s32 rows through ReLU into int8 rows and scales for the next product,
    /// in one pass (`inpars_rescale_relu_quantize`): the rows of `relu(Float(acc) ·
    /// columnScales · rowScales)`, quantized per row, without the fp32 rows.
    static func rescaleReLUQuantize(
        _ acc: UnsafePointer<Int32>, rows: Int, columns: Int, rowScales: UnsafePointer<Float>,
        columnScales: UnsafePointer<Float>, into q: UnsafeMutablePointer<Int8>,
        scales: UnsafeMutablePointer<Float>
    ) {
        splittingRows(rows, columns: columns) { start, count in
            inpars_rescale_relu_quantize(
                acc + start * columns, count, columns, rowScales + start, columnScales,
                q + start * columns, scales + start, 127)
        }
    }
}

extension Quantization {
    /// Elements below which a row-wise kernel runs on the calling thread alone (waking a
    /// second thread costs more than it saves there: a decoding step's few rows).
    static let parallelElements = 1 << 15

    /// Runs `body(start, count)` over contiguous parts of `rows` rows, one part per thread of
    /// ``BLAS/threads`` at once, or over all rows on the calling thread when `rows · columns`
    /// is below ``parallelElements``. For the row-wise kernels around a oneDNN product, which
    /// otherwise run on one core while oneDNN's other threads wait for the next product.
    static func splittingRows(_ rows: Int, columns: Int, _ body: (_ start: Int, _ count: Int) -> Void) {
        let workers = rows * columns < parallelElements ? 1 : min(BLAS.threads, rows)
        guard workers > 1 else { return body(0, rows) }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let start = rows * worker / workers
                body(start, rows * (worker + 1) / workers - start)
            }
        }
    }
}
