import Dispatch

/// Splits the rows of a row-wise kernel (norms, gates, quantization, bias adds, rotations)
/// over ``BLAS/threads`` threads. Around a oneDNN or OpenBLAS product these passes otherwise
/// run on one core while the library's other threads wait for the next product. Rows are
/// independent, so the result does not depend on the split.
public enum RowSplit {
    /// Elements below which a pass runs on the calling thread alone (waking a second thread
    /// costs more than it saves there: a decoding step's few rows).
    public static let parallelElements = 1 << 15

    /// Runs `body(start, count)` over contiguous parts of `rows` rows of `columns` elements,
    /// one part per thread at once, or over all rows on the calling thread when
    /// `rows · columns` is below ``parallelElements``.
    public static func run(
        _ rows: Int, columns: Int, _ body: (_ start: Int, _ count: Int) -> Void
    ) {
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
