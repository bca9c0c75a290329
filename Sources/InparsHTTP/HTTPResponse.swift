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

    /// The `Retry-After` header in seconds from now: a non-negative number of seconds, or an
    /// HTTP-date (RFC 9110 IMF-fixdate, e.g. `Wed, 21 Oct 2015 07:28:00 GMT`) turned into the
    /// time left until it (0 when past). `nil` when absent or unreadable.
    public var retryAfterSeconds: Double? { retryAfterSeconds(now: Date()) }

    /// ``retryAfterSeconds`` measured from `now` (injectable for tests).
    public func retryAfterSeconds(now: Date) -> Double? {
        guard let raw = headers["retry-after"]?.trimmingCharacters(in: .whitespaces) else {
            return nil
        }
        if let seconds = Double(raw) {
            return seconds.isFinite && seconds >= 0 ? seconds : nil
        }
        guard let date = Self.httpDate(raw) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text)
    }
}
