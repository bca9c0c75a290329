/// A searcher's scratch memory. What pruned search needs is small and grows with the query
/// (per query term: a table of tf = 1 scores; per hit: one heap key); the
/// exhaustive path's per-document accumulators (12 bytes per indexed document) are allocated on
/// its first use only.
final class SearchBuffers {
    private(set) var documentCount: Int

    // Exhaustive (term-at-a-time) path, allocated lazily.
    private(set) var accumulators: UnsafeMutablePointer<Double>?
    private(set) var touched: UnsafeMutablePointer<Int32>?

    /// Top-k keys and the radix sort's scratch (capacity ``keyCapacity``).
    private(set) var keys: UnsafeMutablePointer<UInt64>
    private(set) var sortScratch: UnsafeMutablePointer<UInt64>
    private(set) var keyCapacity = 0

    /// Single-term score keys for seeding the pruning threshold (capacity ``seedCapacity``).
    private(set) var seedKeys: UnsafeMutablePointer<UInt64>
    private(set) var seedCapacity = 0

    /// Per query term: 256 tf = 1 scores (one per norm byte). Capacity ``termCapacity``.
    private(set) var tfOne: UnsafeMutablePointer<Float>
    private(set) var termCapacity = 0

    init(count documentCount: Int) {
        self.documentCount = max(1, documentCount)
        keys = .allocate(capacity: 1)
        sortScratch = .allocate(capacity: 1)
        seedKeys = .allocate(capacity: 1)
        tfOne = .allocate(capacity: 1)
    }

    /// Makes room for `k` keys (keeps the larger capacity).
    func reserveKeys(_ k: Int) {
        guard k > keyCapacity else { return }
        keys.deallocate()
        sortScratch.deallocate()
        keyCapacity = max(k, 2 * keyCapacity)
        keys = .allocate(capacity: keyCapacity)
        sortScratch = .allocate(capacity: keyCapacity)
    }

    /// Makes room for `count` seed keys.
    func reserveSeedKeys(_ count: Int) {
        guard count > seedCapacity else { return }
        seedKeys.deallocate()
        seedCapacity = max(count, 2 * seedCapacity)
        seedKeys = .allocate(capacity: seedCapacity)
    }

    /// Makes room for `terms` query terms.
    func reserveTerms(_ terms: Int) {
        guard terms > termCapacity else { return }
        tfOne.deallocate()
        termCapacity = max(terms, 2 * termCapacity, 8)
        tfOne = .allocate(capacity: 256 * termCapacity)
    }

    /// Allocates the exhaustive path's per-document arrays (accumulators zeroed).
    func reserveAccumulators() {
        guard accumulators == nil else { return }
        let accumulators = UnsafeMutablePointer<Double>.allocate(capacity: documentCount)
        accumulators.initialize(repeating: 0, count: documentCount)
        self.accumulators = accumulators
        touched = .allocate(capacity: documentCount)
    }

    deinit {
        accumulators?.deallocate()
        touched?.deallocate()
        keys.deallocate()
        sortScratch.deallocate()
        seedKeys.deallocate()
        tfOne.deallocate()
    }
}
