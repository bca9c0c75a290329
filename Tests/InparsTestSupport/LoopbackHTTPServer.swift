import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A request as the loopback server received it.
public struct RecordedRequest: Sendable {
    public var method: String
    public var path: String
    /// Header fields with lower-cased names.
    public var headers: [String: String]
    public var body: Data

    /// The body parsed as a JSON object, if it is one.
    public var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
    }
}

/// What the loopback server answers to one request.
public struct ScriptedResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data
    /// Seconds to wait before answering.
    public var delay: Double
    /// Close the connection without answering (a server that dies mid-request).
    public var dropsConnection: Bool
    /// Send the headers (announcing the whole body) and only this many body bytes, then close
    /// the connection: a download cut midway.
    public var cutAfter: Int?

    public init(
        status: Int = 200, headers: [(name: String, value: String)] = [], body: Data = Data(),
        delay: Double = 0, dropsConnection: Bool = false, cutAfter: Int? = nil
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
        self.dropsConnection = dropsConnection
        self.cutAfter = cutAfter
    }

    /// `data` as a file: `206 Partial Content` with `Content-Range` for a `Range: bytes=N-`
    /// (or `bytes=N-M`) request, `416` for a range past the end, else `200` with everything.
    public static func file(
        _ data: Data, for request: RecordedRequest, headers: [(name: String, value: String)] = []
    ) -> ScriptedResponse {
        guard let range = request.headers["range"], range.hasPrefix("bytes=") else {
            return ScriptedResponse(status: 200, headers: headers, body: data)
        }
        let bounds = range.dropFirst("bytes=".count).split(
            separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let start = Int(bounds[0]) else {
            return ScriptedResponse(status: 200, headers: headers, body: data)
        }
        let end = min(Int(bounds[1]) ?? (data.count - 1), data.count - 1)
        guard start < data.count, start <= end else {
            return ScriptedResponse(
                status: 416, headers: headers + [("Content-Range", "bytes */\(data.count)")])
        }
        return ScriptedResponse(
            status: 206,
            headers: headers + [("Content-Range", "bytes \(start)-\(end)/\(data.count)")],
            body: data.subdata(in: start..<(end + 1)))
    }

    /// A JSON body with `Content-Type: application/json`.
    public static func json(
        _ text: String, status: Int = 200, headers: [(name: String, value: String)] = [],
        delay: Double = 0
    ) -> ScriptedResponse {
        ScriptedResponse(
            status: status, headers: [("Content-Type", "application/json")] + headers,
            body: Data(text.utf8), delay: delay)
    }
}

/// A small HTTP/1.1 server on 127.0.0.1 for tests: answers each request with whatever the
/// handler scripts, records every request, and stops itself after `lifetime` seconds.
///
/// Plain POSIX sockets, one thread per connection, `Content-Length` bodies, keep-alive unless
/// the client asks to close. `handler` gets the request and its 0-based arrival index.
public final class LoopbackHTTPServer: @unchecked Sendable {
    // Invariant behind `@unchecked Sendable`: mutable state is only touched under `lock`.
    private let lock = NSLock()
    private var listener: Int32
    private var connections: Set<Int32> = []
    private var recorded: [RecordedRequest] = []
    private var isStopped = false
    private let handler: @Sendable (RecordedRequest, Int) -> ScriptedResponse
    private let deadline: Date

    /// The port the server listens on.
    public let port: Int

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts listening on an ephemeral port.
    ///
    /// - Parameters:
    ///   - lifetime: seconds after which the server stops accepting on its own.
    ///   - handler: scripts the answer to request number `index` (0-based, arrival order).
    public init(
        lifetime: Double = 120,
        handler: @escaping @Sendable (_ request: RecordedRequest, _ index: Int) -> ScriptedResponse
    ) throws {
        self.handler = handler
        self.deadline = Date().addingTimeInterval(lifetime)
        let (fd, port) = try Self.bindLoopback()
        guard listen(fd, 128) == 0 else {
            close(fd)
            throw LoopbackError.socket("listen", errno)
        }
        self.listener = fd
        self.port = port
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "loopback-accept"
        thread.start()
    }

