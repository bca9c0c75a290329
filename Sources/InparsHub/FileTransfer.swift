import Foundation
import InparsCore
import InparsHTTP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A checksum a download must match.
enum ExpectedDigest: Equatable {
    case sha256(String)
    case md5(String)

    var algorithm: String {
        switch self {
        case .sha256: return "sha256"
        case .md5: return "md5"
        }
    }

    var hex: String {
        switch self {
        case .sha256(let hex), .md5(let hex): return hex.lowercased()
        }
    }

    func makeDigest() -> any StreamingDigest {
        switch self {
        case .sha256: return SHA256()
        case .md5: return MD5()
        }
    }
}

/// One file to fetch.
struct DownloadRequest {
    /// Absolute URL (redirects are followed).
    var url: String
    /// Extra request headers (the token, when the URL is on the Hub).
    var headers: [(name: String, value: String)]
    /// The final file; bytes go to `<destination>.incomplete` until they are complete and
    /// checked.
    var destination: URL
    /// The size announced by the server, checked at the end when known.
    var expectedSize: Int?
    /// The checksum the bytes must have, when known.
    var digest: ExpectedDigest?
    /// What to call the file in progress lines and errors (`org/name/model.safetensors`).
    var label: String
}

/// Sequential HTTP transfers for the Hub and data set downloads: one blocking libcurl
/// connection (made on first use, so a run that needs nothing never starts libcurl), the HTTP
/// module's retry policy, and resumable file downloads.
///
/// Downloads write to `<file>.incomplete` and resume it with `Range: bytes=<size>-` after an
/// interruption (within a run and across runs); a server that answers `200` instead of `206`
/// restarts the file. The bytes are checked (size, then checksum) before the file is renamed
/// to its final name, so a final name always holds a complete, verified file.
final class FileTransfer {
    let retry: RetryPolicy
    /// Connect time limit and longest stall, in seconds.
    let timeout: Double
    let sink: ProgressSink
    private var connection: HTTPConnection?
    private var random = SystemRandomNumberGenerator()
    /// Requests sent so far (attempts included).
    private(set) var requestCount = 0
    /// Bytes written to files so far.
    private(set) var bytesDownloaded = 0

    init(retry: RetryPolicy, timeout: Double, sink: ProgressSink) {
        self.retry = retry
        self.timeout = timeout
        self.sink = sink
    }

    private func connect() throws(HubError) -> HTTPConnection {
        if let connection { return connection }
        do {
            let made = try HTTPConnection()
            connection = made
            return made
        } catch {
            throw .transfer(url: "(libcurl)", error: error)
        }
    }

    /// Sends a small request (no streamed body), retrying 429, 5xx and connection failures
    /// when `retrying`. Returns the last response, 2xx or not; throws only when no response
    /// came.
    func send(_ request: HTTPRequest, retrying: Bool) throws(HubError) -> HTTPResponse {
        let connection = try connect()
        var attempt = 1
        while true {
            requestCount += 1
            let failure: HTTPError
            var retryAfter: Double? = nil
            var last: HTTPResponse? = nil
            do {
                let response = try connection.perform(request)
                if response.isSuccess || (300...399).contains(response.status) { return response }
                failure = .status(code: response.status, body: HTTPError.excerpt(response.body))
                retryAfter = response.retryAfterSeconds
                last = response
            } catch {
                failure = error
            }
            guard retrying,
                let wait = retry.retryDelay(
                    after: failure, attempt: attempt, retryAfter: retryAfter, random: &random)
            else {
                if let last { return last }
                throw .transfer(url: request.url, error: failure)
            }
            announceRetry(request.url, failure: failure, attempt: attempt, wait: wait)
            attempt += 1
        }
    }

    private func announceRetry(_ url: String, failure: HTTPError, attempt: Int, wait: Double) {
        let reason: String
        if case .status(let code, _) = failure {
            reason = "HTTP \(code)"
        } else {
            reason = failure.localizedDescription
        }
        sink.emit(
            "\(url): \(reason); retry \(attempt) of \(retry.maxAttempts - 1) in "
                + formatFixed(wait, decimals: 1) + " s", transient: false)
        Thread.sleep(forTimeInterval: wait)
    }

