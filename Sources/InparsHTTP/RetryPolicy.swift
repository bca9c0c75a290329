import Foundation

/// When and how long to wait before retrying a failed request.
///
/// Exponential backoff with full jitter: before retry `n` (after attempt `n` failed) the wait
/// is uniform in `[0, min(maxDelay, baseDelay · 2ⁿ⁻¹))`. A `Retry-After` header (seconds or
/// an HTTP-date) replaces that wait (capped at `maxRetryAfter`). Transient failures only: 429, 5xx,
/// connection errors and timeouts (`HTTPError.isTransient`).
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included (1 = never retry; values below 1 are read as 1).
    public var maxAttempts: Int
    /// Backoff cap for the first retry, in seconds.
    public var baseDelay: Double
    /// Largest backoff cap, in seconds.
    public var maxDelay: Double
    /// Largest `Retry-After` honoured, in seconds (a server asking for more gets this).
    public var maxRetryAfter: Double

    public init(
        maxAttempts: Int = 6, baseDelay: Double = 0.5, maxDelay: Double = 30,
        maxRetryAfter: Double = 120
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// Never retries.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The wait in seconds after failed attempt `attempt` (1-based).
    ///
    /// - Parameters:
    ///   - retryAfter: the server's `Retry-After` in seconds, if it sent one.
    ///   - unit: a uniform random number in `[0, 1)` (the jitter).
    public func delay(afterAttempt attempt: Int, retryAfter: Double?, unit: Double) -> Double {
        if let retryAfter { return min(max(0, retryAfter), maxRetryAfter) }
        let exponent = Double(max(0, attempt - 1))
        let cap = min(maxDelay, baseDelay * pow(2, exponent))
        return unit * cap
    }

    /// The wait before retrying after `failure` ended attempt `attempt` (1-based), or `nil`
    /// when the failure is not transient or no attempt is left. The one retry decision, shared
    /// by ``run(random:sleep:onRetry:attempt:)`` and blocking callers with their own loop.
    ///
    /// - Parameters:
    ///   - retryAfter: the server's `Retry-After` in seconds, if it sent one.
    ///   - retryable: which failures are retried (default: the transient ones).
    public func retryDelay(
        after failure: HTTPError, attempt: Int, retryAfter: Double?,
        random: inout some RandomNumberGenerator,
        retryable: (HTTPError) -> Bool = { $0.isTransient }
    ) -> Double? {
        guard retryable(failure), attempt < maxAttempts else { return nil }
        return delay(
            afterAttempt: attempt, retryAfter: retryAfter,
            unit: Double.random(in: 0..<1, using: &random))
    }

    /// Runs `attempt` until it yields a 2xx response, retrying transient failures.
    ///
    /// Pure apart from the injected `sleep`, so tests drive it with a recording sleep and a
    /// seeded generator.
    ///
    /// - Parameters:
    ///   - random: jitter source.
    ///   - sleep: waits the given number of seconds.
    ///   - onRetry: told about each retry before its wait.
    ///   - shouldRetry: which failures are retried (default: the transient ones).
    ///   - attempt: performs attempt `n` (1-based) and returns the response, or throws an
    ///     `HTTPError` (any other error propagates at once).
    /// - Throws: the last failure, as an `HTTPError` (`.status` for a non-2xx response).
    public func run(
        random: inout some RandomNumberGenerator,
        sleep: (Double) async throws -> Void,
        onRetry: (RetryEvent) -> Void = { _ in },
        shouldRetry: (HTTPError) -> Bool = { $0.isTransient },
        attempt: (Int) async throws -> HTTPResponse
    ) async throws -> HTTPResponse {
        var number = 1
        while true {
            let failure: HTTPError
            var retryAfter: Double? = nil
            do {
                let response = try await attempt(number)
                if response.isSuccess { return response }
                failure = .status(code: response.status, body: HTTPError.excerpt(response.body))
                retryAfter = response.retryAfterSeconds
            } catch let error as HTTPError {
                failure = error
            }
            guard
                let wait = retryDelay(
                    after: failure, attempt: number, retryAfter: retryAfter, random: &random,
                    retryable: shouldRetry)
            else { throw failure }
            onRetry(RetryEvent(attempt: number, error: failure, delay: wait))
            try await sleep(wait)
            number += 1
        }
    }
}

/// A retry about to happen: which attempt failed, why, and how long the wait is.
public struct RetryEvent: Sendable, Equatable {
    /// The attempt that failed (1-based).
    public var attempt: Int
    /// Why it failed.
    public var error: HTTPError
    /// Seconds until the next attempt.
    public var delay: Double
}
