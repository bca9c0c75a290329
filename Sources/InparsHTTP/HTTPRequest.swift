import Foundation

/// One HTTP request: a method, a URL, headers and a body, with a time limit.
public struct HTTPRequest: Sendable, Equatable {
    /// `GET` or `POST` (the body is sent only with `POST`).
    public var method: String
    /// Absolute `http://` or `https://` URL.
    public var url: String
    /// Header fields, sent in this order.
    public var headers: [(name: String, value: String)]
    /// Request body (sent with `POST`).
    public var body: Data
    /// Whole-exchange time limit in seconds (connect + send + wait + receive).
    public var timeout: Double

    public init(
        method: String = "POST", url: String, headers: [(name: String, value: String)] = [],
        body: Data = Data(), timeout: Double = 60
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
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
            && lhs.timeout == rhs.timeout
            && lhs.headers.map { "\($0.name): \($0.value)" }
                == rhs.headers.map { "\($0.name): \($0.value)" }
    }
}
