import Foundation

/// One HTTP request: a method, a URL, headers and a body, with a time limit.
public struct HTTPRequest: Sendable, Equatable {
    /// `GET`, `HEAD` or `POST` (the body is sent only with `POST`).
    public var method: String
    /// Absolute `http://` or `https://` URL.
    public var url: String
    /// Header fields, sent in this order.
    public var headers: [(name: String, value: String)]
    /// Request body (sent with `POST`).
    public var body: Data
    /// Whole-exchange time limit in seconds (connect + send + wait + receive); with
    /// ``stallTimeout`` set, the connect time limit only.
    public var timeout: Double
    /// For large downloads: no limit on the whole exchange, but give up when no byte arrives
    /// for this many seconds (`nil`: use ``timeout`` for the whole exchange).
    public var stallTimeout: Double?
    /// Follow `3xx` redirects (at most 10); off by default, so a redirect is the response.
    public var followsRedirects: Bool

    public init(
        method: String = "POST", url: String, headers: [(name: String, value: String)] = [],
        body: Data = Data(), timeout: Double = 60, stallTimeout: Double? = nil,
        followsRedirects: Bool = false
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.stallTimeout = stallTimeout
        self.followsRedirects = followsRedirects
    }

    /// A `POST` of a JSON body with `Content-Type: application/json`.
    public static func postJSON(
        url: String, body: Data, headers: [(name: String, value: String)] = [],
        timeout: Double = 60
    ) -> HTTPRequest {
        HTTPRequest(
            method: "POST", url: url,
            headers: [("Content-Type", "application/json"), ("Accept", "application/json")]
                + headers,
            body: body, timeout: timeout)
    }

    public static func == (lhs: HTTPRequest, rhs: HTTPRequest) -> Bool {
        lhs.method == rhs.method && lhs.url == rhs.url && lhs.body == rhs.body
            && lhs.timeout == rhs.timeout && lhs.stallTimeout == rhs.stallTimeout
            && lhs.followsRedirects == rhs.followsRedirects
            && lhs.headers.map { "\($0.name): \($0.value)" }
                == rhs.headers.map { "\($0.name): \($0.value)" }
    }
}
