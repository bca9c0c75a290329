import Foundation

/// An HTTP/1.1 client on libcurl whose transfers run on dedicated threads.
///
/// At most `maxConcurrentRequests` transfers run at once (one per worker thread, each with its
/// own easy handle and connection cache); further requests wait in a queue. Requests are
/// bridged to `async` with a checked continuation.
///
/// ```swift
/// let client = HTTPClient(maxConcurrentRequests: 16)
/// let response = try await client.perform(.postJSON(url: url, body: json, timeout: 30))
/// ```
public final class HTTPClient: Sendable {
    private let pool: CurlWorkerPool

    /// - Parameter maxConcurrentRequests: worker threads, hence transfers in flight (≥ 1).
    public init(maxConcurrentRequests: Int = 8) {
        ensureCurlInitialized()
        pool = CurlWorkerPool(threads: maxConcurrentRequests)
    }

    deinit { pool.shutdown() }

    /// Transfers in flight at most.
    public var maxConcurrentRequests: Int { pool.threadCount }

    /// Sends `request` once and returns whatever complete response arrives, 2xx or not.
    ///
    /// - Throws: `HTTPError.curl` for transport failures, `.timeout` past `request.timeout`,
    ///   `.invalidResponse` when no status line came back.
    public func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await withCheckedThrowingContinuation { continuation in
            pool.submit { easy in
                guard let easy else {
                    continuation.resume(
                        throwing: HTTPError.curl(code: -1, message: "libcurl is unavailable"))
                    return
                }
                continuation.resume(
                    with: easy.perform(request).mapError { $0 as? HTTPError ?? .curl(code: -1, message: "\($0)") })
            }
        }
    }

    /// Sends `request`, retrying transient failures as `policy` says, sleeping with
    /// `Task.sleep`.
    ///
    /// - Parameters:
    ///   - random: source of the backoff jitter (seed it for reproducible delays).
    ///   - onRetry: called before each wait, e.g. to count retries.
    /// - Returns: the first 2xx response.
    /// - Throws: the last `HTTPError` when attempts run out or the failure is not transient
    ///   (`.status` carries the body excerpt).
    public func send(
        _ request: HTTPRequest, retry policy: RetryPolicy,
        random: inout some RandomNumberGenerator,
        onRetry: (RetryEvent) -> Void = { _ in }
    ) async throws -> HTTPResponse {
        try await policy.run(
            random: &random,
            sleep: { seconds in try await Task.sleep(for: .seconds(seconds)) },
            onRetry: onRetry,
            attempt: { _ in try await self.perform(request) })
    }
}
