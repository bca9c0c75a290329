import Foundation
import InparsCore

/// Ctrl-C (SIGINT) and SIGTERM for long commands.
///
/// The first signal prints `message` and either sets `stop` (the work saves what it has at its
/// next safe point, then the command exits 130) or, without a `stop`, exits 130 at once; a
/// second signal exits 130 at once. Outputs never look whole when they are not (atomic
/// writes, line-at-a-time appends), so exiting at any point is safe.
///
/// One pair of signal sources serves the whole process; `install` sets what they do, replacing
/// an earlier `install` (`inpars pipeline` runs several commands in one process, and the
/// running stage's handling applies). Creating and cancelling sources per command would not
/// do: libdispatch installs its signal handler once per signal, so a second `signal(SIG_IGN)`
/// would leave the signal ignored.
enum Interrupts {
    /// What a signal does now. Invariant behind `@unchecked Sendable`: the fields are only
    /// touched under `lock`.
    private final class Handling: @unchecked Sendable {
        private let lock = NSLock()
        private var message = ""
        private var stop: StopRequest?
        private var count = StopRequest()  // set after the first signal

        func set(message: String, stop: StopRequest?) {
            lock.withLock {
                self.message = message
                self.stop = stop
                count = StopRequest()
            }
        }

        var current: (message: String, stop: StopRequest?, count: StopRequest) {
            lock.withLock { (message, stop, count) }
        }
    }

    private static let handling = Handling()

    /// The installed signal sources (kept alive for the life of the process).
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func install(message: String, stop: StopRequest? = nil) {
        handling.set(message: message, stop: stop)
        guard sources.isEmpty else { return }
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let (message, stop, count) = handling.current
                if count.isRequested { _exit(130) }
                count.request()
                FileHandle.standardError.write(Data(("\n" + message + "\n").utf8))
                guard let stop else { _exit(130) }
                stop.request()
            }
            source.resume()
            sources.append(source)
        }
    }
}
