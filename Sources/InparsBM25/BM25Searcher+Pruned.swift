extension BM25Searcher {
    /// Pruned top-k search. Queries whose terms are all dense (``usesWindows``) run the
    /// windowed MaxScore of ``WindowedMaxScoreSearch``, the others document-at-a-time MaxScore
    /// with block-max bounds (Turtle & Flood 1995; Ding & Suel 2011), see ``MaxScoreSearch``.
    /// In both a surviving candidate's score is summed in query term order and rounded once,
    /// exactly as the exhaustive path does, and ranked by the same key, so the hits are
    /// identical whichever runs.
    func searchPruned(k: Int) -> [BM25Hit] {
        let m = planTerms.count
        buffers.reserveKeys(k)
        return lengthCache.withUnsafeBufferPointer { cache in
            withUnsafeTemporaryAllocation(of: PostingCursor.self, capacity: m) { cursorBuffer in
                let cursors = cursorBuffer.baseAddress!
                let windowed = usesWindows
                openCursors(cursors, cache: cache.baseAddress!, tables: windowed)
                defer { cursors.deinitialize(count: m) }
                let heapCount: Int
                if windowed {
                    let search = searchWindowed(k: k, cursors: cursors, m: m)
                    statistics.add(search.statistics)
                    statistics.windowed += 1
                    heapCount = search.heapCount
                } else {
                    let search = searchDocumentAtATime(k: k, cursors: cursors, m: m)
                    statistics.add(search.statistics)
                    heapCount = search.heapCount
                }
                return hits(fromKeys: buffers.keys, count: heapCount)
            }
        }
    }

    /// Whether the current query runs the windowed search: every term is in at least one
    /// document in ``windowedDensity`` (so no list is rare enough to drive a
    /// document-at-a-time search, and reading the lists a window at a time is cheaper).
    var usesWindows: Bool {
        let n = index.documentCount
        // Range bounds are summed in 16-bit units (``WindowBuffers/unit(boundSum:)``).
        return planTerms.count < 1 << 15
            && planTerms.allSatisfy { Int(index.docFreqs[$0]) * windowedDensity >= n }
    }

    /// The document-at-a-time MaxScore search over cursors opened by ``searchPruned(k:)``.
    private func searchDocumentAtATime(
        k: Int, cursors: UnsafeMutablePointer<PostingCursor>, m: Int
    ) -> MaxScoreSearch {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * m) { doubles in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: m) { stamps in
                var search = MaxScoreSearch(
                    k: k, m: m, cursors: cursors, prefix: doubles.baseAddress!,
                    slots: doubles.baseAddress! + m, stamp: stamps.baseAddress!,
                    heap: buffers.keys, ranks: index.docIdRanks.baseAddress!)
                search.bounds.theta = seedThreshold(k: k, cursors: cursors, m: m)
                search.run()
                return search
            }
        }
    }

    /// Opens one cursor per query term, ordered by term bound (ascending). With `tables`,
    /// each term's scores for tf ≤ ``SearchBuffers/tableTf`` are tabulated first (the
    /// windowed search reads dense lists whole, where a division per posting would count).
    private func openCursors(
        _ cursors: UnsafeMutablePointer<PostingCursor>, cache: UnsafePointer<Float>, tables: Bool
    ) {
        let m = planTerms.count
        var opened: [PostingCursor] = []
        opened.reserveCapacity(m)
        let tableTf = tables ? SearchBuffers.tableTf : 1
        for i in 0..<m {
            let weight = planWeights[i]
            var scores = UnsafePointer(buffers.tfOne + 256 * i)
            if tables {
                let table = buffers.tfTable + 256 * tableTf * i
                table.update(from: buffers.tfOne + 256 * i, count: 256)
                for tf in 2...tableTf {
                    let row = table + 256 * (tf - 1)
                    for norm in 0..<256 { row[norm] = weight - weight / (1 + Float(tf) * cache[norm]) }
                }
                scores = UnsafePointer(table)
            }
            opened.append(
                PostingCursor(
                    index: index, term: planTerms[i], planIndex: i, weight: weight,
                    scores: scores, tableTf: tableTf, cache: cache, exactBounds: exactBlockBounds,
                    decodedDocs: buffers.blockDocs + PostingBlocks.size * i,
                    decodedScores: buffers.blockScores + PostingBlocks.size * i))
        }
        opened.sort { ($0.termBound, $0.planIndex) < ($1.termBound, $1.planIndex) }
        for (j, cursor) in opened.enumerated() { (cursors + j).initialize(to: cursor) }
    }

    /// A starting threshold: the k-th best single-term score among the first postings of one
    /// term (at most ``seedPostings(k:)`` of them). Those k documents score at least that
    /// much in full (term scores are ≥ 0), so no document scoring less can be in the top k,
    /// and pruning starts at once instead of after the first k matches, which for queries
    /// with very common words are mostly poor. The term with the largest bound among those
    /// with ≥ k postings is used. Returns −1 when no term has k postings.
    func seedThreshold(
        k: Int, cursors: UnsafeMutablePointer<PostingCursor>, m: Int
    ) -> Double {
        guard
            let j = (0..<m).reversed().first(where: {
                Int(index.docFreqs[planTerms[cursors[$0].planIndex]]) >= k
            })
        else { return -1 }
        let limit = min(Int(index.docFreqs[planTerms[cursors[j].planIndex]]), seedPostings(k: k))
        buffers.reserveSeedKeys(limit)
        let keys = buffers.seedKeys
        var probe = cursors[j]  // a copy: the term's own cursor stays at its start
        for n in 0..<limit {
            keys[n] = UInt64(probe.score().bitPattern)
            probe.next()
        }
        Self.selectLargest(keys, count: limit, k: k, scratch: buffers.seedScratch)
        var kth = keys[0]
        for n in 1..<k where keys[n] < kth { kth = keys[n] }
        return Double(Float(bitPattern: UInt32(kth)))
    }

    /// Postings read to seed the threshold: enough for a good estimate, a small fraction of
    /// what a query with common words reads (16·k: at k = 1000 the common-word queries of the
    /// MS MARCO-like benchmark ran 5 % faster than with 64·k, whose selection cost more than
    /// its better start saved; other sets unchanged).
    func seedPostings(k: Int) -> Int { min(max(16 * k, 4096), 65_536) }
}

