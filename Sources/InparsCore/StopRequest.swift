import Foundation

/// A request, from another thread, that long work stop at its next safe point (the CLI sets
/// it on the first Ctrl-C; the trainer checks it after every step and saves a checkpoint).
///
/// Invariant behind `@unchecked Sendable`: `requested` is only touched under `lock`.
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false

    public init() {}

    /// Asks the work to stop.
    public func request() { lock.withLock { requested = true } }

    /// Whether a stop was asked for.
    public var isRequested: Bool { lock.withLock { requested } }
}