    /// Downloads `request` to its destination (see the type's description).
    ///
    /// - Throws: ``HubError``: `.transfer`/`.unexpectedStatus` once retries are spent,
    ///   `.sizeMismatch`/`.checksumMismatch` (the partial file is removed), `.cacheIO`.
    func download(_ request: DownloadRequest) throws(HubError) {
        let connection = try connect()
        let partial = URL(fileURLWithPath: request.destination.path + ".incomplete")
        let state = try DownloadState(
            request: request, part: PartialFile(partial, expectedSize: request.expectedSize),
            makeProgress: { self.makeProgress(request, from: $0) })
        var attempt = 1
        var restarted = false
        transfers: while !state.isComplete {
            let (outcome, received) = try runAttempt(connection, state)
            if received > 0 { attempt = 1 }  // progress was made: a fresh retry budget
            switch outcome {
            case .complete:
                break transfers
            case .progressed:
                continue
            case .rangeNotSatisfiable where !restarted:
                // The partial file does not fit the remote one: start over, once.
                restarted = true
                try state.restart()
            case .rangeNotSatisfiable:
                throw .unexpectedStatus(url: request.url, status: 416, body: "")
            case .failed(let failure, let retryAfter):
                guard
                    let wait = retry.retryDelay(
                        after: failure, attempt: attempt, retryAfter: retryAfter, random: &random)
                else {
                    if case .status(let code, let body) = failure {
                        throw .unexpectedStatus(url: request.url, status: code, body: body)
                    }
                    throw .transfer(url: request.url, error: failure)
                }
                announceRetry(request.label, failure: failure, attempt: attempt, wait: wait)
                attempt += 1
            }
        }
        state.progress.finish()
        try state.part.finish()
        try verify(state)
        guard rename(partial.path, request.destination.path) == 0 else {
            throw .cacheIO(
                path: request.destination.path,
                reason: "rename failed: \(String(cString: strerror(errno)))")
        }
    }

    /// How one `GET` ended.
    private enum Outcome {
        /// Every byte is there (or, size unknown, the server finished the body).
        case complete
        /// Bytes came but the file is still short: ask for the rest.
        case progressed
        /// `416` to a resume: the partial file does not match the remote file.
        case rangeNotSatisfiable
        /// A failure the retry policy decides about.
        case failed(HTTPError, retryAfter: Double?)
    }

    /// One `GET` from the partial file's size on (with `Range` when resuming), appending to
    /// it; a `200` to a resume restarts the file. Returns the outcome and the bytes received.
    private func runAttempt(
        _ connection: HTTPConnection, _ state: DownloadState
    ) throws(HubError) -> (Outcome, Int) {
        let request = state.request
        var headers = [("User-Agent", HubSettings.userAgent), ("Accept-Encoding", "identity")]
        headers += request.headers
        let resumeFrom = state.part.size
        if resumeFrom > 0 { headers.append(("Range", "bytes=\(resumeFrom)-")) }
        requestCount += 1
        var received = 0
        let response: HTTPResponse
        do {
            response = try connection.perform(
                HTTPRequest(
                    method: "GET", url: request.url, headers: headers, timeout: timeout,
                    stallTimeout: timeout, followsRedirects: true),
                onResponse: { status, responseHeaders in
                    if status == 200 && resumeFrom > 0 {
                        try state.restart()  // the server ignored Range
                    } else if status == 206 {
                        let range = responseHeaders["content-range"] ?? ""
                        guard range.hasPrefix("bytes \(resumeFrom)-") else {
                            throw HubError.unexpectedStatus(
                                url: request.url, status: 206,
                                body:
                                    "Content-Range '\(range)' does not resume at byte \(resumeFrom)"
                            )
                        }
                    }
                },
                consumer: { chunk in
                    try state.append(chunk)
                    received += chunk.count
                    bytesDownloaded += chunk.count
                })
        } catch let error as HTTPError {
            return (.failed(error, retryAfter: nil), received)
        } catch let error as HubError {
            throw error
        } catch {
            throw .cacheIO(path: state.part.url.path, reason: "\(error)")
        }
        if response.isSuccess {
            if request.expectedSize == nil || state.isComplete { return (.complete, received) }
            if received > 0 { return (.progressed, received) }
            let missing = request.expectedSize! - state.part.size
            return (
                .failed(
                    .invalidResponse(
                        reason: "an empty body where \(missing) more bytes were expected"),
                    retryAfter: nil), received
            )
        }
        if response.status == 416 && resumeFrom > 0 { return (.rangeNotSatisfiable, received) }
        let failure = HTTPError.status(
            code: response.status, body: HTTPError.excerpt(response.body))
        return (.failed(failure, retryAfter: response.retryAfterSeconds), received)
    }

