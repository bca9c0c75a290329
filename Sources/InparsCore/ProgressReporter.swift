import Foundation

/// Receives progress lines. Library code reports progress only through a sink, so tests can
/// capture it and libraries never print.
public protocol ProgressSink: Sendable {
    /// Shows `line`. `transient` lines may be overwritten by the next one (TTY `\r` updates).
    func emit(_ line: String, transient: Bool)
}

/// Writes progress to standard error: transient lines with `\r` on a terminal.
public struct StandardErrorProgressSink: ProgressSink {
    /// Whether standard error is a terminal.
    public let isTerminal: Bool

    public init() { isTerminal = isatty(2) != 0 }

    public func emit(_ line: String, transient: Bool) {
        let text: String
        if isTerminal {
            text = transient ? "\r\u{1B}[K" + line : "\r\u{1B}[K" + line + "\n"
        } else {
            text = line + "\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// A sink that stores lines, for tests.
public final class CollectingProgressSink: ProgressSink, @unchecked Sendable {
    // Invariant: `storage` is only touched with `lock` held.
    private let lock = NSLock()
    private var storage: [String] = []

    public init() {}

    public func emit(_ line: String, transient: Bool) {
        lock.lock()
        storage.append(line)
        lock.unlock()
    }

    /// The lines emitted so far.
    public var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}

/// Counts work items (or bytes) and reports count, rate per second and ETA.
///
/// Policy: on a terminal (``StandardErrorProgressSink/isTerminal``), a transient line at most
/// every 0.5 s; otherwise (logs, pipes) one line at each 10% milestone when the total is known,
/// or every 10 s when it is not. ``finish()`` always emits a final line. Thread-safe.
public final class ProgressReporter: @unchecked Sendable {
    /// What is counted: plain items (`1200/5000`, `310/s`) or bytes (`1.2 MiB/4.0 MiB`,
    /// `850.0 KiB/s`).
    public enum Unit: Sendable {
        case items
        case bytes

        func format(_ value: Double) -> String {
            switch self {
            case .items: return String(Int(value.rounded()))
            case .bytes: return formatBytes(value)
            }
        }
    }

    // Invariant: all mutable state is touched only with `lock` held.
    private let lock = NSLock()
    private let label: String
    private let unit: Unit
    private let total: Int?
    private let sink: ProgressSink
    private let interactive: Bool
    private let start: Double
    private var count = 0
    private let initial: Int
    private var lastEmit: Double
    private var nextMilestone = 1
    private var finished = false
    private let clock: @Sendable () -> Double

    /// - Parameters:
    ///   - label: what is counted, e.g. "documents indexed".
    ///   - total: the expected count, for percentages and ETA.
    ///   - interactive: rate-limited transient updates; defaults to the sink being a terminal.
    ///   - unit: items or bytes (formatting only).
    ///   - initial: work already done before this reporter started (a resumed download); it
    ///     counts toward the total but not toward the rate.
    ///   - clock: seconds since an arbitrary origin (injectable for tests).
    public init(
        label: String, total: Int? = nil, sink: ProgressSink = StandardErrorProgressSink(),
        interactive: Bool? = nil, unit: Unit = .items, initial: Int = 0,
        clock: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }
    ) {
        self.label = label
        self.unit = unit
        self.count = initial
        self.initial = initial
        self.total = total
        self.sink = sink
        self.interactive =
            interactive ?? ((sink as? StandardErrorProgressSink)?.isTerminal ?? false)
        self.clock = clock
        start = clock()
        lastEmit = start
    }

    /// Adds `n` finished items and maybe reports.
    public func advance(by n: Int = 1) {
        lock.lock()
        defer { lock.unlock() }
        count += n
        let now = clock()
        if interactive {
            if now - lastEmit >= 0.5 {
                lastEmit = now
                sink.emit(describe(now: now), transient: true)
            }
        } else if let total, total > 0 {
            let milestone = count * 10 / total
            if milestone >= nextMilestone && count < total {
                nextMilestone = milestone + 1
                lastEmit = now
                sink.emit(describe(now: now), transient: false)
            }
        } else if now - lastEmit >= 10 {
            lastEmit = now
            sink.emit(describe(now: now), transient: false)
        }
    }

    /// Emits the final line (count, elapsed time, rate). Later calls do nothing.
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        let elapsed = clock() - start
        let rate = elapsed > 0 ? Double(count - initial) / elapsed : 0
        sink.emit(
            "\(label): \(unit.format(Double(count))) in \(formatFixed(elapsed, decimals: 1)) s"
                + " (\(unit.format(rate))/s)", transient: false)
    }

    private func describe(now: Double) -> String {
        let elapsed = now - start
        let rate = elapsed > 0 ? Double(count - initial) / elapsed : 0
        var line = "\(label): \(unit.format(Double(count)))"
        if let total, total > 0 {
            line += "/\(unit.format(Double(total))) (\(count * 100 / total)%)"
        }
        line += ", \(unit.format(rate))/s"
        if let total, rate > 0, count < total {
            let eta = Double(total - count) / rate
            line += ", ETA \(formatDuration(eta))"
        }
        return line
    }
}

/// `512 B`, `1.5 KiB`, `12.3 MiB`, `4.00 GiB` (binary units, three significant digits).
public func formatBytes(_ bytes: Double) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = bytes
    var index = 0
    while value >= 1024 && index < units.count - 1 {
        value /= 1024
        index += 1
    }
    if index == 0 { return "\(Int(value.rounded())) B" }
    let decimals = value >= 100 ? 0 : (value >= 10 ? 1 : 2)
    return formatFixed(value, decimals: decimals) + " " + units[index]
}

/// `1h02m`, `3m05s` or `12s`.
func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
    if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
    return "\(s)s"
}
