/// A searcher's scratch memory. What pruned search needs is small and grows with the query
/// (per query term: a table of tf = 1 scores; per hit: one heap key); the
/// exhaustive path's per-document accumulators (13 bytes per indexed document) are allocated on
/// its first use only.
final class SearchBuffers {
    private(set) var documentCount: Int

    // Exhaustive (term-at-a-time) path, allocated lazily.
    private(set) var accumulators: UnsafeMutablePointer<Double>?
    private(set) var touched: UnsafeMutablePointer<Int32>?
    /// One byte per document: touched by the query (dense accumulation).
    private(set) var marks: UnsafeMutablePointer<UInt8>?

    /// Top-k keys and the radix sort's scratch (capacity ``keyCapacity``).
    private(set) var keys: UnsafeMutablePointer<UInt64>
    private(set) var sortScratch: UnsafeMutablePointer<UInt64>
    private(set) var keyCapacity = 0

    /// Single-term score keys for seeding the pruning threshold, and the selection's scratch
    /// (capacity ``seedCapacity``).
    private(set) var seedKeys: UnsafeMutablePointer<UInt64>
    private(set) var seedScratch: UnsafeMutablePointer<UInt64>
    private(set) var seedCapacity = 0

    /// Per query term: 256 tf = 1 scores (one per norm byte). Capacity ``termCapacity``.
    private(set) var tfOne: UnsafeMutablePointer<Float>
    private(set) var termCapacity = 0
    /// Per query term: 256 · ``tableTf`` scores (tf = 1 … ``tableTf``, by norm byte), filled
    /// for the windowed pruned search only. Capacity ``termCapacity``.
    private(set) var tfTable: UnsafeMutablePointer<Float>
    /// The largest tf in ``tfTable``: 8 covers nearly every posting of a passage collection,
    /// so scoring a dense list does no division; filling it (2,048 divisions per term) is
    /// far below the cost of a query that reads dense lists a window at a time.
    static let tableTf = 8
    /// Per query term: one decoded block (``PostingBlocks/size`` documents and scores), which
    /// its cursor keeps while it works in that block. Capacity ``termCapacity``.
    private(set) var blockDocs: UnsafeMutablePointer<UInt32>
    private(set) var blockScores: UnsafeMutablePointer<Float>

    init(count documentCount: Int) {
        self.documentCount = max(1, documentCount)
        keys = .allocate(capacity: 1)
        sortScratch = .allocate(capacity: 1)
        seedKeys = .allocate(capacity: 1)
        seedScratch = .allocate(capacity: 1)
        tfOne = .allocate(capacity: 1)
        tfTable = .allocate(capacity: 1)
        blockDocs = .allocate(capacity: 1)
        blockScores = .allocate(capacity: 1)
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
        seedScratch.deallocate()
        seedCapacity = max(count, 2 * seedCapacity)
        seedKeys = .allocate(capacity: seedCapacity)
        seedScratch = .allocate(capacity: seedCapacity)
    }

    /// Makes room for `terms` query terms.
    func reserveTerms(_ terms: Int) {
        guard terms > termCapacity else { return }
        tfOne.deallocate()
        tfTable.deallocate()
        blockDocs.deallocate()
        blockScores.deallocate()
        termCapacity = max(terms, 2 * termCapacity, 8)
        tfOne = .allocate(capacity: 256 * termCapacity)
        tfTable = .allocate(capacity: 256 * Self.tableTf * termCapacity)
        blockDocs = .allocate(capacity: PostingBlocks.size * termCapacity)
        blockScores = .allocate(capacity: PostingBlocks.size * termCapacity)
    }

    /// The windowed search's scratch (rebuilt when it is too small).
    private(set) var window: WindowBuffers?

    /// Makes room for windows of `size` documents over `terms` query terms.
    func reserveWindow(terms: Int, size: Int) -> WindowBuffers {
        if let window, window.terms >= terms, window.size == size { return window }
        let window = WindowBuffers(terms: max(terms, 2 * (self.window?.terms ?? 0), 8), size: size)
        self.window = window
        return window
    }

    /// Allocates the exhaustive path's per-document arrays (accumulators zeroed).
    func reserveAccumulators() {
        guard accumulators == nil else { return }
        let accumulators = UnsafeMutablePointer<Double>.allocate(capacity: documentCount)
        accumulators.initialize(repeating: 0, count: documentCount)
        self.accumulators = accumulators
        touched = .allocate(capacity: documentCount)
        let marks = UnsafeMutablePointer<UInt8>.allocate(capacity: documentCount)
        marks.initialize(repeating: 0, count: documentCount)
        self.marks = marks
    }