    /// Progress of one file: live on a terminal; in logs, lines at each 10% only for files of
    /// 64 MiB or more (smaller ones get just their final line).
    private func makeProgress(_ request: DownloadRequest, from offset: Int) -> ProgressReporter {
        let live = (sink as? StandardErrorProgressSink)?.isTerminal ?? false
        let total = live || (request.expectedSize ?? 0) >= 64 << 20 ? request.expectedSize : nil
        return ProgressReporter(
            label: request.label, total: total, sink: sink, unit: .bytes, initial: offset)
    }

    /// Size, then checksum; a mismatch removes the partial file.
    private func verify(_ state: DownloadState) throws(HubError) {
        let request = state.request
        let part = state.part
        if let expected = request.expectedSize, part.size != expected {
            part.remove()
            throw .sizeMismatch(name: request.label, expected: expected, actual: part.size)
        }
        if let expected = request.digest, var running = state.digest {
            let actual = running.finalizeHex()
            guard actual == expected.hex else {
                part.remove()
                throw .checksumMismatch(
                    name: request.label, algorithm: expected.algorithm, expected: expected.hex,
                    actual: actual)
            }
        }
    }
}

/// One file's download across attempts: the partial file, the running checksum of its bytes
/// and the progress reporter.
private final class DownloadState {
    let request: DownloadRequest
    let part: PartialFile
    private(set) var digest: (any StreamingDigest)?
    private(set) var progress: ProgressReporter
    private let makeProgress: (Int) -> ProgressReporter

    /// Continues the checksum over the bytes a partial file already holds.
    init(
        request: DownloadRequest, part: PartialFile,
        makeProgress: @escaping (Int) -> ProgressReporter
    ) throws(HubError) {
        self.request = request
        self.part = part
        self.makeProgress = makeProgress
        digest = request.digest?.makeDigest()
        if let expected = request.digest, part.size > 0 {
            digest = try part.digestOfContents(expected)
        }
        progress = makeProgress(part.size)
    }

    /// Whether the announced size is reached (never, when the size is unknown).
    var isComplete: Bool { request.expectedSize.map { part.size >= $0 } ?? false }

    func append(_ chunk: UnsafeRawBufferPointer) throws(HubError) {
        try part.append(chunk)
        digest?.update(chunk)
        progress.advance(by: chunk.count)
    }

    /// Empties the partial file and starts the checksum and progress over.
    func restart() throws(HubError) {
        try part.truncate()
        digest = request.digest?.makeDigest()
        progress = makeProgress(0)
    }
}

/// The `.incomplete` file of a download, opened for appending (closed when released).
private final class PartialFile {
    let url: URL
    private let descriptor: Int32
    private(set) var size: Int

    init(_ url: URL, expectedSize: Int?) throws(HubError) {
        self.url = url
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .cacheIO(path: url.path, reason: String(cString: strerror(errno)))
        }
        var info = stat()
        fstat(descriptor, &info)
        size = Int(info.st_size)
        if let expectedSize, size > expectedSize { try truncate() }
    }

    deinit { close(descriptor) }

    func append(_ bytes: UnsafeRawBufferPointer) throws(HubError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw .cacheIO(path: url.path, reason: String(cString: strerror(errno)))
            }
            offset += written
        }
        size += bytes.count
    }

    func truncate() throws(HubError) {
        guard ftruncate(descriptor, 0) == 0 else {
            throw .cacheIO(path: url.path, reason: String(cString: strerror(errno)))
        }
        size = 0
    }

    /// The digest of the bytes already in the file (to continue hashing after a resume).
    func digestOfContents(_ expected: ExpectedDigest) throws(HubError) -> any StreamingDigest {
        var digest = expected.makeDigest()
        do {
            try digest.update(contentsOf: url)
        } catch {
            throw .cacheIO(path: url.path, reason: "\(error.localizedDescription)")
        }
        return digest
    }

    /// Flushes the bytes to disk.
    func finish() throws(HubError) {
        guard fsync(descriptor) == 0 else {
            throw .cacheIO(path: url.path, reason: String(cString: strerror(errno)))
        }
    }

    func remove() { unlink(url.path) }
}