    deinit { stop() }

    /// Every request received so far, in arrival order.
    public var requests: [RecordedRequest] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    /// Stops accepting and closes open connections.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !isStopped else { return }
        isStopped = true
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// A port on 127.0.0.1 that nothing listens on (bound, then closed), for
    /// "connection refused" tests.
    public static func unusedPort() throws -> Int {
        let (fd, port) = try bindLoopback()
        close(fd)
        return port
    }

    private var stopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return isStopped
    }

    private static func bindLoopback() throws -> (Int32, Int) {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw LoopbackError.socket("socket", errno) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            close(fd)
            throw LoopbackError.socket("bind", errno)
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    private func acceptLoop() {
        defer { close(listener) }
        while !stopped {
            if Date() > deadline {
                stop()
                return
            }
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready <= 0 { continue }
            let client = accept(listener, nil, nil)
            if client < 0 { continue }
            lock.lock()
            if isStopped {
                lock.unlock()
                close(client)
                return
            }
            connections.insert(client)
            lock.unlock()
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(
                client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let thread = Thread { [self] in serve(client) }
            thread.name = "loopback-connection"
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            lock.lock()
            connections.remove(fd)
            lock.unlock()
            close(fd)
        }
        var buffer = Data()
        while !stopped {
            guard let (request, keepAlive) = readRequest(fd, buffer: &buffer) else { return }
            lock.lock()
            let index = recorded.count
            recorded.append(request)
            lock.unlock()
            let response = handler(request, index)
            if response.delay > 0 {
                let until = Date().addingTimeInterval(response.delay)
                while Date() < until && !stopped { usleep(5_000) }
            }
            if response.dropsConnection || stopped { return }
            guard write(response, to: fd, headOnly: request.method == "HEAD") else { return }
            if !keepAlive || response.cutAfter != nil { return }
        }
    }

    /// Reads one request; `nil` at end of stream or on a malformed request.
    private func readRequest(_ fd: Int32, buffer: inout Data) -> (RecordedRequest, Bool)? {
        let separator = Data("\r\n\r\n".utf8)
        while buffer.range(of: separator) == nil {
            guard receive(fd, into: &buffer) else { return nil }
        }
        let headerEnd = buffer.range(of: separator)!
        let head = String(decoding: buffer[buffer.startIndex..<headerEnd.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = headerEnd.upperBound
        while buffer.distance(from: bodyStart, to: buffer.endIndex) < length {
            guard receive(fd, into: &buffer) else { return nil }
        }
        let bodyEnd = buffer.index(bodyStart, offsetBy: length)
        let body = Data(buffer[bodyStart..<bodyEnd])
        buffer = Data(buffer[bodyEnd...])
        let request = RecordedRequest(
            method: String(requestLine[0]), path: String(requestLine[1]), headers: headers,
            body: body)
        return (request, headers["connection"]?.lowercased() != "close")
    }

    private func receive(_ fd: Int32, into buffer: inout Data) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    /// Writes the status line, headers and body (none for `HEAD`, only `cutAfter` bytes of it
    /// when set). `Content-Length` is the whole body's unless the script sets one.
    private func write(_ response: ScriptedResponse, to fd: Int32, headOnly: Bool) -> Bool {
        var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        if !response.headers.contains(where: { $0.name.lowercased() == "content-length" }) {
            head += "Content-Length: \(response.body.count)\r\n"
        }
        head += "\r\n"
        var bytes = Data(head.utf8)
        if !headOnly { bytes.append(response.body.prefix(response.cutAfter ?? response.body.count)) }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 206: "Partial Content"
        case 302: "Found"
        case 307: "Temporary Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 416: "Range Not Satisfiable"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

/// A socket call failed while setting up the loopback server.
public enum LoopbackError: Error, CustomStringConvertible {
    case socket(String, Int32)

    public var description: String {
        switch self {
        case .socket(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}
