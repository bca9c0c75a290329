import Foundation
import Testing

@testable import InparsGeneration

/// A clock the test moves by hand.
final class PoolClock: @unchecked Sendable {
    // Invariant: only the test's thread touches `now`.
    var now = 100.0
}

@Suite struct EndpointPoolTests {
    @Test func attemptsGoToTheServerWithTheFewestInFlight() {
        let pool = EndpointPool(urls: ["a", "b", "c"])
        let first = pool.acquire()
        let second = pool.acquire()
        let third = pool.acquire()
        #expect([first.url, second.url, third.url] == ["a", "b", "c"])
        pool.release(second.index, succeeded: true)
        // b has none in flight now; a and c have one each.
        #expect(pool.acquire().url == "b")
        // Ties in flight go to the server that has been sent the fewest: b has had 2.
        pool.release(first.index, succeeded: true)
        pool.release(third.index, succeeded: true)
        #expect(pool.acquire().url == "a")
        #expect(pool.statistics.map(\.requests) == [2, 2, 1])
    }

    @Test func aServerFailingInARowIsRestedThenTriedAgain() {
        let clock = PoolClock()
        let rested = RestLog()
        let pool = EndpointPool(
            urls: ["bad", "good"], restAfter: 3, restSeconds: 30, clock: { clock.now },
            onRest: { url, seconds in rested.add("\(url) \(seconds)") })
        // Alternate by in-flight counts: the bad server fails three times in a row.
        for _ in 0..<3 {
            let bad = pool.acquire(avoiding: [1])
            #expect(bad.url == "bad")
            pool.release(bad.index, succeeded: false)
        }
        #expect(rested.lines == ["bad 30.0"])
        // Resting: everything goes to the good one, whatever the in-flight counts.
        let held = pool.acquire()
        #expect(held.url == "good")
        #expect(pool.acquire().url == "good")
        // A request that failed on the good one avoids it... unless it is the only one awake,
        // then the resting server whose rest ends first is used rather than stalling.
        #expect(pool.acquire(avoiding: [1]).url == "bad")
        clock.now += 31
        #expect(pool.acquire().url == "bad")
        let statistics = pool.statistics
        #expect(statistics[0].failures == 3 && statistics[0].rests == 1 && statistics[1].failures == 0)
    }

    @Test func aSingleServerIsNeverRested() {
        let pool = EndpointPool(urls: ["only"], restAfter: 1)
        for _ in 0..<5 {
            let only = pool.acquire()
            pool.release(only.index, succeeded: false)
        }
        #expect(pool.statistics[0].rests == 0 && pool.statistics[0].failures == 5)
    }
}

/// Collects rest notices.
final class RestLog: @unchecked Sendable {
    // Invariant: `storage` is only touched under `lock`.
    private let lock = NSLock()
    private var storage: [String] = []
    func add(_ line: String) { lock.withLock { storage.append(line) } }
    var lines: [String] { lock.withLock { storage } }
}
