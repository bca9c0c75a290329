internal import CDNNL
internal import CKernels
import Foundation

/// Where a packed fp32 weight's panels are for our few-row product (`inpars_f32_gemm`,
/// `Sources/CKernels/f32gemm.c`): oneDNN's own `BA16a64b` memory, read in place.
struct F32Panels: @unchecked Sendable {
    // Invariant: `base` points into the owning PackedLinearWeight's oneDNN memory, which
    // outlives this value (both are let properties of that weight) and is never written.
    let base: UnsafePointer<Float>
    /// Floats from one 64-column panel to the next.
    let panelStride: Int
    let panelCount: Int

    /// Products of at most this many rows run on the panels (a decoding step's batch, up to
    /// ``INPARS_F32_MAX_ROWS``); more rows go to oneDNN, whose brgemm is at its best from a few
    /// hundred rows on. Measured with weights read from memory (`inpars-bench linear --cold`),
    /// this kernel beats oneDNN's matmul on every Qwen2.5-0.5B shape at 32 and 64 rows
    /// (Docs/performance.md, session 7).
    static let maxRows = Int(INPARS_F32_MAX_ROWS)

    /// Whether products use this kernel: the CPU runs its AVX-512 path and `INPARS_F32_GEMM` is
    /// not `onednn` (which keeps oneDNN's matmul for every row count, to compare the two in one
    /// binary).
    static let isAvailable =
        inpars_f32_gemm_has_avx512() != 0
        && ProcessInfo.processInfo.environment["INPARS_F32_GEMM"] != "onednn"

    static let panelColumns = Int(INPARS_F32_PANEL_COLUMNS)

    /// The panels of `layout` at `base` if its layout is `BA16a64b` as this kernel reads it:
    /// depth `k` of a panel at `k · 64` (blocks of 16 depths one after the other), column `c`
    /// at `(c / 64) · panelStride + c % 64`; nil for any other layout.
    init?(_ layout: dnnl_memory_desc_t, base: UnsafePointer<Float>, inFeatures k: Int, outFeatures n: Int) {
        guard layout.format_kind == dnnl_blocked else { return nil }
        let c = Self.panelColumns
        let depths = PackedLinearWeight.offsets(layout, dimension: 0, indices: 0..<k)
        guard depths.enumerated().allSatisfy({ $0.element == $0.offset * c }) else { return nil }
        let columns = PackedLinearWeight.offsets(layout, dimension: 1, indices: 0..<n)
        let stride = n > c ? columns[c] : 0
        guard columns.enumerated().allSatisfy({ $0.element == $0.offset / c * stride + $0.offset % c })
        else { return nil }
        self.base = base
        panelStride = stride
        panelCount = (n + c - 1) / c
    }

    /// `out (+)= x · Wᵀ` for `rows` rows, the panels split over ``BLAS/threads`` threads
    /// (one when the product is small) that claim pieces of them in turn, so a thread slowed
    /// by another process on its core takes fewer.
    ///
    /// - Parameters:
    ///   - x: `[rows, k]`; out: `[rows, n]`.
    func multiply(
        _ x: UnsafePointer<Float>, rows: Int, inFeatures k: Int, outFeatures n: Int,
        into out: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let threads = rows * k * n < PackedLinearWeight.parallelMultiplyAdds ? 1 : BLAS.threads
        let workers = min(threads, panelCount)
        // About 8 pieces a thread, at least 2 panels each (the prefetch runs within a piece).
        let piece = max(2, panelCount / (8 * workers))
        Int8Split.claimingRows(panelCount, piece: piece, workers: workers) { _, mine in
            inpars_f32_gemm(
                x, k, rows, k, base, panelStride, n, mine.lowerBound, mine.upperBound, out, n,
                accumulate ? 1 : 0)
        }
    }
}
