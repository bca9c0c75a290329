import Foundation
import InparsHTTP
import InparsTestSupport
import Testing

@Suite struct RetryPolicyTests {
    @Test(arguments: [
        // (attempt, unit, expected): cap = min(maxDelay 10, 0.5 · 2^(attempt-1))
        (1, 0.5, 0.25), (2, 0.5, 0.5), (3, 0.25, 0.5), (4, 0.999, 3.996), (6, 0.5, 5.0),
        (30, 1.0 / 8, 1.25),
    ])
    func backoffIsFullJitterUnderAnExponentialCap(attempt: Int, unit: Double, expected: Double) {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: 0.5, maxDelay: 10)
        let delay = policy.delay(afterAttempt: attempt, retryAfter: nil, unit: unit)
        #expect(abs(delay - expected) < 1e-12)
    }

    @Test func retryAfterReplacesTheBackoffAndIsCapped() {
        let policy = RetryPolicy(maxAttempts: 3, maxRetryAfter: 60)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 3, unit: 0.9) == 3)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 600, unit: 0.9) == 60)
    }

    @Test func retryAfterIsReadInSecondsOrAsAnHTTPDate() {
        func response(_ value: String) -> HTTPResponse {
            HTTPResponse(status: 429, headers: ["retry-after": value])
        }
        #expect(response(" 12 ").retryAfterSeconds == 12)
        #expect(response("1.5").retryAfterSeconds == 1.5)
        #expect(response("-1").retryAfterSeconds == nil)
        #expect(response("soon").retryAfterSeconds == nil)
        #expect(HTTPResponse(status: 429).retryAfterSeconds == nil)
        // 2015-10-21T07:28:00Z is Unix time 1445412480.
        let now = Date(timeIntervalSince1970: 1_445_412_480 - 90)
        let date = response("Wed, 21 Oct 2015 07:28:00 GMT")
        #expect(date.retryAfterSeconds(now: now) == 90)
        #expect(date.retryAfterSeconds(now: now.addingTimeInterval(600)) == 0)
    }

    @Test func theSameSeedGivesTheSameWaits() async throws {
        func waits(seed: UInt64) async throws -> [Double] {
            let sleeper = SleepRecorder()
            var random = TestRandom(seed: seed)
            _ = try? await RetryPolicy(maxAttempts: 5, baseDelay: 1, maxDelay: 100).run(
                random: &random, sleep: sleeper.sleep,
                attempt: { _ in throw HTTPError.timeout(seconds: 1) })
            return sleeper.waits
        }
        let first = try await waits(seed: 9)
        #expect(first.count == 4)
        #expect(try await waits(seed: 9) == first)
        #expect(try await waits(seed: 10) != first)
        for (index, wait) in first.enumerated() {
            #expect(wait >= 0 && wait < pow(2, Double(index)))
        }
    }

    @Test(arguments: [
        (HTTPError.status(code: 429, body: ""), true), (.status(code: 500, body: ""), true),
        (.status(code: 503, body: ""), true), (.status(code: 400, body: ""), false),
        (.status(code: 401, body: ""), false), (.status(code: 404, body: ""), false),
        (.timeout(seconds: 1), true), (.curl(code: 7, message: ""), true),
        (.curl(code: 60, message: "SSL"), false), (.invalidResponse(reason: "x"), false),
    ])
    func transientFailuresAreTheOnesWorthRetrying(error: HTTPError, transient: Bool) {
        #expect(error.isTransient == transient)
    }

    @Test func aNonHTTPErrorStopsTheLoopAtOnce() async {
        struct Boom: Error {}
        let sleeper = SleepRecorder()
        var random = TestRandom(seed: 1)
        var attempts = 0
        await #expect(throws: Boom.self) {
            _ = try await RetryPolicy(maxAttempts: 4).run(
                random: &random, sleep: sleeper.sleep,
                attempt: { _ in
                    attempts += 1
                    throw Boom()
                })
        }
        #expect(attempts == 1)
    }

    @Test func longBodiesAreExcerpted() {
        let body = String(repeating: "x", count: 2000)
        let excerpt = HTTPError.excerpt(body)
        #expect(excerpt.count == HTTPError.bodyExcerptLength + 1)
        #expect(excerpt.hasSuffix("…"))
    }
}
