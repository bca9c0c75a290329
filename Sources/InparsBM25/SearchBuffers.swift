/// The per-searcher scratch memory, sized to the index's document count.
final class SearchBuffers {
    let accumulators: UnsafeMutablePointer<Double>
    let touched: UnsafeMutablePointer<Int32>
    let candidates: UnsafeMutablePointer<UInt64>
    let scratch: UnsafeMutablePointer<UInt64>

    init(count documentCount: Int) {
        let count = max(1, documentCount)
        accumulators = .allocate(capacity: count)
        accumulators.initialize(repeating: 0, count: count)
        touched = .allocate(capacity: count)
        candidates = .allocate(capacity: count)
        scratch = .allocate(capacity: count)
    }

    deinit {
        accumulators.deallocate()
        touched.deallocate()
        candidates.deallocate()
        scratch.deallocate()
    }
}
