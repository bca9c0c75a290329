import Foundation

/// A complete HTTP response.
public struct HTTPResponse: Sendable, Equatable {
    /// Status code of the final response (after any `100 Continue`).
    public var status: Int
    /// Header fields of the final response, names lower-cased; a repeated name keeps the last.
    public var headers: [String: String]
    /// The body as received.
    public var body: Data

    public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200...299).contains(status) }

    /// The `Retry-After` header in seconds, when it is a non-negative number of seconds.
    ///
    /// The HTTP-date form is not interpreted (servers that rate-limit LLM APIs send seconds);
    /// it yields `nil`, and the retry policy then falls back to its own backoff.
    public var retryAfterSeconds: Double? {
        guard let raw = headers["retry-after"]?.trimmingCharacters(in: .whitespaces),
            let seconds = Double(raw), seconds.isFinite, seconds >= 0
        else { return nil }
        return seconds
    }
}
