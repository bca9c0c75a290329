import Foundation
import Synchronization

/// Opt-in accounting by named section (for benchmarks): where a decoding step's time goes,
/// product shape by product shape, as wall time and as the process's CPU time (all its
/// threads; on a shared machine a steadier measure of the work than wall time). Off by
/// default; when off, a section pays one relaxed atomic load.
public enum StepProfile {
    static let enabledFlag = Atomic<Bool>(false)
    static let table = Mutex<[String: Section]>([:])

    public struct Section: Sendable {
        public var seconds = 0.0
        public var cpuSeconds = 0.0
        public var calls = 0
    }

    public static var isEnabled: Bool {
        get { enabledFlag.load(ordering: .relaxed) }
        set { enabledFlag.store(newValue, ordering: .relaxed) }
    }

    public static func reset() { table.withLock { $0 = [:] } }

    /// The sections since the last ``reset()``.
    public static var totals: [String: Section] { table.withLock { $0 } }

    static func cpuNow() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Runs `body`, adding its wall time to `name` when enabled.
    @inline(__always)
    public static func measure<T>(_ name: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let cpuStart = cpuNow()
        let value = try body()
        let cpu = cpuNow() - cpuStart
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let key = name()
        table.withLock { t in
            t[key, default: Section()].seconds += seconds
            t[key, default: Section()].cpuSeconds += cpu
            t[key, default: Section()].calls += 1
        }
        return value
    }
}
