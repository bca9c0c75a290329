import Dispatch
import Foundation

/// Runs `body(i)` for `i` in `0..<count` on `threads` threads and returns the results in
/// index order, so the output never depends on scheduling. The first error thrown wins.
public func parallelMap<T>(
    count: Int, threads: Int, chunk: Int = 16, _ body: @Sendable (Int) throws -> T
) throws -> [T] {
    var results: [T] = []
    results.reserveCapacity(count)
    try parallelForEachInOrder(
        count: count, threads: threads, chunk: chunk, window: max(count, 1),
        transform: { _, i in try body(i) }, consume: { _, value in results.append(value) })
    return results
}

/// Runs `transform(worker, i)` for `i` in `0..<count` on `threads` threads — the calling
/// thread and `threads − 1` pool threads — and hands each result to `consume(i, result)` on
/// the calling thread, in index order, as soon as it and all before it are done; at most
/// `window` results wait to be consumed, so memory stays bounded however long the input.
/// `worker` (in `0..<threads`, one number per thread) lets each thread use its own scratch
/// state. With one thread everything runs on the calling thread. The first error
/// (from either closure) stops the work and is rethrown once the workers have stopped.
public func parallelForEachInOrder<T>(
    count: Int, threads: Int, chunk: Int = 16, window: Int = 1024,
    transform: @Sendable (_ worker: Int, _ index: Int) throws -> T,
    consume: (_ index: Int, T) throws -> Void
) throws {
    if count == 0 { return }
    let workers = max(1, min(threads, (count + chunk - 1) / chunk))
    if workers == 1 {
        for i in 0..<count { try consume(i, try transform(0, i)) }
        return
    }
    let state = OrderedResults<T>(count: count, chunk: chunk, window: max(window, chunk * workers))
    // The calling thread is the last worker: it consumes what is ready in order and, while
    // the next result is not, computes a chunk itself. So `threads` threads run in all, where
    // a consumer beside `threads` workers made one more than the cores asked for (on two
    // cores it was time-sliced with a worker and woken for every chunk: SciFact's 300
    // top-1000 queries at 2 threads spent 5.5 ms more CPU than at 1).
    let caller = workers - 1
    try withoutActuallyEscaping(transform) { transform in
        let group = DispatchGroup()
        for worker in 0..<caller {
            // The closure only runs while this function waits for `group`, so it never
            // outlives its non-escaping origin.
            DispatchQueue.global().async(group: group) {
                while let range = state.claim(wait: true) {
                    for i in range {
                        do {
                            state.store(try transform(worker, i), at: i)
                        } catch {
                            state.fail(error)
                            return
                        }
                    }
                }
            }
        }
        defer { group.wait() }
        do {
            var i = 0
            while i < count {
                let ready = try state.take(i, wait: false)
                if ready == nil, let range = state.claim(wait: false) {
                    for j in range { state.store(try transform(caller, j), at: j) }
                    continue
                }
                // Nothing to compute meanwhile: wait for it (a waiting take never returns nil).
                guard let value = try ready ?? state.take(i, wait: true) else { continue }
                try consume(i, value)
                i += 1
            }
        } catch {
            state.fail(error)
            throw error
        }
    }
}

/// Runs `first` on another thread while `second` runs on the calling thread, and returns both
/// results once both are done (start-up work that does not depend on each other, such as
/// opening an index while the queries are read). The first closure's error wins if both throw.
/// With `parallel` false both run on the calling thread, `first` first.
///
/// `first` runs on whichever thread comes to it first: when the calling thread is done with
/// `second` before the other thread has started (a pool thread can take a few milliseconds to
/// get a core: on a small virtual machine, as long as `second` itself takes), it runs `first`
/// itself instead of waiting for that thread to start and do it.
public func concurrently<A, B>(
    _ parallel: Bool = true, _ first: @Sendable () throws -> A, _ second: () throws -> B
) throws -> (A, B) {
    if !parallel { return (try first(), try second()) }
    let box = ResultBox<A>()
    return try withoutActuallyEscaping(first) { first in
        // Only the box holds `first`, and it lets go of it when a thread takes it: the
        // closure never outlives this call even when the pool thread's block (which then
        // finds nothing to run) does.
        box.work = first
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { box.runUnlessTaken() }
        let other = Result { try second() }
        if !box.runUnlessTaken() { group.wait() }
        return (try box.result!.get(), try other.get())
    }
}

