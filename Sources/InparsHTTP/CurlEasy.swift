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
            throw .curl(code: curlGlobalInitResult, message: "curl_global_init failed")
        }
        guard let handle = curl_easy_init() else {
            throw .curl(code: -1, message: "curl_easy_init returned no handle")
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Runs `request` to completion on the calling thread (blocking).
    func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPError> {
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let sink = ResponseSink()
        let sinkPointer = Unmanaged.passRetained(sink).toOpaque()
        defer { Unmanaged<ResponseSink>.fromOpaque(sinkPointer).release() }

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        // "Expect:" stops libcurl from waiting for `100 Continue` before large bodies.
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            headerList = curl_slist_append(headerList, line)
        }

        var setupCode = CURLE_OK
        func set(_ code: CURLcode) { if setupCode == CURLE_OK { setupCode = code } }
        // Clamped before the conversion: Int(Double) traps on a value past Int's range.
        let timeoutMilliseconds = Int(min(max(request.timeout * 1000, 1), Double(Int32.max)))
        set(ccurl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        set(ccurl_setopt_string(handle, CURLOPT_URL, request.url))
        set(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds))
        set(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, timeoutMilliseconds))
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
        } else if request.method != "GET" {
            set(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
        }
        if setupCode != CURLE_OK { return .failure(error(for: setupCode, request: request)) }

        let code = curl_easy_perform(handle)
        if code != CURLE_OK { return .failure(error(for: code, request: request)) }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        if status == 0 {
            return .failure(.invalidResponse(reason: "no HTTP status line from \(request.url)"))
        }
        return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body))
    }

    private func error(for code: CURLcode, request: HTTPRequest) -> HTTPError {
        if code == CURLE_OPERATION_TIMEDOUT { return .timeout(seconds: request.timeout) }
        var message = String(cString: curl_easy_strerror(code))
        let detail = String(cString: errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines)
        if !detail.isEmpty && detail != message { message += " (\(detail))" }
        return .curl(code: Int(code.rawValue), message: message + " for \(request.url)")
    }
}

/// Collects body bytes and the headers of the last response while libcurl calls back.
private final class ResponseSink {
    var body = Data()
    var headers: [String: String] = [:]
}

private let curlWriteBody: ccurl_data_callback = { pointer, size, count, userdata in
    let total = size * count
    guard let pointer, let userdata else { return total }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    sink.body.append(UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: total)
    return total
}

private let curlWriteHeader: ccurl_data_callback = { pointer, size, count, userdata in
    let total = size * count
    guard let pointer, let userdata else { return total }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    let line = String(
        decoding: UnsafeRawBufferPointer(start: pointer, count: total), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        sink.headers = [:]  // a new response (after 100 Continue or a redirect)
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(
            in: .whitespacesAndNewlines)
        sink.headers[name] = value
    }
    return total
}
