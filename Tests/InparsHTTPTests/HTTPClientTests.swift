import Foundation
import InparsHTTP
import InparsTestSupport
import Testing

/// Records the waits a retry loop asks for instead of sleeping.
final class SleepRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Double] = []
    var waits: [Double] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }
    func sleep(_ seconds: Double) async throws {
        lock.withLock { recorded.append(seconds) }
    }
}

@Suite struct HTTPClientTests {
    @Test func postSendsHeadersAndBodyAndReturnsTheResponse() async throws {
        let server = try LoopbackHTTPServer { _, _ in
            ScriptedResponse(
                status: 201, headers: [("X-Answer", "42")], body: Data("créé".utf8))
        }
        let client = HTTPClient(maxConcurrentRequests: 2)
        let body = Data(#"{"prompt":"Document: x"}"#.utf8)
        let response = try await client.perform(
            .postJSON(
                url: server.baseURL + "/v1/completions", body: body,
                headers: [("Authorization", "Bearer k")], timeout: 5))
        #expect(response.status == 201)
        #expect(response.headers["x-answer"] == "42")
        #expect(String(decoding: response.body, as: UTF8.self) == "créé")
        let request = try #require(server.requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/v1/completions")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["authorization"] == "Bearer k")
        #expect(request.body == body)
    }

    @Test func aSlowServerRaisesTimeoutWithinTheLimit() async throws {
        // The server would answer 200 after 3 s; a timeout error proves the client gave up
        // first (no wall-clock assertion: the machine may be loaded).
        let server = try LoopbackHTTPServer { _, _ in .json("{}", delay: 3) }
        let client = HTTPClient(maxConcurrentRequests: 1)
        await #expect(throws: HTTPError.timeout(seconds: 0.3)) {
            _ = try await client.perform(
                .postJSON(url: server.baseURL + "/", body: Data("{}".utf8), timeout: 0.3))
        }
    }

    @Test func aClosedPortIsAConnectionError() async throws {
        let port = try LoopbackHTTPServer.unusedPort()
        let client = HTTPClient(maxConcurrentRequests: 1)
        do {
            _ = try await client.perform(
                .postJSON(url: "http://127.0.0.1:\(port)/", body: Data(), timeout: 5))
            Issue.record("expected a connection error")
        } catch let error as HTTPError {
            guard case .curl(let code, let message) = error else {
                Issue.record("expected .curl, got \(error)")
                return
            }
            #expect(code == 7)  // CURLE_COULDNT_CONNECT
            #expect(message.contains("127.0.0.1:\(port)"))
            #expect(error.isTransient)
            #expect(error.localizedDescription.contains("curl error 7"))
        }
    }

    @Test func aDroppedConnectionIsATransientCurlError() async throws {
        let server = try LoopbackHTTPServer { _, _ in ScriptedResponse(dropsConnection: true) }
        let client = HTTPClient(maxConcurrentRequests: 1)
        do {
            _ = try await client.perform(.postJSON(url: server.baseURL, body: Data(), timeout: 5))
            Issue.record("expected an error")
        } catch let error as HTTPError {
            #expect(error == .curl(code: 52, message: error.curlMessage))
            #expect(error.isTransient)
        }
    }

