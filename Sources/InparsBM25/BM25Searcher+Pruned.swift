extension BM25Searcher {
    /// Upper bounds are inflated by this factor (and `tinyBound`) before being compared with
    /// the k-th best score: bounds are float scores of a block's best posting summed in
    /// double, so they may sit a few float ulps (≈ 1e-7 relative) below a score that reaches
    /// them; 1e-5 is far above that, and costs nothing measurable in pruning.
    static let boundSlack = 1 + 1e-5
    /// Keeps a bound of 0 strictly above a k-th best score of 0 (a tie can still win on id).
    static let tinyBound = 1e-30

    /// Document-at-a-time MaxScore with block-max bounds (Turtle & Flood 1995; Ding & Suel
    /// 2011; the block-at-a-time variant is Lucene's `MaxScoreBulkScorer`):
    ///
    /// - Terms are ordered by their list's score bound. Once k documents are held, the
    ///   longest prefix of terms whose bounds add up to at most the k-th best score is
    ///   *non-essential*: a document having only those terms cannot enter, so candidates come
    ///   from the essential terms' lists only and non-essential lists are merely probed.
    /// - A window of documents in which every essential list stays inside one block is
    ///   skipped undecoded when the blocks' bounds plus the non-essential bounds cannot reach
    ///   the k-th best.
    /// - A candidate's non-essential terms are probed from the largest bound down, replacing
    ///   each block bound by the actual score, and dropped as soon as the bound falls short.
    ///
    /// A surviving candidate's score is summed in query term order and rounded once, exactly
    /// as the exhaustive path does, and ranked by the same key, so the hits are identical.
    func searchPruned(k: Int) -> [BM25Hit] {
        let m = planTerms.count
        buffers.reserveKeys(k)
        let heap = buffers.keys
        var heapCount = 0
        let ranks = index.docIdRanks.baseAddress!
        return lengthCache.withUnsafeBufferPointer { cache in
            withUnsafeTemporaryAllocation(of: PostingCursor.self, capacity: m) { cursorBuffer in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * m) { doubles in
                    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: m) { stamps in
                        let cursors = cursorBuffer.baseAddress!
                        let prefix = doubles.baseAddress!
                        let slots = prefix + m
                        let stamp = stamps.baseAddress!
                        openCursors(cursors, prefix: prefix, cache: cache.baseAddress!)
                        for i in 0..<m { stamp[i] = .max }
                        heapCount = runMaxScore(
                            k: k, m: m, cursors: cursors, prefix: prefix, slots: slots,
                            stamp: stamp, heap: heap, ranks: ranks)
                        cursorBuffer.baseAddress!.deinitialize(count: m)
                        return hits(fromKeys: heap, count: heapCount)
                    }
                }
            }
        }
    }

    /// Opens one cursor per query term, ordered by term bound (ascending), and fills
    /// `prefix[j]` = the sum of the first j + 1 bounds.
    private func openCursors(
        _ cursors: UnsafeMutablePointer<PostingCursor>, prefix: UnsafeMutablePointer<Double>,
        cache: UnsafePointer<Float>
    ) {
        let m = planTerms.count
        var opened: [PostingCursor] = []
        opened.reserveCapacity(m)
        for i in 0..<m {
            opened.append(
                PostingCursor(
                    index: index, term: planTerms[i], planIndex: i, weight: planWeights[i],
                    tfOne: buffers.tfOne + 256 * i, cache: cache, exactBounds: exactBlockBounds,
                    docs: buffers.blockDocs + PostingBlocks.size * i,
                    tfs: buffers.blockTfs + PostingBlocks.size * i))
        }
        opened.sort { ($0.termBound, $0.planIndex) < ($1.termBound, $1.planIndex) }
        var sum = 0.0
        for (j, cursor) in opened.enumerated() {
            (cursors + j).initialize(to: cursor)
            sum += cursor.termBound
            prefix[j] = sum
        }
    }

    /// The MaxScore loop; returns how many keys the heap holds.
    private func runMaxScore(
        k: Int, m: Int, cursors: UnsafeMutablePointer<PostingCursor>,
        prefix: UnsafeMutablePointer<Double>, slots: UnsafeMutablePointer<Double>,
        stamp: UnsafeMutablePointer<UInt32>, heap: UnsafeMutablePointer<UInt64>,
        ranks: UnsafePointer<UInt32>
    ) -> Int {
        var heapCount = 0
        var scored = 0
        defer { lastScoredDocuments = scored }
        // The k-th best score once the heap is full (−1: every bound passes before).
        var theta = -1.0
        @inline(__always) func canEnter(_ bound: Double) -> Bool {
            bound * Self.boundSlack + Self.tinyBound > theta
        }
        var p = 0  // terms 0..<p are non-essential
        var windowEnd: UInt32 = 0
        var windowChecked = false
        while true {
            var d = UInt32.max
            for j in p..<m { d = min(d, cursors[j].doc) }
            if d == .max { break }
            let nonEssential = p > 0 ? prefix[p - 1] : 0
            if heapCount == k && (d > windowEnd || !windowChecked) {
                // Block-max: all essential postings in [d, end] lie in one block per term.
                var bound = nonEssential
                var end = UInt32.max
                for j in p..<m {
                    cursors[j].moveShallow(to: d)
                    bound += cursors[j].shallowBound
                    end = min(end, cursors[j].shallowLast)
                }
                if !canEnter(bound) {
                    if end == .max { break }
                    for j in p..<m { cursors[j].advance(to: end + 1) }
                    continue
                }
                windowEnd = end
                windowChecked = true
            }
            var partial = 0.0
            for j in p..<m where cursors[j].doc == d {
                let s = cursors[j].score()
                let slot = cursors[j].planIndex
                slots[slot] = Double(s)
                stamp[slot] = d
                partial += Double(s)
                cursors[j].next()
            }
            if p > 0 {
                if !canEnter(partial + nonEssential) { continue }
                var bound = partial
                for j in 0..<p {
                    cursors[j].moveShallow(to: d)
                    bound += cursors[j].shallowBound
                }
                if !canEnter(bound) { continue }
                var pruned = false
                for j in stride(from: p - 1, through: 0, by: -1) {
                    let blockBound = cursors[j].shallowBound
                    cursors[j].advance(to: d)
                    if cursors[j].doc == d {
                        let s = cursors[j].score()
                        let slot = cursors[j].planIndex
                        slots[slot] = Double(s)
                        stamp[slot] = d
                        bound += Double(s) - blockBound
                    } else {
                        bound -= blockBound
                    }
                    if !canEnter(bound) {
                        pruned = true
                        break
                    }
                }
                if pruned { continue }
            }
            // The exact score: query term order, double, one rounding (as the exhaustive path).
            scored += 1
            var sum = 0.0
            for i in 0..<m where stamp[i] == d { sum += slots[i] }
            let key = Self.key(score: Float(sum), rank: ranks[Int(d)])
            if heapCount < k {
                TopKHeap.push(key, heap, count: &heapCount)
                if heapCount < k { continue }
            } else if key > heap[0] {
                TopKHeap.replaceMinimum(key, heap, count: heapCount)
            } else {
                continue
            }
            let kth = Double(Float(bitPattern: UInt32(heap[0] >> 32)))
            if kth > theta {
                theta = kth
                windowChecked = false
                while p < m && !canEnter(prefix[p]) { p += 1 }
                if p == m { break }
            }
        }
        return heapCount
    }
}

/// A binary min-heap of ranking keys (the k best so far; the root is the k-th best).
enum TopKHeap {
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
