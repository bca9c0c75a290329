import Dispatch
import Foundation

/// Runs `body(i)` for `i` in `0..<count` on `threads` threads and returns the results in
/// index order, so the output never depends on scheduling. The first error thrown wins.
func parallelMap<T>(
    count: Int, threads: Int, chunk: Int = 16, _ body: @Sendable (Int) throws -> T
) throws -> [T] {
    if count == 0 { return [] }
    let box = ResultBox<T>(count: count)
    let workers = max(1, min(threads, (count + chunk - 1) / chunk))
    if workers == 1 {
        return try (0..<count).map(body)
    }
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while let range = box.claim(chunk: chunk) {
            for i in range {
                if box.failed { return }
                do {
                    box.store(try body(i), at: i)
                } catch {
                    box.fail(error)
                    return
                }
            }
        }
    }
    return try box.results()
}

/// Shared state of ``parallelMap(count:threads:chunk:_:)``.
///
/// `@unchecked Sendable`: `next` and `error` are only touched with `lock` held, and each slot
/// of `slots` is written by exactly one worker (the one that claimed its index) and read only
/// after `concurrentPerform` returns.
private final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var error: Error?
    private let count: Int
    private let slots: UnsafeMutablePointer<T?>

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil, count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func claim(chunk: Int) -> Range<Int>? {
        lock.lock()
        defer { lock.unlock() }
        guard next < count, error == nil else { return nil }
        let range = next..<min(count, next + chunk)
        next = range.upperBound
        return range
    }

    var failed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return error != nil
    }

    func store(_ value: T, at index: Int) { slots[index] = value }

    func fail(_ e: Error) {
        lock.lock()
        if error == nil { error = e }
        lock.unlock()
    }

    func results() throws -> [T] {
        if let error { throw error }
        return (0..<count).map { slots[$0]! }
    }
}
