import Foundation

/// Why an HTTP exchange failed.
///
/// Transport failures come from libcurl (`curl`, `timeout`); a server that answered with an
/// error status is `status`; a body that cannot be what was asked for is `invalidResponse`.
public enum HTTPError: Error, LocalizedError, Sendable, Equatable {
    /// libcurl failed before a complete response arrived (connection refused, DNS, TLS, ...).
    ///
    /// `message` is `curl_easy_strerror(code)`, followed by libcurl's detail when it has one.
    case curl(code: Int, message: String)
    /// The server answered with a non-2xx status; `body` is an excerpt of what it sent.
    case status(code: Int, body: String)
    /// No complete response within the per-request time limit, in seconds.
    case timeout(seconds: Double)
    /// The response could not be used (not UTF-8, not the expected JSON, ...).
    case invalidResponse(reason: String)

    public var errorDescription: String? {
        switch self {
        case .curl(let code, let message):
            return "HTTP transfer failed (curl error \(code)): \(message)."
        case .status(let code, let body):
            let excerpt = body.isEmpty ? "an empty body" : "body: \(body)"
            return "the server answered HTTP \(code) with \(excerpt)"
        case .timeout(let seconds):
            return
                "no response within \(Self.format(seconds)) s; raise --timeout if the server is slow."
        case .invalidResponse(let reason):
            return "the server's response could not be used: \(reason)"
        }
    }

    /// Whether retrying the same request may succeed: 429, 5xx, connection-level failures
    /// and timeouts are transient; other statuses and unusable bodies are not.
    public var isTransient: Bool {
        switch self {
        case .curl(let code, _):
            return HTTPError.transientCurlCodes.contains(code)
        case .status(let code, _):
            return code == 429 || (500...599).contains(code)
        case .timeout:
            return true
        case .invalidResponse:
            return false
        }
    }

    /// libcurl codes worth retrying: could not resolve/connect, send/receive failures,
    /// an empty reply, a partial file, HTTP/2 stream trouble.
    static let transientCurlCodes: Set<Int> = [
        5,  // CURLE_COULDNT_RESOLVE_PROXY
        6,  // CURLE_COULDNT_RESOLVE_HOST
        7,  // CURLE_COULDNT_CONNECT
        16,  // CURLE_HTTP2
        18,  // CURLE_PARTIAL_FILE
        28,  // CURLE_OPERATION_TIMEDOUT
        52,  // CURLE_GOT_NOTHING
        55,  // CURLE_SEND_ERROR
        56,  // CURLE_RECV_ERROR
        92,  // CURLE_HTTP2_STREAM
    ]

    /// At most this many characters of a body are kept in an error.
    public static let bodyExcerptLength = 500

    /// The first `bodyExcerptLength` characters of `body`, with an ellipsis when cut.
    public static func excerpt(_ body: String) -> String {
        guard body.count > bodyExcerptLength else { return body }
        return String(body.prefix(bodyExcerptLength)) + "…"
    }

    /// `excerpt` of raw bytes decoded as UTF-8 (invalid bytes replaced).
    public static func excerpt(_ body: Data) -> String {
        excerpt(String(decoding: body.prefix(bodyExcerptLength * 4), as: UTF8.self))
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.3g", seconds)
    }
}
