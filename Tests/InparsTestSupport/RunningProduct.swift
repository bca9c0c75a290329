import Foundation

/// A built executable running in the background, for tests that signal or kill it mid-run:
/// stderr is collected as it arrives, so a test can wait for a progress line first.
///
/// Invariant behind `@unchecked Sendable`: `stderrData` is only touched under `lock`.
public final class RunningProduct: @unchecked Sendable {
    private let process = Process()
    private let lock = NSLock()
    private var stderrData = Data()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let readers = DispatchGroup()
    private var stdoutData = Data()

    /// Starts `product` with `arguments`.
    public init(
        _ arguments: [String], product: String = "inpars", environment: [String: String]? = nil
    ) throws {
        process.executableURL = BuiltProducts.directory.appendingPathComponent(product)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        try process.run()
        readers.enter()
        DispatchQueue.global().async { [self] in
            let handle = stderrPipe.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                lock.withLock { stderrData.append(chunk) }
            }
            readers.leave()
        }
        readers.enter()
        DispatchQueue.global().async { [self] in
            let data = stdoutPipe.fileHandleForReading.readDataToEndOfFile()
            lock.withLock { stdoutData = data }
            readers.leave()
        }
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Stderr so far.
    public var stderr: String { lock.withLock { String(decoding: stderrData, as: UTF8.self) } }

    /// Waits until stderr matches `predicate` (true) or the process ends or `timeout` passes
    /// (false).
    public func waitForStderr(timeout: Double = 120, _ predicate: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(stderr) { return true }
            if !process.isRunning { return predicate(stderr) }
            usleep(5_000)
        }
        return false
    }

    /// Sends `signal` (SIGINT, SIGKILL, ...).
    public func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to end and returns what it did.
    public func wait() -> BuiltProducts.Result {
        process.waitUntilExit()
        readers.wait()
        return lock.withLock {
            BuiltProducts.Result(
                status: process.terminationStatus,
                stdout: String(decoding: stdoutData, as: UTF8.self),
                stderr: String(decoding: stderrData, as: UTF8.self),
                signal: process.terminationReason == .uncaughtSignal
                    ? process.terminationStatus : nil)
        }
    }
}
