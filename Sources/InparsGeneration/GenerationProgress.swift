import Foundation
import InparsCore

/// Progress of a `generate` run on a ``ProgressSink``: generations done, rate, ETA, retries,
/// skips and failures.
///
/// On a terminal a transient line at most every 0.5 s; otherwise one line per 10% of the
/// work. Used from the run's single consumer task only.
final class GenerationProgress {
    private let sink: ProgressSink
    private let total: Int
    private let interactive: Bool
    private let clock: () -> Double
    private let start: Double
    private var lastEmit: Double
    private var nextMilestone = 1

    private(set) var written = 0
    private(set) var skipped = 0
    private(set) var failed = 0
    private(set) var retries = 0

    init(
        total: Int, sink: ProgressSink,
        clock: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime }
    ) {
        self.sink = sink
        self.total = total
        self.interactive = (sink as? StandardErrorProgressSink)?.isTerminal ?? false
        self.clock = clock
        start = clock()
        lastEmit = start
    }

    var finished: Int { written + skipped + failed }
    var elapsed: Double { clock() - start }

    func record(written: Int = 0, skipped: Int = 0, failed: Int = 0, retries: Int = 0) {
        self.written += written
        self.skipped += skipped
        self.failed += failed
        self.retries += retries
        let now = clock()
        if interactive {
            if now - lastEmit >= 0.5 {
                lastEmit = now
                sink.emit(line(now: now), transient: true)
            }
        } else if total > 0 {
            let milestone = finished * 10 / total
            if milestone >= nextMilestone && finished < total {
                nextMilestone = milestone + 1
                sink.emit(line(now: now), transient: false)
            }
        }
    }

    func message(_ text: String) { sink.emit(text, transient: false) }

    func finish() { sink.emit(line(now: clock()), transient: false) }

    func line(now: Double) -> String {
        let seconds = now - start
        let rate = seconds > 0 ? Double(finished) / seconds : 0
        var text = "generate: \(finished)/\(total)"
        if total > 0 { text += " (\(finished * 100 / total)%)" }
        text += ", " + String(format: "%.1f", rate) + "/s"
        if finished < total && rate > 0 {
            text += ", ETA " + Self.duration(Double(total - finished) / rate)
        } else {
            text += ", " + String(format: "%.1f", seconds) + " s"
        }
        text += ", retries \(retries), skipped \(skipped), failed \(failed)"
        return text
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h" + String(format: "%02d", (s % 3600) / 60) + "m" }
        if s >= 60 { return "\(s / 60)m" + String(format: "%02d", s % 60) + "s" }
        return "\(s)s"
    }
}
