internal import CKernels
import Dispatch
import Foundation
import Synchronization

/// A linear layer's int8 weights packed once for our AVX-512 VNNI product (`inpars_int8_gemm`
/// in `Sources/CKernels/int8gemm.c`), which runs the int8 products on CPUs with VNNI instead
/// of oneDNN 2.6's matmul: at T5's shapes oneDNN reaches 350–550 GOP/s on the 2 cores of the
/// development machine, this kernel 550–670 on one (Docs/performance.md, issue 13).
///
/// The weights are the same per-output-row int8 values oneDNN gets, the activations the same
/// asymmetric codes (``Quantization/quantizeActivations(_:rows:columns:into:scales:zeros:)``),
/// and the product's s32 sums are exact, so both give the same bits (tested). Immutable after
/// `init`.
final class Int8Panels: @unchecked Sendable {
    // Invariant: `panels` is written in init only and freed once, in deinit.
    let outFeatures: Int
    let inFeatures: Int
    /// `Σ_k w[n, k]` per (padded) column: the product takes `(128 + zero) ·` this off each
    /// sum (the u8 shift and the row's zero point).
    let columnSums: [Int32]
    private let panels: UnsafeMutableRawPointer
    /// Bytes held by the panels and the column sums.
    let byteCount: Int

    /// Whether the products use this kernel: the CPU has AVX-512 VNNI, oneDNN was not told to
    /// stay below it (`DNNL_MAX_CPU_ISA`, which checks the other path), so the weights' levels
    /// (``DNNLInfo/int8WeightLevels``) are 127 either way, and `INPARS_INT8_GEMM` is not
    /// `onednn` (which keeps oneDNN's matmul, to compare the two in one binary).
    static let isAvailable =
        inpars_int8_has_vnni() != 0 && DNNLInfo.hasVNNI
        && ProcessInfo.processInfo.environment["INPARS_INT8_GEMM"] != "onednn"

    /// Columns of one panel: the unit a product's columns are split by over threads.
    static let panelColumns = Int(INPARS_INT8_PANEL_COLUMNS)

    /// Packs `quantized`, `[out, in]` s8 row-major.
    init(_ quantized: [Int8], outFeatures n: Int, inFeatures k: Int) {
        precondition(quantized.count == n * k, "int8 weight is [\(n), \(k)]")
        outFeatures = n
        inFeatures = k
        let bytes = inpars_int8_packed_bytes(n, k)
        let panels = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
        var columnSums = [Int32](repeating: 0, count: (n + 15) / 16 * 16)
        quantized.withUnsafeBufferPointer { w in
            columnSums.withUnsafeMutableBufferPointer { c in
                inpars_int8_pack(w.baseAddress!, n, k, panels.assumingMemoryBound(to: Int8.self), c.baseAddress!)
            }
        }
        self.panels = panels
        self.columnSums = columnSums
        byteCount = bytes + columnSums.count * MemoryLayout<Int32>.size
    }

    deinit { panels.deallocate() }

    /// What a product writes (`INPARS_INT8_STORE`, `_ADD`, `_STORE_S32`).
    enum Output {
        /// `out = rescaled` or `out += rescaled` (f32).
        case store, add
        /// The exact s32 sums (`out` is `Int32`).
        case sums

        var mode: Int32 {
            switch self {
            case .store: Int32(INPARS_INT8_STORE)
            case .add: Int32(INPARS_INT8_ADD)
            case .sums: Int32(INPARS_INT8_STORE_S32)
            }
        }
    }

    /// `out[m, c] (+)= Float(Σ_k (q[m, k] − zeros[m]) · w[c, k]) · (columnScales[c] ·
    /// rowScales[m])` (or those s32 sums) on the calling thread, for the columns of `panels`
    /// (all by default).
    ///
    /// - Parameters:
    ///   - q: `[rows, in]` s8 activation codes; zeros: `[rows]`, each row's code of 0.0.
    ///   - rowScales: `[rows]`; columnScales: `[out]` (both unused for `.sums`).
    ///   - out: `[rows, out]`, f32 or s32.
    func multiply(
        _ q: UnsafePointer<Int8>, rows: Int, zeros: UnsafePointer<Int32>, rowScales: UnsafePointer<Float>?,
        columnScales: UnsafePointer<Float>?, into out: UnsafeMutableRawPointer, output: Output,
        panels range: Range<Int>? = nil
    ) {
        let range = range ?? 0..<panelCount
        columnSums.withUnsafeBufferPointer { c in
            inpars_int8_gemm(
                q, inFeatures, rows, inFeatures, panels.assumingMemoryBound(to: Int8.self),
                c.baseAddress!, outFeatures, range.lowerBound, range.upperBound, zeros, rowScales,
                columnScales, out, outFeatures, output.mode)
        }
    }