    deinit {
        accumulators?.deallocate()
        touched?.deallocate()
        marks?.deallocate()
        keys.deallocate()
        sortScratch.deallocate()
        seedKeys.deallocate()
        seedScratch.deallocate()
        tfOne.deallocate()
        tfTable.deallocate()
        blockDocs.deallocate()
        blockScores.deallocate()
    }
}

/// The per-window scratch of the windowed pruned search (``WindowedMaxScoreSearch``), sized
/// for `terms` query terms and windows of `size` documents (a power of two, at most 65,536).
///
/// Term scores are recorded per query term and window offset with the window's
/// *generation* beside them, so nothing has to be cleared between windows: a score recorded
/// in an earlier window reads as absent.
final class WindowBuffers {
    let size: Int
    let terms: Int
    /// Per query term (query order) and offset: generation << 32 | the score's float bits.
    private let slots: UnsafeMutablePointer<UInt64>
    private var generation: UInt64 = 0
    /// Summed scores of the essential terms, valid where `matched` has the offset's bit.
    let partial: UnsafeMutablePointer<Double>
    /// One bit per offset; all zero between windows.
    let matched: UnsafeMutablePointer<UInt64>
    /// Candidate offsets (document order) and their score bounds.
    let candidates: UnsafeMutablePointer<UInt16>
    let candidateBound: UnsafeMutablePointer<Double>
    /// Per term (bound order): its local bound in the window, and the sums of the list
    /// bounds `prefix[j] = bound(0) + … + bound(j)`.
    let bound: UnsafeMutablePointer<Double>
    let prefix: UnsafeMutablePointer<Double>
    /// Term numbers (bound order) sorted by local bound.
    let order: UnsafeMutablePointer<Int>
    /// Range bounds (``IndexFormat``): ranges of ``IndexFormat/rangeSize`` documents a window
    /// overlaps (it need not start on a range boundary).
    let ranges: Int
    /// Per term (bound order): its bound by range byte (256 each), the same rounded up to
    /// whole ``unit``s (256 each), and its range bytes from the index (nil: none, or not valid
    /// for the query's `b`).
    let rangeTable: UnsafeMutablePointer<Double>
    let unitTable: UnsafeMutablePointer<UInt16>
    let rangeBytes: UnsafeMutablePointer<UnsafePointer<UInt8>?>
    /// The query's unit of range bounds (a power of two, so whole units add up exactly;
    /// set by the searcher when the query starts).
    var unit = 1.0
    /// Per term (bound order, `ranges` each and one more): its bound in each range of the
    /// current window, in units.
    let rangeUnits: UnsafeMutablePointer<UInt16>
    /// Per range of the current window: the non-essential terms' bounds summed, in units
    /// (`sumUnits`) and as scores (`rangeSum`).
    let sumUnits: UnsafeMutablePointer<UInt16>
    let rangeSum: UnsafeMutablePointer<Double>
    /// Per range of the current window: the essential terms' bounds summed, in units.
    let ownUnits: UnsafeMutablePointer<UInt16>
    /// Per range of the current window: whether a candidate can lie there (live,
    /// `inpars_live_ranges`; ``ranges`` bytes and 4 more, as the kernels read them with 32-bit
    /// gathers), and the same as bits.
    let live: UnsafeMutablePointer<UInt8>
    let liveBits: UnsafeMutablePointer<UInt64>