/// The state of one pruned search. Terms `0..<p` (by ascending bound) are non-essential:
/// their bounds add up to no more than the k-th best score, so a document having only those
/// terms cannot enter; candidates come from the essential terms `p..<m` only.
struct MaxScoreSearch {
    let k: Int
    let m: Int
    let cursors: UnsafeMutablePointer<PostingCursor>
    /// Per query-order term: its score in the candidate `stamp` names.
    let slots: UnsafeMutablePointer<Double>
    let stamp: UnsafeMutablePointer<UInt32>
    let heap: UnsafeMutablePointer<UInt64>
    let ranks: UnsafePointer<UInt32>

    var heapCount = 0
    /// The threshold and the non-essential terms `0..<bounds.p`.
    var bounds: MaxScoreBounds
    /// Work counters.
    var statistics = BM25Searcher.Statistics()

    init(
        k: Int, m: Int, cursors: UnsafeMutablePointer<PostingCursor>,
        prefix: UnsafeMutablePointer<Double>, slots: UnsafeMutablePointer<Double>,
        stamp: UnsafeMutablePointer<UInt32>, heap: UnsafeMutablePointer<UInt64>,
        ranks: UnsafePointer<UInt32>
    ) {
        self.k = k
        self.m = m
        self.cursors = cursors
        self.slots = slots
        self.stamp = stamp
        self.heap = heap
        self.ranks = ranks
        bounds = MaxScoreBounds(cursors: cursors, m: m, prefix: prefix)
        stamp.update(repeating: .max, count: m)
    }