    /// Panels of `panelColumns` columns (the last one may be narrower).
    var panelCount: Int { (outFeatures + Self.panelColumns - 1) / Self.panelColumns }
}

/// How a product's work goes to ``BLAS/threads`` threads: by rows when there are enough of
/// them for each thread to fill its register tiles (each thread then streams every weight
/// panel, from cache), else by weight panels (a decoding step's few rows: each thread reads
/// its part of the weights once). Rows go out in pieces that the threads claim one after the
/// other, so a thread slowed by another process on its core takes fewer of them.
enum Int8Split {
    /// Rows per thread below which a product splits by panels.
    static let rowsPerThread = 24

    /// Runs `body(worker, workers)` on `workers` threads at once (or inline for one).
    static func run(_ workers: Int, _ body: (_ worker: Int, _ workers: Int) -> Void) {
        guard workers > 1 else { return body(0, 1) }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: workers) { body($0, workers) }
        }
    }

    /// Runs `body(worker, rows)` for consecutive pieces of `piece` rows of `0 ..< rows`, on
    /// `workers` threads that claim the pieces in turn (`worker` numbers the thread, for its
    /// own scratch memory).
    static func claimingRows(
        _ rows: Int, piece: Int, workers: Int, _ body: (_ worker: Int, _ rows: Range<Int>) -> Void
    ) {
        let next = Atomic<Int>(0)
        run(workers) { worker, _ in
            while true {
                let start = next.add(piece, ordering: .relaxed).oldValue
                if start >= rows { return }
                body(worker, start..<min(rows, start + piece))
            }
        }
    }

    /// Threads for a row split of `rows` rows (1 when a panel split fits better).
    static func rowWorkers(_ rows: Int) -> Int {
        min(BLAS.threads, max(1, rows / rowsPerThread))
    }

    /// Part `worker` of `count` items split into `workers` contiguous parts.
    static func part(_ worker: Int, of workers: Int, _ count: Int) -> Range<Int> {
        (count * worker / workers)..<(count * (worker + 1) / workers)
    }
}

/// The int8 products of ``PackedLinearWeight`` on ``Int8Panels``: the activations are
/// quantized and multiplied thread by thread (each thread its own rows, one dispatch per
/// call), or, for a few rows, quantized once and multiplied panel by panel over the threads.
/// The buffers are the oneDNN context's scratch memory, under its lock.
extension PackedLinearWeight {
    /// Quantizes rows `rows` of the input into `q` (`[rows.count, in]`), `scales` and `zeros`
    /// (asymmetric codes): the plain per-row quantization or the RMS-norm-folded one.
    typealias RowQuantizer = (
        _ rows: Range<Int>, _ q: UnsafeMutablePointer<Int8>, _ scales: UnsafeMutablePointer<Float>,
        _ zeros: UnsafeMutablePointer<Int32>
    ) -> Void

    /// Products below this many multiply-adds run on the calling thread alone.
    static let parallelMultiplyAdds = 1 << 20

    /// Rows a thread claims at once in a row split (16 register tiles of 6 rows).
    static let productRows = 96

    /// `out (+)= quantized(input) · Wᵀ` for `rows` rows.
    ///
    /// - Parameters:
    ///   - quantize: writes the int8 rows, scales and zero points of the input's rows.
    ///   - out: `[rows, out]`.
    func multiplyPanels(
        rows: Int, quantize: RowQuantizer, into out: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let panels = int8Panels!
        let (k, n) = (inFeatures, outFeatures)
        let output: Int8Panels.Output = accumulate ? .add : .store
        let threads = rows * k * n < Self.parallelMultiplyAdds ? 1 : BLAS.threads
        DNNL.context.withLock { locked in
            let q = locked.buffer(Scratch.source, bytes: rows * k).assumingMemoryBound(to: Int8.self)
            let scales = locked.buffer(Scratch.sourceScales, bytes: rows * 4).assumingMemoryBound(to: Float.self)
            let zeros = locked.buffer(Scratch.sourceZeros, bytes: rows * 4).assumingMemoryBound(to: Int32.self)
            rowScales.withUnsafeBufferPointer { w in
                let rowWorkers = min(threads, Int8Split.rowWorkers(rows))
                if rowWorkers > 1 || threads == 1 {
                    Int8Split.claimingRows(rows, piece: Self.productRows, workers: rowWorkers) { _, mine in
                        let start = mine.lowerBound
                        quantize(mine, q + start * k, scales + start, zeros + start)
                        panels.multiply(
                            q + start * k, rows: mine.count, zeros: zeros + start, rowScales: scales + start,
                            columnScales: w.baseAddress, into: out + start * n, output: output)
                    }
                    return
                }
                quantize(0..<rows, q, scales, zeros)
                let panelWorkers = min(threads, panels.panelCount)
                Int8Split.run(panelWorkers) { worker, workers in
                    panels.multiply(
                        q, rows: rows, zeros: zeros, rowScales: scales, columnScales: w.baseAddress, into: out,
                        output: output, panels: Int8Split.part(worker, of: workers, panels.panelCount))
                }
            }
        }
    }

