import Foundation
import InparsCore
import InparsTestSupport
import Testing

/// `parallelForEachInOrder` hands results over in order, keeps at most `window` of them
/// waiting, runs `threads` threads counting the calling one, and stops on the first error,
/// with workers and consumer taking turns at random speeds (its wake-ups are only sent to
/// whoever can go on: a lost one would hang here).
@Suite(.timeLimit(.minutes(1))) struct ParallelMapTests {
    /// Microseconds of work for item `i` of trial `seed` (0 to 300, some items 20 times more).
    static func delay(_ i: Int, _ seed: Int) -> UInt32 {
        var random = TestRandom(seed: UInt64(seed * 100_003 + i))
        let base = UInt32.random(in: 0...300, using: &random)
        return Int.random(in: 0..<10, using: &random) == 0 ? base * 20 : base
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var produced = 0
        private var consumed = 0
        private(set) var largestAhead = 0

        func produce() {
            lock.lock()
            produced += 1
            largestAhead = max(largestAhead, produced - consumed)
            lock.unlock()
        }

        func consume() {
            lock.lock()
            consumed += 1
            lock.unlock()
        }
    }

    @Test(arguments: [(1, 1, 2), (4, 1, 3), (8, 2, 2), (32, 4, 3), (5, 3, 2)])
    func resultsComeInOrderWithinTheWindow(window: Int, chunk: Int, threads: Int) throws {
        for seed in 0..<4 {
            let count = 150
            let counter = Counter()
            var order: [Int] = []
            try parallelForEachInOrder(
                count: count, threads: threads, chunk: chunk, window: window,
                transform: { _, i in
                    counter.produce()
                    usleep(Self.delay(i, seed))
                    return i * 3
                },
                consume: { i, value in
                    #expect(value == i * 3)
                    order.append(i)
                    counter.consume()
                    if seed % 2 == 1 { usleep(Self.delay(i + count, seed)) }  // a slow consumer
                })
            #expect(order == Array(0..<count), "seed \(seed)")
            // Started but not yet consumed: the window (at least chunk × threads) bounds it,
            // besides the one in the consumer's hands.
            #expect(counter.largestAhead <= max(window, chunk * threads) + 1, "seed \(seed)")
        }
    }

    /// Worker numbers in use, and by which threads.
    final class Workers: @unchecked Sendable {
        private let lock = NSLock()
        private var busy = Set<Int>()
        private(set) var mostAtOnce = 0
        private(set) var sharedNumber = false
        private(set) var byCaller = 0

        func begin(_ worker: Int, caller: pthread_t) {
            lock.lock()
            if !busy.insert(worker).inserted { sharedNumber = true }
            mostAtOnce = max(mostAtOnce, busy.count)
            if pthread_equal(pthread_self(), caller) != 0 { byCaller += 1 }
            lock.unlock()
        }

        func end(_ worker: Int) {
            lock.lock()
            busy.remove(worker)
            lock.unlock()
        }
    }

    /// `threads` threads in all, the calling thread among them (it works while the next
    /// result is not done), each with a worker number of its own in `0..<threads`.
    @Test(arguments: [2, 3])
    func theCallingThreadIsOneOfTheThreads(threads: Int) throws {
        let workers = Workers()
        let caller = pthread_self()
        var consumed = 0
        try parallelForEachInOrder(
            count: 150, threads: threads, chunk: 2, window: 16,
            transform: { worker, i in
                #expect((0..<threads).contains(worker))
                workers.begin(worker, caller: caller)
                usleep(Self.delay(i, threads))
                workers.end(worker)
                return i
            },
            consume: { i, value in
                #expect(value == i)
                consumed += 1
            })
        #expect(consumed == 150)
        #expect(!workers.sharedNumber, "two threads ran with the same worker number at once")
        #expect(workers.mostAtOnce <= threads)
        #expect(workers.byCaller > 0, "the calling thread computed nothing")
    }

    struct Failure: Error, Equatable { let at: Int }

    @Test func theFirstErrorStopsTheWorkAndComesBack() {
        for failing in [0, 7, 99] {
            #expect(throws: Failure(at: failing)) {
                try parallelForEachInOrder(
                    count: 100, threads: 3, chunk: 2, window: 8,
                    transform: { _, i in
                        usleep(Self.delay(i, failing))
                        if i == failing { throw Failure(at: i) }
                        return i
                    },
                    consume: { _, _ in })
            }
            #expect(throws: Failure(at: failing)) {
                try parallelForEachInOrder(
                    count: 100, threads: 3, chunk: 2, window: 8,
                    transform: { _, i in
                        usleep(Self.delay(i, failing))
                        return i
                    },
                    consume: { i, _ in if i == failing { throw Failure(at: i) } })
            }
        }
    }
}