/// ``concurrently(_:_:)``'s first closure until a thread takes it, and its result, read after
/// the taking thread is known to be done (it is the reader, or the reader waited for it).
private final class ResultBox<A>: @unchecked Sendable {
    var work: (@Sendable () throws -> A)?
    var result: Result<A, Error>?
    private let lock = NSLock()

    /// Runs the closure unless another thread has taken it; false when one had.
    @discardableResult
    func runUnlessTaken() -> Bool {
        let taken = lock.withLock { () -> (@Sendable () throws -> A)? in
            defer { work = nil }
            return work
        }
        guard let taken else { return false }
        result = Result { try taken() }
        return true
    }
}

/// Shared state of ``parallelForEachInOrder(count:threads:chunk:window:transform:consume:)``.
///
/// `@unchecked Sendable`: every stored property is only touched with `condition` locked.
private final class OrderedResults<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private let window: Int
    private let chunk: Int
    private var next = 0
    private var consumed = 0
    private var error: Error?
    private let slots: UnsafeMutablePointer<T?>
    /// The result the consumer sleeps on (-1: it is not sleeping), and how many workers sleep
    /// for room in the window. A store or a take wakes the others only when one of them can
    /// go on, and the consumer only once the chunk of the result it waits for is all done (a
    /// worker stores a chunk's results in order): a consumer faster than the workers then
    /// takes a chunk per wake-up instead of a result (a wake-up per result cost SciFact's 300
    /// top-1000 queries about 2 ms of context switches on two cores).
    private var consumerWaitsFor = -1
    private var workersWaiting = 0

    init(count: Int, chunk: Int, window: Int) {
        self.count = count
        self.chunk = chunk
        self.window = window
        slots = .allocate(capacity: window)
        slots.initialize(repeating: nil, count: window)
    }

    deinit {
        slots.deinitialize(count: window)
        slots.deallocate()
    }

    /// The next chunk of indices to compute, once it fits in the window; `nil` when done or
    /// failed, or (without `wait`) when it does not fit yet.
    func claim(wait: Bool) -> Range<Int>? {
        condition.lock()
        defer { condition.unlock() }
        while error == nil && next < count && min(count, next + chunk) - consumed > window {
            if !wait { return nil }
            workersWaiting += 1
            condition.wait()
            workersWaiting -= 1
        }
        guard next < count, error == nil else { return nil }
        let range = next..<min(count, next + chunk)
        next = range.upperBound
        return range
    }

    func store(_ value: T, at index: Int) {
        condition.lock()
        slots[index % window] = value
        let chunkDone = index % chunk == chunk - 1 || index == count - 1
        if chunkDone && consumerWaitsFor >= 0 && consumerWaitsFor / chunk == index / chunk {
            condition.broadcast()
        }
        condition.unlock()
    }

    func fail(_ e: Error) {
        condition.lock()
        if error == nil { error = e }
        condition.broadcast()
        condition.unlock()
    }

    /// Result `index` (the next one in order), removed from the window: waiting for it, or
    /// (without `wait`) `nil` when it is not done yet.
    func take(_ index: Int, wait: Bool) throws -> T? {
        condition.lock()
        defer { condition.unlock() }
        while slots[index % window] == nil && error == nil {
            if !wait { return nil }
            consumerWaitsFor = index
            condition.wait()
        }
        consumerWaitsFor = -1
        if let error { throw error }
        let value = slots[index % window]
        slots[index % window] = nil
        consumed = index + 1
        if workersWaiting > 0 { condition.broadcast() }
        return value
    }
}