    /// ``reluFeedForward(_:rows:norm:epsilon:output:)`` on ``Int8Panels``: each thread claims
    /// ``feedForwardRows`` rows at a time and takes them through norm + quantization, the first
    /// product (s32 sums), rescale + ReLU + re-quantization and the second product added into
    /// `h`, so the s32 and int8 hidden rows stay in its core's L2. Few rows run on one thread
    /// with each product split by panels.
    func reluFeedForwardPanels(
        _ h: UnsafeMutablePointer<Float>, rows: Int, norm: UnsafePointer<Float>, epsilon: Float,
        output: PackedLinearWeight
    ) {
        let (first, second) = (int8Panels!, output.int8Panels!)
        let (d, width) = (inFeatures, outFeatures)
        let step = Self.feedForwardRows
        let threads = rows * d * width < Self.parallelMultiplyAdds ? 1 : BLAS.threads
        let workers = min(threads, Int8Split.rowWorkers(rows))
        let splitPanels = workers == 1 && threads > 1
        DNNL.context.withLock { locked in
            let q = locked.buffer(Scratch.source, bytes: workers * step * d).assumingMemoryBound(to: Int8.self)
            let scales = locked.buffer(Scratch.sourceScales, bytes: workers * step * 4).assumingMemoryBound(to: Float.self)
            let sums = locked.buffer(Scratch.product, bytes: workers * step * width * 4)
            let hidden = locked.buffer(Scratch.hidden, bytes: workers * step * width).assumingMemoryBound(to: Int8.self)
            let hiddenScales = locked.buffer(Scratch.hiddenScales, bytes: workers * step * 4).assumingMemoryBound(to: Float.self)
            let zeros = locked.buffer(Scratch.sourceZeros, bytes: workers * step * 4).assumingMemoryBound(to: Int32.self)
            let hiddenZeros = locked.buffer(Scratch.hiddenZeros, bytes: workers * step * 4).assumingMemoryBound(to: Int32.self)
            rowScales.withUnsafeBufferPointer { w1 in
                output.rowScales.withUnsafeBufferPointer { w2 in
                    Int8Split.claimingRows(rows, piece: step, workers: workers) { worker, mine in
                        let (q, scales, zeros) = (q + worker * step * d, scales + worker * step, zeros + worker * step)
                        let hiddenZeros = hiddenZeros + worker * step
                        let sums = sums + worker * step * width * 4
                        let (hidden, hiddenScales) = (hidden + worker * step * width, hiddenScales + worker * step)
                        let (start, count) = (mine.lowerBound, mine.count)
                        inpars_rms_quantize_rows(h + start * d, count, d, norm, epsilon, q, scales, zeros)
                        Self.multiply(
                            first, q, rows: count, zeros: zeros, rowScales: nil, columnScales: nil,
                            into: sums, output: .sums, splitPanels: splitPanels)
                        inpars_rescale_relu_quantize(
                            sums.assumingMemoryBound(to: Int32.self), count, width, scales,
                            w1.baseAddress!, hidden, hiddenScales, hiddenZeros)
                        Self.multiply(
                            second, hidden, rows: count, zeros: hiddenZeros, rowScales: hiddenScales,
                            columnScales: w2.baseAddress, into: h + start * d, output: .add,
                            splitPanels: splitPanels)
                    }
                }
            }
        }
    }

    /// Rows a thread takes through the fused feed-forward at once: monoT5-base's s32 hidden
    /// rows are then 64 × 3072 × 4 = 768 KiB.
    static let feedForwardRows = 64

    /// `panels.multiply`, on the calling thread or split by panels over ``BLAS/threads``.
    private static func multiply(
        _ panels: Int8Panels, _ q: UnsafePointer<Int8>, rows: Int, zeros: UnsafePointer<Int32>,
        rowScales: UnsafePointer<Float>?,
        columnScales: UnsafePointer<Float>?, into out: UnsafeMutableRawPointer,
        output: Int8Panels.Output, splitPanels: Bool
    ) {
        let workers = splitPanels ? min(BLAS.threads, panels.panelCount) : 1
        Int8Split.run(workers) { worker, workers in
            panels.multiply(
                q, rows: rows, zeros: zeros, rowScales: rowScales, columnScales: columnScales, into: out,
                output: output, panels: Int8Split.part(worker, of: workers, panels.panelCount))
        }
    }
}