    mutating func run() {
        guard bounds.raise(to: bounds.theta) else { return }
        var windowEnd: UInt32 = 0
        var windowTheta = -2.0
        while bounds.p < m - 1 {
            var d = UInt32.max
            for j in bounds.p..<m { d = min(d, cursors[j].doc) }
            if d == .max { return }
            if bounds.theta >= 0 && (d > windowEnd || windowTheta != bounds.theta) {
                // Block-max: all essential postings in [d, end] lie in one block per term.
                var bound = bounds.nonEssential
                var end = UInt32.max
                for j in bounds.p..<m {
                    cursors[j].moveShallow(to: d)
                    bound += cursors[j].shallowBound
                    end = min(end, cursors[j].shallowLast)
                }
                if !bounds.canEnter(bound) {
                    if end == .max { return }
                    for j in bounds.p..<m { cursors[j].advance(to: end + 1) }
                    continue
                }
                windowEnd = end
                windowTheta = bounds.theta
            }
            var partial = 0.0
            for j in bounds.p..<m where cursors[j].doc == d {
                let s = cursors[j].score()
                record(j, d, s)
                partial += Double(s)
                cursors[j].next()
            }
            if !consider(d, partial: partial) { return }
        }
        if bounds.p == m - 1 { scanSingle() }
    }

    /// One essential term left: walk its blocks directly, skipping those whose bound plus the
    /// non-essential bounds cannot enter, and testing each posting's score against the cutoff
    /// before anything else. The essential set cannot grow, so this runs to the end.
    private mutating func scanSingle() {
        let e = m - 1
        while cursors[e].doc != .max {
            let d = cursors[e].doc
            cursors[e].moveShallow(to: d)
            if !bounds.canEnter(cursors[e].shallowBound + bounds.nonEssential) {
                let last = cursors[e].shallowLast
                if last == .max { return }
                cursors[e].advance(to: last + 1)
                continue
            }
            var stop = false
            var threshold = bounds.cutoff - bounds.nonEssential
            cursors[e].forEachInBlock { doc, s in
                guard Double(s) > threshold else { return true }
                record(e, doc, s)
                if !consider(doc, partial: Double(s)) {
                    stop = true
                    return false
                }
                threshold = bounds.cutoff - bounds.nonEssential
                return true
            }
            if stop { return }
        }
    }

    @inline(__always)
    private func record(_ j: Int, _ d: UInt32, _ s: Float) {
        let slot = cursors[j].planIndex
        slots[slot] = Double(s)
        stamp[slot] = d
    }

    /// Probes the non-essential terms for candidate `d` (essential scores already recorded,
    /// summing to `partial`), from the largest bound down, replacing each block bound by the
    /// actual score and giving up as soon as the bound falls short; then scores it exactly and
    /// offers it to the heap. False when no document can enter any more.
    @inline(__always)
    private mutating func consider(_ d: UInt32, partial: Double) -> Bool {
        statistics.candidates &+= 1
        if bounds.p > 0 {
            if !bounds.canEnter(partial + bounds.nonEssential) { return true }
            var bound = partial
            for j in 0..<bounds.p {
                cursors[j].moveShallow(to: d)
                bound += cursors[j].shallowBound
            }
            if !bounds.canEnter(bound) { return true }
            for j in stride(from: bounds.p - 1, through: 0, by: -1) {
                statistics.probes &+= 1
                let blockBound = cursors[j].shallowBound
                cursors[j].advance(to: d)
                if cursors[j].doc == d {
                    let s = cursors[j].score()
                    record(j, d, s)
                    bound += Double(s) - blockBound
                } else {
                    bound -= blockBound
                }
                if !bounds.canEnter(bound) { return true }
            }
        }
        // The exact score: query term order, double, one rounding (as the exhaustive path).
        statistics.scored &+= 1
        var sum = 0.0
        for i in 0..<m where stamp[i] == d { sum += slots[i] }
        guard
            let kth = TopKHeap.offer(
                score: Float(sum), document: d, ranks: ranks, heap: heap, count: &heapCount, k: k)
        else { return true }
        return bounds.raise(to: kth)
    }
}

