import Foundation
import Synchronization

extension BLAS {
    /// Opt-in accounting of the time spent inside `cblas_sgemm` (for benchmarks: "GEMM vs the
    /// rest"). Off by default; when off, each GEMM pays one relaxed atomic load.
    public enum Profile {
        static let enabledFlag = Atomic<Bool>(false)
        static let nanoseconds = Atomic<UInt64>(0)
        static let flops = Atomic<UInt64>(0)
        static let calls = Atomic<UInt64>(0)

        /// Turns accounting on or off.
        public static var isEnabled: Bool {
            get { enabledFlag.load(ordering: .relaxed) }
            set { enabledFlag.store(newValue, ordering: .relaxed) }
        }

        /// Zeroes the counters.
        public static func reset() {
            nanoseconds.store(0, ordering: .relaxed)
            flops.store(0, ordering: .relaxed)
            calls.store(0, ordering: .relaxed)
        }

        /// Totals since the last ``reset()``: seconds inside sgemm, floating-point operations
        /// (`2·m·n·k` per call) and the number of calls.
        public static var totals: (seconds: Double, flops: Double, calls: Int) {
            (
                Double(nanoseconds.load(ordering: .relaxed)) / 1e9,
                Double(flops.load(ordering: .relaxed)),
                Int(calls.load(ordering: .relaxed))
            )
        }

        @usableFromInline
        static func record(start: UInt64, m: Int, n: Int, k: Int) {
            let end = DispatchTime.now().uptimeNanoseconds
            nanoseconds.add(end &- start, ordering: .relaxed)
            flops.add(UInt64(2 * m * n * k), ordering: .relaxed)
            calls.add(1, ordering: .relaxed)
        }
    }
}
