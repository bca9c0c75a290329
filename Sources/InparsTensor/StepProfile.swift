import Foundation
import Synchronization

/// Opt-in accounting by named section, for benchmarks: where a forward pass or a decoding
/// step's time goes (product shapes, attention, the steps of generation), as wall time, as the
/// process's CPU time (all its threads; on a shared machine a steadier measure of the work than
/// wall time), and, where the caller counts them, useful floating-point operations. Off by
/// default; when off, a section pays one relaxed atomic load.
///
/// Sections may be measured on several threads at once (attention's workers): their seconds
/// then add up to thread-seconds, and their CPU seconds, the process's, mean little.
public enum StepProfile {
    static let enabledFlag = Atomic<Bool>(false)
    static let table = Mutex<[String: Section]>([:])

    public struct Section: Sendable {
        public var seconds = 0.0
        public var cpuSeconds = 0.0
        public var calls = 0
        /// Floating-point operations the callers reported (2 per multiply-add), 0 if none.
        public var operations = 0.0

        /// ``operations`` over ``seconds``, in GFLOP/s (0 when nothing ran).
        public var gflops: Double { seconds > 0 ? operations / seconds / 1e9 : 0 }
    }

    /// Section names measured in one module and read in another.
    public enum Name {
        /// Every attention forward call (`AttentionKernel.forward`): its wall time and useful
        /// operations (`Q·Kᵀ` and `P·V` over the visible keys).
        public static let attention = "attention"
        /// The recording attention path's sgemm/sgemv calls, summed over its workers.
        public static let attentionGEMM = "attention sgemm (summed over workers)"
    }

    public static var isEnabled: Bool {
        get { enabledFlag.load(ordering: .relaxed) }
        set { enabledFlag.store(newValue, ordering: .relaxed) }
    }

    public static func reset() { table.withLock { $0 = [:] } }

    /// The sections since the last ``reset()``.
    public static var totals: [String: Section] { table.withLock { $0 } }

    /// One section since the last ``reset()`` (zeros if it never ran).
    public static func section(_ name: String) -> Section { table.withLock { $0[name] ?? Section() } }

    static func cpuNow() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Runs `body`, adding its wall and CPU time, one call and `operations` to `name` when
    /// enabled.
    @inline(__always)
    public static func measure<T>(
        _ name: @autoclosure () -> String, operations: @autoclosure () -> Double = 0,
        _ body: () throws -> T
    ) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let cpuStart = cpuNow()
        let value = try body()
        let cpu = cpuNow() - cpuStart
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let key = name()
        let flops = operations()
        table.withLock { t in
            t[key, default: Section()].seconds += seconds
            t[key, default: Section()].cpuSeconds += cpu
            t[key, default: Section()].calls += 1
            t[key, default: Section()].operations += flops
        }
        return value
    }
}
