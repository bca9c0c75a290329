import Foundation

/// A blocking HTTP/1.1 connection on the calling thread: one libcurl handle (with its
/// keep-alive connection cache), for sequential transfers such as file downloads.
///
/// Not thread-safe: use one per thread. ``HTTPClient`` is the concurrent, `async` client.
///
/// ```swift
/// let connection = try HTTPConnection()
/// let head = try connection.perform(HTTPRequest(method: "HEAD", url: url))
/// _ = try connection.perform(HTTPRequest(method: "GET", url: url)) { chunk in write(chunk) }
/// ```
public final class HTTPConnection {
    private let easy: CurlEasy

    /// - Throws: `HTTPError.curl` when libcurl cannot create a handle.
    public init() throws(HTTPError) {
        ensureCurlInitialized()
        easy = try CurlEasy()
    }

    /// Sends `request` once and returns whatever complete response arrives, 2xx or not.
    ///
    /// - Throws: `HTTPError.curl` for transport failures, `.timeout`, `.invalidResponse`.
    public func perform(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        switch easy.perform(request) {
        case .success(let response): return response
        case .failure(let error as HTTPError): throw error
        case .failure(let error): throw .curl(code: -1, message: "\(error)")
        }
    }

    /// Sends `request`, handing the body of a 2xx response to `consumer` as it arrives (the
    /// returned response then has an empty body). Other responses are returned with their
    /// body collected, for error messages.
    ///
    /// - Parameters:
    ///   - onResponse: told the status and (lower-cased) headers of a 2xx response before
    ///     the first body byte, e.g. to tell `206 Partial Content` from a full `200`.
    ///   - consumer: receives the body in chunks.
    /// - Throws: `HTTPError` for transport failures (a body cut short is `.curl` code 18), or
    ///   whatever `onResponse` or `consumer` throws (which stops the transfer).
    public func perform(
        _ request: HTTPRequest,
        onResponse: (_ status: Int, _ headers: [String: String]) throws -> Void = { _, _ in },
        consumer: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> HTTPResponse {
        try withoutActuallyEscaping(consumer) { consumer in
            try withoutActuallyEscaping(onResponse) { onResponse in
                try easy.perform(request, consumer: consumer, onResponse: onResponse).get()
            }
        }
    }
}