/// The k-th best score θ of a MaxScore search and the split it implies: the query terms, in
/// ascending order of their list bound, whose bounds add up to no more than θ (`0..<p`) are
/// non-essential — a document having only those terms cannot enter the top k.
struct MaxScoreBounds {
    /// Bounds are inflated by this factor (and ``tinyBound``) before being compared with the
    /// k-th best score: bounds are float scores of a block's best posting summed in double,
    /// so they may sit a few float ulps (≈ 1e-7 relative) below a score that reaches them;
    /// 1e-5 is far above that and costs nothing measurable in pruning.
    static let boundSlack = 1 + 1e-5
    /// Keeps a bound of 0 strictly above a k-th best score of 0 (a tie can still win on id).
    static let tinyBound = 1e-30

    let m: Int
    /// `prefix[j]`: the sum of the list bounds of terms `0...j`.
    let prefix: UnsafeMutablePointer<Double>
    /// A lower bound of the final k-th best score (−1: none yet).
    var theta = -1.0
    /// A score sum must exceed this to possibly enter (``theta`` with the slack applied).
    private(set) var cutoff = -Double.infinity
    /// Non-essential terms: `0..<p`.
    private(set) var p = 0

    /// Fills `prefix` (room for `m`) from the cursors' term bounds (ascending).
    init(cursors: UnsafeMutablePointer<PostingCursor>, m: Int, prefix: UnsafeMutablePointer<Double>) {
        self.m = m
        self.prefix = prefix
        var sum = 0.0
        for j in 0..<m {
            sum += cursors[j].termBound
            prefix[j] = sum
        }
    }

    /// Whether a document whose score is at most `bound` may still enter the top k.
    @inline(__always)
    func canEnter(_ bound: Double) -> Bool { bound > cutoff }

    /// The sum of the non-essential terms' bounds.
    @inline(__always)
    var nonEssential: Double { p > 0 ? prefix[p - 1] : 0 }

    /// Raises the threshold and moves terms out of the essential set; false when no
    /// document can enter any more.
    @inline(__always)
    mutating func raise(to value: Double) -> Bool {
        if value <= theta && cutoff > -.infinity { return p < m }
        theta = max(theta, value)
        cutoff = (theta - Self.tinyBound) / Self.boundSlack
        while p < m && !canEnter(prefix[p]) { p += 1 }
        return p < m
    }
}

/// A binary min-heap of ranking keys (the k best so far; the root is the k-th best).
enum TopKHeap {
    /// Offers document `d` with its exact `score` to a heap of at most `k` keys. Returns the
    /// k-th best score when the heap is full and changed (the new threshold), else nil.
    @inline(__always)
    static func offer(
        score: Float, document d: UInt32, ranks: UnsafePointer<UInt32>,
        heap: UnsafeMutablePointer<UInt64>, count: inout Int, k: Int
    ) -> Double? {
        // Below the k-th best score no id can help: skip the id-rank lookup (a cache miss).
        if count == k && score < Float(bitPattern: UInt32(heap[0] >> 32)) { return nil }
        let key = BM25Searcher.key(score: score, rank: ranks[Int(d)])
        if count < k {
            push(key, heap, count: &count)
            if count < k { return nil }
        } else if key > heap[0] {
            replaceMinimum(key, heap, count: count)
        } else {
            return nil
        }
        return Double(Float(bitPattern: UInt32(heap[0] >> 32)))
    }

    @inline(__always)
    static func push(_ key: UInt64, _ heap: UnsafeMutablePointer<UInt64>, count: inout Int) {
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) >> 1
            if heap[parent] <= key { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = key
    }

    @inline(__always)
    static func replaceMinimum(_ key: UInt64, _ heap: UnsafeMutablePointer<UInt64>, count: Int) {
        var i = 0
        while true {
            let left = 2 * i + 1
            if left >= count { break }
            let right = left + 1
            let child = right < count && heap[right] < heap[left] ? right : left
            if heap[child] >= key { break }
            heap[i] = heap[child]
            i = child
        }
        heap[i] = key
    }
}
