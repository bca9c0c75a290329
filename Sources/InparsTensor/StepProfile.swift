import Foundation
import Synchronization

/// Opt-in wall-time accounting by named section (for benchmarks): where a decoding step's time
/// goes, product shape by product shape. Off by default; when off, a section pays one relaxed
/// atomic load.
public enum StepProfile {
    static let enabledFlag = Atomic<Bool>(false)
    static let table = Mutex<[String: (seconds: Double, calls: Int)]>([:])

    public static var isEnabled: Bool {
        get { enabledFlag.load(ordering: .relaxed) }
        set { enabledFlag.store(newValue, ordering: .relaxed) }
    }

    public static func reset() { table.withLock { $0 = [:] } }

    /// Seconds and calls per section since the last ``reset()``.
    public static var totals: [String: (seconds: Double, calls: Int)] { table.withLock { $0 } }

    /// Runs `body`, adding its wall time to `name` when enabled.
    @inline(__always)
    public static func measure<T>(_ name: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let value = try body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let key = name()
        table.withLock { t in
            let old = t[key] ?? (0, 0)
            t[key] = (old.seconds + seconds, old.calls + 1)
        }
        return value
    }
}
