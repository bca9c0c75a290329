import Foundation
import InparsCore

/// Ctrl-C (SIGINT) and SIGTERM for long commands.
///
/// The first signal prints `message` and either sets `stop` (the work saves what it has at its
/// next safe point, then the command exits 130) or, without a `stop`, exits 130 at once; a
/// second signal exits 130 at once. Outputs never look whole when they are not (atomic
/// writes, line-at-a-time appends), so exiting at any point is safe.
enum Interrupts {
    /// The installed signal sources (kept alive for the life of the process).
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// Installs the handlers, replacing earlier ones (`inpars pipeline` runs several commands
    /// in one process; the running stage's handling applies).
    static func install(message: String, stop: StopRequest? = nil) {
        for source in sources { source.cancel() }
        sources.removeAll()
        let count = StopRequest()  // set after the first signal
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
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
