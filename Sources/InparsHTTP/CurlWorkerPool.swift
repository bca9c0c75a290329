import Foundation

/// A fixed set of dedicated threads that run blocking libcurl transfers.
///
/// `curl_easy_perform` blocks its thread for the whole exchange, so it must not run on the
/// Swift cooperative pool (a few slow requests would starve every task). Each worker owns one
/// easy handle for its lifetime; a handle is never touched by two threads.
///
/// Invariant behind `@unchecked Sendable`: `jobs` and `isShuttingDown` are only read or
/// written while `condition` is locked.
final class CurlWorkerPool: @unchecked Sendable {
    typealias Job = @Sendable (CurlEasy?) -> Void

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var jobsHead = 0
    private var isShuttingDown = false
    let threadCount: Int

    init(threads: Int) {
        threadCount = max(1, threads)
        for index in 0..<threadCount {
            let thread = Thread { [self] in work() }
            thread.name = "inpars.curl.\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Queues `job`; it runs on a worker thread with that worker's easy handle (`nil` if
    /// libcurl could not create one).
    func submit(_ job: @escaping Job) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the workers finish queued jobs and exit.
    func shutdown() {
        condition.lock()
        isShuttingDown = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        let easy = try? CurlEasy()
        while let job = nextJob() { job(easy) }
    }

    private func nextJob() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while jobsHead == jobs.count && !isShuttingDown { condition.wait() }
        guard jobsHead < jobs.count else { return nil }
        let job = jobs[jobsHead]
        jobsHead += 1
        if jobsHead == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            jobsHead = 0
        }
        return job
    }
}