    @Test func rateLimitedRequestsWaitForRetryAfterThenSucceed() async throws {
        let server = try LoopbackHTTPServer { _, index in
            index == 0
                ? .json(#"{"error":"slow down"}"#, status: 429, headers: [("Retry-After", "7")])
                : .json(#"{"ok":true}"#)
        }
        let client = HTTPClient(maxConcurrentRequests: 1)
        let sleeper = SleepRecorder()
        var random = TestRandom(seed: 1)
        var events: [RetryEvent] = []
        let response = try await RetryPolicy(maxAttempts: 3).run(
            random: &random, sleep: sleeper.sleep, onRetry: { events.append($0) },
            attempt: { _ in
                try await client.perform(.postJSON(url: server.baseURL, body: Data(), timeout: 5))
            })
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"ok":true}"#)
        #expect(sleeper.waits == [7])
        #expect(events.map(\.attempt) == [1])
        #expect(events.first?.error == .status(code: 429, body: #"{"error":"slow down"}"#))
        #expect(server.requests.count == 2)
    }

    @Test func aServerErrorIsRetriedThenSucceeds() async throws {
        let server = try LoopbackHTTPServer { _, index in
            index == 0 ? .json("oops", status: 500) : .json("{}")
        }
        let client = HTTPClient(maxConcurrentRequests: 1)
        let sleeper = SleepRecorder()
        var random = TestRandom(seed: 2)
        let response = try await RetryPolicy(maxAttempts: 2, baseDelay: 0.5).run(
            random: &random, sleep: sleeper.sleep,
            attempt: { _ in
                try await client.perform(.postJSON(url: server.baseURL, body: Data(), timeout: 5))
            })
        #expect(response.status == 200)
        #expect(server.requests.count == 2)
        let wait = try #require(sleeper.waits.first)
        #expect(wait >= 0 && wait < 0.5)  // full jitter below the first cap
    }

    @Test func aClientErrorIsNotRetried() async throws {
        let server = try LoopbackHTTPServer { _, _ in .json(#"{"error":"bad model"}"#, status: 400)
        }
        let client = HTTPClient(maxConcurrentRequests: 1)
        let sleeper = SleepRecorder()
        var random = TestRandom(seed: 3)
        await #expect(throws: HTTPError.status(code: 400, body: #"{"error":"bad model"}"#)) {
            _ = try await RetryPolicy(maxAttempts: 5).run(
                random: &random, sleep: sleeper.sleep,
                attempt: { _ in
                    try await client.perform(
                        .postJSON(url: server.baseURL, body: Data(), timeout: 5))
                })
        }
        #expect(server.requests.count == 1)
        #expect(sleeper.waits.isEmpty)
    }

    @Test func attemptsRunOutOnAPersistentOutage() async throws {
        let server = try LoopbackHTTPServer { _, _ in .json("down", status: 503) }
        let client = HTTPClient(maxConcurrentRequests: 1)
        let sleeper = SleepRecorder()
        var random = TestRandom(seed: 4)
        await #expect(throws: HTTPError.status(code: 503, body: "down")) {
            _ = try await RetryPolicy(maxAttempts: 3).run(
                random: &random, sleep: sleeper.sleep,
                attempt: { _ in
                    try await client.perform(
                        .postJSON(url: server.baseURL, body: Data(), timeout: 5))
                })
        }
        #expect(server.requests.count == 3)
        #expect(sleeper.waits.count == 2)
    }

    @Test func requestsOverlapUpToTheWorkerCount() async throws {
        // Each handler waits until all 8 requests have arrived before answering: only
        // overlapping requests can fill the barrier; serial ones would time out at 20 s and
        // answer 503. No wall-clock assertion.
        let barrier = ArrivalBarrier(expected: 8)
        let server = try LoopbackHTTPServer { _, _ in
            barrier.arriveAndWait(timeout: 20) ? .json("{}") : .json("{}", status: 503)
        }
        let client = HTTPClient(maxConcurrentRequests: 8)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await client.perform(
                        .postJSON(url: server.baseURL, body: Data(), timeout: 5)
                    ).status
                }
            }
            for try await status in group { #expect(status == 200) }
        }
    }
}

/// Blocks arriving threads until `expected` of them have arrived (or a timeout passes).
private final class ArrivalBarrier: @unchecked Sendable {  // all state behind `condition`
    private let condition = NSCondition()
    private var arrived = 0
    private let expected: Int

    init(expected: Int) { self.expected = expected }

    /// Returns true when all expected threads arrived before the timeout.
    func arriveAndWait(timeout: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while arrived < expected {
            if !condition.wait(until: deadline) { return arrived >= expected }
        }
        return true
    }
}

extension HTTPError {
    fileprivate var curlMessage: String {
        if case .curl(_, let message) = self { return message }
        return ""
    }
}
