internal import CBLAS
internal import CKernels
import Foundation

/// The one door to OpenBLAS: single-precision GEMM (and GEMV for one-row products) and the
/// library's thread settings.
///
/// Every matrix product in inpars goes through ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``.
/// Transposes are passed as flags, never materialised.
public enum BLAS {
    /// `C = alpha * op(A) * op(B) + beta * C`, row-major.
    ///
    /// - Parameters:
    ///   - transposeA: `op(A) = Aᵀ` when true; `A` is then stored `[k, m]`, else `[m, k]`.
    ///   - transposeB: `op(B) = Bᵀ` when true; `B` is then stored `[n, k]`, else `[k, n]`.
    ///   - m, n, k: `op(A)` is `[m, k]`, `op(B)` is `[k, n]`, `C` is `[m, n]`.
    ///   - lda, ldb, ldc: leading dimensions (row strides) of the stored matrices, in elements.
    @inlinable
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        rawSgemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    @usableFromInline
    static func rawSgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        let limit = Int(Int32.max)
        precondition(
            m <= limit && n <= limit && k <= limit && lda <= limit && ldb <= limit && ldc <= limit,
            "GEMM dimensions exceed OpenBLAS's 32-bit blasint")
        if k == 0 {
            // OpenBLAS leaves C untouched for k = 0; the product is zero, so C = beta * C.
            for row in 0..<m {
                for column in 0..<n { c[row * ldc + column] *= beta }
            }
            return
        }
        let profiling = Profile.isEnabled
        let start = profiling ? DispatchTime.now().uptimeNanoseconds : 0
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha, a,
            Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        if profiling { Profile.record(start: start, m: m, n: n, k: k) }
    }

    /// `y = alpha · op(A) · x + beta · y`, row-major, for one-row products (a decoder step's
    /// attention over its cache), where `cblas_sgemm`'s packing costs more than the arithmetic.
    ///
    /// - Parameters:
    ///   - transposeA: `op(A) = Aᵀ` when true.
    ///   - rows, columns: `A` is stored `[rows, columns]` with row stride `lda`.
    ///   - x: `columns` elements (`rows` when transposed), contiguous.
    ///   - y: `rows` elements (`columns` when transposed), contiguous.
    @inlinable
    public static func sgemv(
        transposeA: Bool, rows: Int, columns: Int, alpha: Float = 1, a: UnsafePointer<Float>,
        lda: Int, x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        rawSgemv(
            transposeA: transposeA, rows: rows, columns: columns, alpha: alpha, a: a, lda: lda,
            x: x, beta: beta, y: y)
    }

    @usableFromInline
    static func rawSgemv(
        transposeA: Bool, rows: Int, columns: Int, alpha: Float, a: UnsafePointer<Float>,
        lda: Int, x: UnsafePointer<Float>, beta: Float, y: UnsafeMutablePointer<Float>
    ) {
        let outputs = transposeA ? columns : rows
        if outputs == 0 { return }
        if (transposeA ? rows : columns) == 0 {
            for i in 0..<outputs { y[i] *= beta }
            return
        }
        let limit = Int(Int32.max)
        precondition(
            rows <= limit && columns <= limit && lda <= limit,
            "GEMV dimensions exceed OpenBLAS's 32-bit blasint")
        cblas_sgemv(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, Int32(rows), Int32(columns),
            alpha, a, Int32(lda), x, 1, beta, y, 1)
    }

    /// The number of threads OpenBLAS uses for one GEMM (set from `--threads`).
    ///
    /// OpenBLAS's setting is process-wide. Inside ``withSingleThreadedGEMM(_:)`` OpenBLAS runs
    /// single-threaded, but this property keeps answering the configured count, and setting
    /// it then takes effect when the last such scope ends.
    public static var threads: Int {
        get { threadState.withLock { $0.configured } }
        set {
            threadState.withLock { state in
                // 1…1024 (`Limits.threads`): OpenBLAS takes an Int32 and caps it anyway.
                state.configured = min(max(1, newValue), 1024)
                if state.singleThreadedScopes == 0 {
                    openblas_set_num_threads(Int32(state.configured))
                }
            }
        }
    }

    /// Stops OpenBLAS's worker threads until a GEMM needs them (OpenBLAS starts them anew on
    /// its next threaded call). OpenBLAS starts its threads when the library loads, and each
    /// spins on `sched_yield` for about 2^28 cycles (~0.1 s) waiting for work: for a short
    /// command that multiplies no matrix (`inpars search` on SciFact) that was ~18 % of the
    /// process's CPU time. Calls `blas_thread_shutdown_` (OpenBLAS's own fork handler), looked
    /// up at run time; with an OpenBLAS that lacks it this does nothing.
    public static func parkThreads() {
        // OpenBLAS is opened on first use (Sources/CBLAS): not loaded, nothing spins.
        guard cblas_loaded() != 0, let shutdown = cblas_functions().pointee.thread_shutdown
        else { return }
        _ = shutdown()
    }

    /// The thread count OpenBLAS is using right now (1 inside ``withSingleThreadedGEMM(_:)``).
    public static var activeThreads: Int { Int(openblas_get_num_threads()) }

    /// Runs `body` with OpenBLAS single-threaded, for callers that spread independent GEMMs
    /// over their own threads (attention heads); the configured count comes back when the
    /// last overlapping scope ends, so concurrent callers cannot leave OpenBLAS at one thread.
    public static func withSingleThreadedGEMM<R>(_ body: () throws -> R) rethrows -> R {
        threadState.withLock { state in
            if state.singleThreadedScopes == 0 { openblas_set_num_threads(1) }
            state.singleThreadedScopes += 1
        }
        defer {
            threadState.withLock { state in
                state.singleThreadedScopes -= 1
                if state.singleThreadedScopes == 0 {
                    openblas_set_num_threads(Int32(state.configured))
                }
            }
        }
        return try body()
    }

    private struct ThreadState: Sendable {
        var configured: Int
        var singleThreadedScopes = 0
    }

    private static let threadState = LockedState(
        ThreadState(configured: Int(openblas_get_num_threads())))

    /// The name of the OpenBLAS kernel chosen for this CPU (e.g. `Haswell`, `SkylakeX`).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The `OPENBLAS_CORETYPE` to set when OpenBLAS chose kernels narrower than this CPU can
    /// run, or nil. An OpenBLAS older than the CPU does not recognise it and falls back to
    /// generic SSE kernels (Debian's 0.3.21 picks `Prescott` on recent Xeons: a third of the
    /// speed of its AVX-512 kernels; `Docs/performance.md`). OpenBLAS reads the variable when it
    /// is loaded, so it only takes effect in a new process.
    public static var recommendedCoreType: String? {
        recommendedCoreType(current: coreName, cpuLevel: Int(inpars_cpu_vector_level()))
    }

    /// ``recommendedCoreType`` for a kernel name and a CPU vector level (3 = AVX-512 as the
    /// SkylakeX kernels need it, 2 = AVX2 + FMA, 1 = AVX, 0 = less).
    public static func recommendedCoreType(current: String, cpuLevel: Int) -> String? {
        let levels: [String: Int] = [
            "skylakex": 3, "cooperlake": 3, "sapphirerapids": 3,
            "haswell": 2, "zen": 2,
            "sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1, "excavator": 1,
        ]
        let currentLevel = levels[current.lowercased()] ?? 0
        guard cpuLevel > currentLevel else { return nil }
        switch cpuLevel {
        case 3: return "SkylakeX"
        case 2: return "Haswell"
        case 1: return "Sandybridge"
        default: return nil
        }
    }

    /// OpenBLAS's build configuration string (version, threading, target).
    public static var configuration: String {
        guard let config = openblas_get_config() else { return "unknown" }
        return String(cString: config)
    }
}

/// A value behind a mutex (Foundation's `NSLock`), for the little process-wide state BLAS keeps.
private final class LockedState<Value: Sendable>: @unchecked Sendable {
    // Invariant: `value` is only read or written while `lock` is held.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