    init(terms: Int, size: Int) {
        precondition(size > 0 && size <= 1 << 16 && size & (size - 1) == 0)
        self.size = size
        self.terms = terms
        slots = .allocate(capacity: terms * size)
        slots.initialize(repeating: 0, count: terms * size)
        partial = .allocate(capacity: size)
        matched = .allocate(capacity: size / 64 + 1)
        matched.initialize(repeating: 0, count: size / 64 + 1)
        candidates = .allocate(capacity: size)
        candidateBound = .allocate(capacity: size)
        bound = .allocate(capacity: terms)
        prefix = .allocate(capacity: terms)
        order = .allocate(capacity: terms)
        ranges = (size + IndexFormat.rangeSize - 1) / IndexFormat.rangeSize + 1
        rangeTable = .allocate(capacity: terms * 256)
        unitTable = .allocate(capacity: terms * 256)
        rangeBytes = .allocate(capacity: terms)
        rangeUnits = .allocate(capacity: terms * ranges + 1)
        rangeUnits.initialize(repeating: 0, count: terms * ranges + 1)
        sumUnits = .allocate(capacity: ranges)
        rangeSum = .allocate(capacity: ranges)
        ownUnits = .allocate(capacity: ranges)
        live = .allocate(capacity: ranges + 4)
        live.initialize(repeating: 0, count: ranges + 4)
        liveBits = .allocate(capacity: (ranges + 63) / 64)
        liveBits.initialize(repeating: 0, count: (ranges + 63) / 64)
    }

    deinit {
        slots.deallocate()
        partial.deallocate()
        matched.deallocate()
        candidates.deallocate()
        candidateBound.deallocate()
        bound.deallocate()
        prefix.deallocate()
        order.deallocate()
        rangeTable.deallocate()
        unitTable.deallocate()
        rangeBytes.deallocate()
        rangeUnits.deallocate()
        sumUnits.deallocate()
        rangeSum.deallocate()
        ownUnits.deallocate()
        live.deallocate()
        liveBits.deallocate()
    }

    /// The unit of range bounds for a query whose terms' bounds add up to `boundSum`: the
    /// power of two that makes the sum less than 2^15 units, so every term's bound rounded
    /// up to whole units still adds up to less than 2^16 for up to 2^15 terms.
    static func unit(boundSum: Double) -> Double {
        guard boundSum > 0, boundSum.isFinite else { return 1 }
        return Double(sign: .plus, exponent: max(boundSum.exponent - 14, -1022), significand: 1)
    }

    /// `bound` rounded up to whole ``unit``s (at most 2^15 for a bound within the sum
    /// ``unit(boundSum:)`` was chosen for).
    @inline(__always)
    func units(_ bound: Double) -> UInt16 {
        UInt16(min((bound / unit).rounded(.up), 65_535))
    }

    /// The largest whole number of ``unit``s at most `cutoff` (−1 below 0): a sum of units
    /// `u` has `u · unit > cutoff` exactly when `u > cutoffUnits(cutoff)`.
    @inline(__always)
    func cutoffUnits(_ cutoff: Double) -> Int32 {
        let units = (cutoff / unit).rounded(.down)
        return units < 0 ? -1 : Int32(min(units, 65_535))
    }

    /// Whether any of the ranges `first...last` of the current window is live.
    @inline(__always)
    func anyLive(_ first: Int, _ last: Int) -> Bool {
        var w = first >> 6
        var word = liveBits[w] & (UInt64.max << UInt64(first & 63))
        let lastWord = last >> 6
        while w < lastWord {
            if word != 0 { return true }
            w += 1
            word = liveBits[w]
        }
        let keep = last & 63 == 63 ? UInt64.max : (1 << UInt64((last & 63) + 1)) &- 1
        return word & keep != 0
    }

    /// Starts a window: every recorded score becomes absent.
    @inline(__always)
    func nextGeneration() {
        generation &+= 1
        if generation == 1 << 32 {
            slots.update(repeating: 0, count: terms * size)
            generation = 1
        }
    }

    /// The recorded entries of query term `slot` (one per offset), for
    /// `inpars_refine_candidates`, `inpars_essential_block` and `inpars_accumulate_block`.
    @inline(__always)
    func entries(_ slot: Int) -> UnsafeMutablePointer<UInt64> { slots + slot &* size }

    /// The current window's generation (the upper half of its recorded entries).
    @inline(__always)
    var currentGeneration: UInt64 { generation }

    /// Records the score of query term `slot` at window offset `o`.
    @inline(__always)
    func record(_ slot: Int, _ o: Int, _ score: Float) {
        slots[slot &* size &+ o] = generation << 32 | UInt64(score.bitPattern)
    }

    /// The score recorded for query term `slot` at offset `o` in this window, 0 if none
    /// (adding 0 to a non-negative sum changes nothing, so absent terms can be summed too).
    @inline(__always)
    func recorded(_ slot: Int, _ o: Int) -> Double {
        let entry = slots[slot &* size &+ o]
        return entry >> 32 == generation
            ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: entry))) : 0
    }
}
