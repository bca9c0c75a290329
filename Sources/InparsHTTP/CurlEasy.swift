internal import CCurl
import Foundation

/// `curl_global_init` runs exactly once, before the first easy handle is made (Swift runs a
/// global's initialiser once, under a lock).
private let curlGlobalInitResult: Int = Int(ccurl_global_init_all().rawValue)

/// Runs `curl_global_init` (once per process) on the calling thread; ``HTTPClient`` calls it
/// before starting its workers, so it never races with another libcurl call.
func ensureCurlInitialized() { _ = curlGlobalInitResult }

/// One libcurl easy handle, used by a single thread at a time (the worker that owns it).
///
/// The handle is reset before each request but kept across requests, so libcurl's connection
/// cache gives keep-alive reuse per worker thread.
final class CurlEasy {
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init() throws(HTTPError) {
        if curlGlobalInitResult != 0 {
            if let reason = ccurl_load_failure() {
                throw .curl(
                    code: curlGlobalInitResult,
                    message:
                        "libcurl cannot be loaded (\(String(cString: reason))); install it (Debian/Ubuntu: apt install libcurl4)"
                )
            }
            throw .curl(code: curlGlobalInitResult, message: "curl_global_init failed")
        }
        guard let handle = ccurl_easy_init() else {
            throw .curl(code: -1, message: "curl_easy_init returned no handle")
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        ccurl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Runs `request` to completion on the calling thread (blocking).
    ///
    /// - Parameter consumer: when given, receives the body of a 2xx final response as it
    ///   arrives instead of it being collected (other responses are still collected, for their
    ///   error text); an error it throws aborts the transfer and is rethrown as is.
    func perform(
        _ request: HTTPRequest, consumer: BodyConsumer? = nil,
        onResponse: ResponseStart? = nil
    ) -> Result<HTTPResponse, any Error> {
        ccurl_easy_reset(handle)
        errorBuffer[0] = 0
        let sink = ResponseSink(consumer: consumer, onResponse: onResponse)
        let sinkPointer = Unmanaged.passRetained(sink).toOpaque()
        defer { Unmanaged<ResponseSink>.fromOpaque(sinkPointer).release() }

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { ccurl_slist_free_all(headerList) }
        // "Expect:" stops libcurl from waiting for `100 Continue` before large bodies.
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            headerList = ccurl_slist_append(headerList, line)
        }

        var setupCode = CURLE_OK
        func set(_ code: CURLcode) { if setupCode == CURLE_OK { setupCode = code } }
        // Clamped before the conversion: Int(Double) traps on a value past Int's range.
        let timeoutMilliseconds = Int(min(max(request.timeout * 1000, 1), Double(Int32.max)))
        set(ccurl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        set(ccurl_setopt_string(handle, CURLOPT_URL, request.url))
        set(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, timeoutMilliseconds))
        if let stall = request.stallTimeout {
            // Large downloads: no limit on the whole transfer, only on a stalled one.
            set(ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1))
            set(ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Int(stall.rounded(.up)))))
        } else {
            set(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds))
        }
        if request.followsRedirects {
            set(ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1))
            set(ccurl_setopt_long(handle, CURLOPT_MAXREDIRS, 10))
        }
        set(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))
        set(ccurl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteBody))
        set(ccurl_setopt_ptr(handle, CURLOPT_WRITEDATA, sinkPointer))
        set(ccurl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, curlWriteHeader))
        set(ccurl_setopt_ptr(handle, CURLOPT_HEADERDATA, sinkPointer))
        if request.method == "POST" {
            set(ccurl_setopt_long(handle, CURLOPT_POST, 1))
            set(ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, request.body.count))
            request.body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies the bytes, so they need not outlive this call.
                let empty: StaticString = ""
                set(
                    ccurl_setopt_ptr(
                        handle, CURLOPT_COPYPOSTFIELDS,
                        bytes.baseAddress ?? UnsafeRawPointer(empty.utf8Start)))
            }
        } else if request.method == "HEAD" {
            set(ccurl_setopt_long(handle, CURLOPT_NOBODY, 1))
        } else if request.method != "GET" {
            set(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
        }
        if setupCode != CURLE_OK { return .failure(error(for: setupCode, request: request)) }

        let code = ccurl_easy_perform(handle)
        if let failure = sink.consumerError { return .failure(failure) }
        if code != CURLE_OK { return .failure(error(for: code, request: request)) }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        if status == 0 {
            return .failure(HTTPError.invalidResponse(reason: "no HTTP status line from \(request.url)"))
        }
        return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body))
    }

    private func error(for code: CURLcode, request: HTTPRequest) -> HTTPError {
        if code == CURLE_OPERATION_TIMEDOUT {
            return .timeout(seconds: request.stallTimeout ?? request.timeout)
        }
        var message = String(cString: ccurl_easy_strerror(code))
        let detail = String(cString: errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines)
        if !detail.isEmpty && detail != message { message += " (\(detail))" }
        return .curl(code: Int(code.rawValue), message: message + " for \(request.url)")
    }
}

/// Receives the body of a 2xx response chunk by chunk; throwing aborts the transfer.
typealias BodyConsumer = (UnsafeRawBufferPointer) throws -> Void
/// Told the status and headers of a 2xx response before its body; throwing aborts.
typealias ResponseStart = (Int, [String: String]) throws -> Void

/// Collects body bytes and the headers of the last response while libcurl calls back.
private final class ResponseSink {
    var body = Data()
    var headers: [String: String] = [:]
    /// Status of the response being received (from its status line).
    var status = 0
    let consumer: BodyConsumer?
    let onResponse: ResponseStart?
    var consumerError: (any Error)?

    init(consumer: BodyConsumer?, onResponse: ResponseStart?) {
        self.consumer = consumer
        self.onResponse = onResponse
    }
}

private let curlWriteBody: ccurl_data_callback = { pointer, size, count, userdata in
    let total = size * count
    guard let pointer, let userdata else { return total }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    if let consumer = sink.consumer, (200...299).contains(sink.status) {
        do {
            try consumer(UnsafeRawBufferPointer(start: pointer, count: total))
        } catch {
            sink.consumerError = error
            return 0  // libcurl stops with CURLE_WRITE_ERROR; perform rethrows `error`
        }
        return total
    }
    if sink.body.count < 1 << 20 {  // error bodies are kept for their text only
        sink.body.append(UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: total)
    }
    return total
}

private let curlWriteHeader: ccurl_data_callback = { pointer, size, count, userdata in
    let total = size * count
    guard let pointer, let userdata else { return total }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    let line = String(
        decoding: UnsafeRawBufferPointer(start: pointer, count: total), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new response (after 100 Continue or a redirect).
        sink.headers = [:]
        sink.body = Data()
        let parts = line.split(separator: " ", maxSplits: 2)
        sink.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
    } else if line == "\r\n" || line == "\n" {
        // End of a header block: announce a 2xx response before its body arrives.
        if let onResponse = sink.onResponse, (200...299).contains(sink.status) {
            do { try onResponse(sink.status, sink.headers) } catch {
                sink.consumerError = error
                return 0
            }
        }
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(
            in: .whitespacesAndNewlines)
        sink.headers[name] = value
    }
    return total
}
