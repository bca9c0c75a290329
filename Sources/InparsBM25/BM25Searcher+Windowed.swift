internal import CKernels

extension BM25Searcher {
    /// The windowed MaxScore search (see ``WindowedMaxScoreSearch``) over cursors opened by
    /// ``searchPruned(k:)``, which chooses it for queries whose terms are all dense
    /// (``usesWindows(k:)``).
    func searchWindowed(
        k: Int, cursors: UnsafeMutablePointer<PostingCursor>, m: Int
    ) -> WindowedMaxScoreSearch {
        let window = buffers.reserveWindow(terms: m, size: windowSize)
        var search = WindowedMaxScoreSearch(
            k: k, m: m, documentCount: index.documentCount, cursors: cursors,
            window: window, heap: buffers.keys, ranks: index.docIdRanks.baseAddress!)
        search.bounds.theta = seedThreshold(k: k, cursors: cursors, m: m)
        fillRangeTables(window, cursors: cursors, m: m)
        search.run()
        return search
    }

    /// Each term's bound by range byte (``IndexFormat``, `rangeBounds`), when the index has
    /// range bounds for it and they hold for the query's `b`: byte `q` stands for an impact
    /// of at most `q` / 255 of the term's best, so for a score of at most
    /// `w − w / (1 + impact / k1)` (in double; never above the term's bound). Without them
    /// ``WindowBuffers/rangeBytes`` is nil and the window bound serves every range.
    ///
    /// The same bounds rounded up to whole *units* go to ``WindowBuffers/unitTable``: the
    /// per-range work of every window (sums over terms, the live test) is done on 16-bit
    /// integers, 32 ranges a vector, where doubles needed a gather per 8. The unit is a power
    /// of two chosen per query (``WindowBuffers/unit(boundSum:)``), so every sum of units is
    /// exact, turns into the same double by either route, and bounds what it stands for; a
    /// range's bound is at most one unit (about 1/32,768 of the terms' bounds summed) looser.
    private func fillRangeTables(
        _ window: WindowBuffers, cursors: UnsafeMutablePointer<PostingCursor>, m: Int
    ) {
        let avgdl = index.averageLength
        let k1 = Double(parameters.k1)
        var total = 0.0
        for j in 0..<m { total += cursors[j].termBound }
        window.unit = WindowBuffers.unit(boundSum: total)
        for j in 0..<m {
            let term = planTerms[cursors[j].planIndex]
            guard exactBlockBounds, let bytes = index.rangeBounds(ofTerm: term) else {
                window.rangeBytes[j] = nil
                continue
            }
            window.rangeBytes[j] = bytes
            let bounds = index.termBounds.baseAddress! + 3 * term
            let best = Double(bounds[0])
                * IndexFormat.unitImpact(norm: UInt8(truncatingIfNeeded: bounds[2]), avgdl: avgdl)
            let weight = Double(planWeights[cursors[j].planIndex])
            let termBound = cursors[j].termBound
            let table = window.rangeTable + 256 * j
            table[0] = 0
            for q in 1..<256 {
                let impact = IndexFormat.rangeImpact(UInt8(q), best: best)
                table[q] = min(termBound, weight - weight / (1 + impact / k1))
            }
            table[255] = termBound
            let units = window.unitTable + 256 * j
            for q in 0..<256 { units[q] = window.units(table[q]) }
        }
    }
}

/// A pruned search for queries whose terms are all in a large share of the documents:
/// MaxScore over windows of documents, close to Lucene's `MaxScoreBulkScorer`. Same results
/// as ``MaxScoreSearch`` (and the exhaustive path), bit for bit.
///
/// Terms are kept in ascending order of their list bound. Globally, terms `0..<p` are
/// non-essential (their bounds add up to no more than the k-th best score θ, so a document
/// having only those terms cannot enter); every window starts at the next document of an
/// essential term. Per window of ``WindowBuffers/size`` documents each term gets a local
/// bound (its blocks' bounds there), the terms are split again by those bounds, and:
/// 1. the window is skipped when all local bounds together cannot reach θ;
/// 2. the locally essential terms are read term-at-a-time (one: each posting's score is
///    compared with θ minus the non-essential bounds; several: their scores are summed per
///    document into the window's accumulators), giving candidates in document order, each
///    with a bound. Only *live* ranges of 16 documents are read — those where the range bounds
///    of every term (``IndexFormat``, `rangeBounds`) add up to more than θ; blocks with no live
///    range are skipped unread, and the others are scored only in live ranges (in C,
///    `inpars_essential_block` and `inpars_accumulate_block`);
/// 3. the non-essential terms, from the largest local bound down, are looked up for the
///    candidates still in the running (documents in ascending order, so each cursor only
///    moves forward), each replacing its bound by the real score;
/// 4. the survivors are scored exactly — every term's score, summed in double in query term
///    order and rounded once, as the exhaustive path does — and offered to the top-k heap.
///
/// Reading dense lists a window at a time replaces the document-at-a-time loop's per-document
/// minimum over the cursors and per-candidate probes; on lists with a rare term it reads far
/// more than that loop (which then walks the rare list alone), hence the choice per query.
struct WindowedMaxScoreSearch {
    /// See ``refine(count:nonEssential:_:from:to:)``. On the common-word queries of the MS
    /// MARCO-like benchmark 8 was best of 0, 2, 8 and 32 while postings were read one at a
    /// time (+13 % at k = 10 and 1000 over 0); with whole blocks decoded by the C kernel,
    /// recording a window got cheaper and 16 is best of 8, 16, 32 and 64 (k = 10 +6 % over
    /// 8, k = 1000 unchanged).
    static let scatterRatio = 16.0
    /// Candidates ahead whose block a look-up prefetches
    /// (``refine(count:nonEssential:_:from:to:)``): each look-up mostly lands in a block not
    /// yet in cache, and one candidate's search
    /// cannot overlap the next one's miss by itself. On the common-word queries at 8.8M
    /// (1,000 queries, 7 alternated runs) 2 was 3.9 % faster at k = 10 than none, and 1, 2
    /// and 4 within noise of each other.
    static let prefetchDistance = 2

    let k: Int
    let m: Int
    let documentCount: Int
    let cursors: UnsafeMutablePointer<PostingCursor>
    let window: WindowBuffers
    let heap: UnsafeMutablePointer<UInt64>
    let ranks: UnsafePointer<UInt32>

    /// Ranges of the index (range bytes per dense term).
    let rangeCount: Int
    var heapCount = 0
    /// The threshold and the globally non-essential terms `0..<bounds.p`.
    var bounds: MaxScoreBounds
    /// Work counters.
    var statistics = BM25Searcher.Statistics()

    init(
        k: Int, m: Int, documentCount: Int, cursors: UnsafeMutablePointer<PostingCursor>,
        window: WindowBuffers, heap: UnsafeMutablePointer<UInt64>, ranks: UnsafePointer<UInt32>
    ) {
        self.k = k
        self.m = m
        self.documentCount = documentCount
        rangeCount = IndexFormat.rangeCount(documents: documentCount)
        self.cursors = cursors
        self.window = window
        self.heap = heap
        self.ranks = ranks
        bounds = MaxScoreBounds(cursors: cursors, m: m, prefix: window.prefix)
    }

    mutating func run() {
        guard bounds.raise(to: bounds.theta) else { return }
        var start = 0
        while start < documentCount {
            // No document before the next one of an essential term can enter.
            var first = UInt32.max
            for j in bounds.p..<m {
                cursors[j].advance(to: UInt32(start))
                first = min(first, cursors[j].doc)
            }
            if first == .max { return }
            let end = min(Int(first) + window.size, documentCount)
            var total = 0.0
            var through = Int.max
            let firstRange = Int(first) >> IndexFormat.rangeShift
            let lastRange = (end - 1) >> IndexFormat.rangeShift
            let ahead = min(window.ranges, rangeCount - (lastRange + 1))
            for j in 0..<m {
                if let bytes = window.rangeBytes[j] {
                    // The next window's bytes are read from memory while this one is worked on.
                    var line = 0
                    while line < ahead {
                        inpars_prefetch_lines(bytes + lastRange + 1 + line)
                        line += 256
                    }
                    // The largest range bound of the window (it holds to its last range's end).
                    let largest = inpars_max_byte(bytes + firstRange, lastRange &- firstRange &+ 1)
                    let bound = window.rangeTable[256 &* j &+ Int(largest)]
                    window.bound[j] = bound
                    total += bound
                    through = min(through, (lastRange + 1) << IndexFormat.rangeShift - 1)
                } else {
                    let local = cursors[j].windowBound(first: first, last: UInt32(end - 1))
                    window.bound[j] = local.bound
                    total += local.bound
                    through = min(through, local.through)
                }
            }
            if !bounds.canEnter(total) {
                // The local bounds hold up to `through`: nothing there can enter.
                start = max(end, through == .max ? documentCount : through + 1)
                continue
            }
            if !scoreWindow(from: first, to: UInt32(end)) { return }
            start = end
        }
    }

    /// Steps 2–4 for the window `from..<to` (local bounds in `window.bound`); false when no
    /// document can enter any more.
    private mutating func scoreWindow(from: UInt32, to: UInt32) -> Bool {
        window.nextGeneration()
        // Local split: `order` sorts the terms by local bound; the first `q` are non-essential.
        let order = window.order
        for j in 0..<m {
            var i = j
            while i > 0 && window.bound[order[i - 1]] > window.bound[j] {
                order[i] = order[i - 1]
                i -= 1
            }
            order[i] = j
        }
        var q = 0
        var nonEssential = 0.0
        while q < m - 1 && !bounds.canEnter(nonEssential + window.bound[order[q]]) {
            nonEssential += window.bound[order[q]]
            q += 1
        }
        let ranges = fillRangeBounds(nonEssential: order, q, from: from, to: to)
        let count =
            q == m - 1
            ? singleEssential(
                order[m - 1], from: from, to: to, ranges: ranges, nonEssential: nonEssential)
            : accumulateEssential(order + q, m - q, from: from, to: to, ranges: ranges)
        statistics.candidates &+= count
        let survivors = refine(count: count, nonEssential: order, q, from: from, to: to)
        for c in 0..<survivors {
            let o = Int(window.candidates[c])
            if !offer(from &+ UInt32(o), o) { return false }
        }
        return true
    }

    /// The non-essential terms' (`order[0..<q]`) bounds in each range the window `from..<to`
    /// overlaps, in units, into ``WindowBuffers/rangeUnits`` (the window bound for a term
    /// without range bounds), and their sums into ``WindowBuffers/sumUnits``. Returns the
    /// number of ranges. A window offset `o` is in range
    /// `(o + from % rangeSize) / rangeSize`.
    private func fillRangeBounds(
        nonEssential order: UnsafeMutablePointer<Int>, _ q: Int, from: UInt32, to: UInt32
    ) -> Int {
        let first = Int(from) >> IndexFormat.rangeShift
        let ranges = ((Int(to) - 1) >> IndexFormat.rangeShift) - first + 1
        let sum = window.sumUnits
        sum.update(repeating: 0, count: ranges)
        for i in 0..<q {
            let j = order[i]
            let target = window.rangeUnits + j * window.ranges
            rangeUnits(j, first: first, ranges, into: target, adding: sum)
        }
        return ranges
    }

    /// Term `j`'s bounds, in units, in the `ranges` ranges from index range `first`: stored
    /// into `out` and added to `sum` (either may be nil). From its range bytes, or its window
    /// bound in every range for a term without them.
    private func rangeUnits(
        _ j: Int, first: Int, _ ranges: Int, into out: UnsafeMutablePointer<UInt16>?,
        adding sum: UnsafeMutablePointer<UInt16>?
    ) {
        if let bytes = window.rangeBytes[j] {
            inpars_range_units(bytes + first, ranges, window.unitTable + 256 * j, out, sum)
            return
        }
        let local = window.units(window.bound[j])
        out?.update(repeating: local, count: ranges)
        if let sum { for r in 0..<ranges { sum[r] &+= local } }
    }

    /// The range of window offset `o` (see ``fillRangeBounds(nonEssential:_:from:to:)``).
    @inline(__always)
    private static func range(_ o: Int, _ from: UInt32) -> Int {
        (o &+ Int(from & UInt32(IndexFormat.rangeSize - 1))) >> IndexFormat.rangeShift
    }

    /// One essential term: its postings whose score plus the non-essential bounds of their
    /// range can enter become candidates. Returns the candidate count.
    ///
    /// Only the term's postings in *live* ranges — where its own range bound plus the sum
    /// there can enter — can pass, so blocks with none are passed over unread and the rest
    /// are scored only there (`inpars_essential_block`).
    ///
    /// - Parameter nonEssential: the other terms' window bounds summed (at least every
    ///   range's sum).
    private mutating func singleEssential(
        _ e: Int, from: UInt32, to: UInt32, ranges: Int, nonEssential: Double
    ) -> Int {
        let window = self.window
        let first = Int(from) >> IndexFormat.rangeShift
        rangeUnits(e, first: first, ranges, into: window.ownUnits, adding: nil)
        if liveRanges(ranges) == 0 { return 0 }
        var parameters = essentialWindow(from: from, to: to)
        let entries = window.entries(cursors[e].planIndex)
        var count = 0
        cursors[e].advance(to: from)
        // Blocks whose best posting cannot pass are skipped unread too (the term's window
        // bound is the largest of its blocks' there, far above most of them at small k).
        cursors[e].forEachBlock(
            below: to, blocksAbove: bounds.cutoff - nonEssential,
            skipping: { a, b in Self.dead(window, a, b, from) }
        ) { block, scorer, begin in
            inpars_essential_block(
                block, scorer, begin, &parameters, entries, window.candidates,
                window.candidateBound, &count)
        }
        return count
    }

    /// Marks the live ranges of the window — those where the essential terms' range bounds
    /// (``WindowBuffers/ownUnits``) plus the non-essential ones (``WindowBuffers/sumUnits``)
    /// exceed the cutoff — and turns the non-essential sums into scores
    /// (``WindowBuffers/rangeSum``). Returns how many are live.
    private func liveRanges(_ ranges: Int) -> UInt32 {
        inpars_live_ranges(
            window.ownUnits, window.sumUnits, ranges, window.cutoffUnits(bounds.cutoff),
            window.unit, window.rangeSum, window.live, window.liveBits)
    }

    /// The window `from..<to` as the essential kernels take it (its live ranges and range sums
    /// as filled for this window).
    private func essentialWindow(from: UInt32, to: UInt32) -> inpars_essential_window {
        inpars_essential_window(
            from: from, to: to, phase: from & UInt32(IndexFormat.rangeSize - 1),
            live: window.live, sums: window.rangeSum, cutoff: bounds.cutoff,
            generation: window.currentGeneration)
    }

    /// Whether the window's documents `a...b` are all in ranges that are not live.
    @inline(__always)
    private static func dead(
        _ window: WindowBuffers, _ a: UInt32, _ b: UInt32, _ from: UInt32
    ) -> Bool {
        !window.anyLive(range(Int(a &- from), from), range(Int(b &- from), from))
    }

    /// Several essential terms: their scores summed per document term-at-a-time; documents
    /// whose sum plus the non-essential bounds can enter become candidates, in document
    /// order. Returns the candidate count.
    ///
    /// Only ranges where the essential terms' range bounds plus the non-essential sum can
    /// enter are live; postings elsewhere are not read (`inpars_accumulate_block`).
    private mutating func accumulateEssential(
        _ essential: UnsafeMutablePointer<Int>, _ n: Int, from: UInt32, to: UInt32, ranges: Int
    ) -> Int {
        let window = self.window
        let sum = window.rangeSum
        let first = Int(from) >> IndexFormat.rangeShift
        // The essential terms' bounds summed per range.
        window.ownUnits.update(repeating: 0, count: ranges)
        for i in 0..<n {
            rangeUnits(essential[i], first: first, ranges, into: nil, adding: window.ownUnits)
        }
        if liveRanges(ranges) == 0 { return 0 }
        var parameters = essentialWindow(from: from, to: to)
        for i in 0..<n {
            let e = essential[i]
            let entries = window.entries(cursors[e].planIndex)
            cursors[e].advance(to: from)
            cursors[e].forEachBlock(
                below: to, blocksAbove: -.infinity,
                skipping: { a, b in Self.dead(window, a, b, from) }
            ) { block, scorer, begin in
                inpars_accumulate_block(
                    block, scorer, begin, &parameters, entries, window.partial, window.matched)
            }
        }
        let partial = window.partial
        let matched = window.matched
        var count = 0
        let words = (Int(to &- from) + 63) >> 6
        for w in 0..<words {
            var bits = matched[w]
            matched[w] = 0
            while bits != 0 {
                let o = w << 6 | bits.trailingZeroBitCount
                bits &= bits &- 1
                let bound = partial[o] + sum[Self.range(o, from)]
                if bounds.canEnter(bound) {
                    window.candidates[count] = UInt16(truncatingIfNeeded: o)
                    window.candidateBound[count] = bound
                    count &+= 1
                }
            }
        }
        return count
    }

    /// Looks the candidates up in the non-essential terms `order[0..<q]`, from the largest
    /// local bound down, dropping each as soon as its bound cannot enter. Returns how many
    /// remain (compacted to the front, still in document order).
    ///
    /// A term is looked up by a search per candidate, or, when it has fewer than
    /// ``scatterRatio`` expected postings in the window per candidate, by recording all its
    /// postings in `from..<to` first.
    private mutating func refine(
        count: Int, nonEssential order: UnsafeMutablePointer<Int>, _ q: Int, from: UInt32,
        to: UInt32
    ) -> Int {
        var count = count
        let window = self.window
        var i = q
        while i > 0 && count > 0 {
            i -= 1
            let j = order[i]
            if window.bound[j] == 0 { continue }  // no posting here (or only zero scores)
            let rangeUnits = window.rangeUnits + j * window.ranges
            let slot = cursors[j].planIndex
            var kept = 0
            statistics.probes &+= count
            // The term's expected postings in the window against the candidates: when the
            // candidates are many, recording every posting of the window (a sequential read)
            // is cheaper than a search per candidate.
            let postings =
                Double(cursors[j].documentFrequency) * Double(to &- from) / Double(documentCount)
            if postings < Self.scatterRatio * Double(count) {
                cursors[j].advance(to: from)
                cursors[j].forEach(below: to) { doc, s in window.record(slot, Int(doc &- from), s) }
                // Each candidate's bound: its block bound replaced by the recorded score (an
                // absent term reads as 0, as does a present score of 0: the same sum), the
                // candidates that can still enter kept (AVX-512 gathers and compression).
                count = inpars_refine_candidates(
                    window.candidates, window.candidateBound, count, window.entries(slot),
                    window.currentGeneration, rangeUnits, window.unit,
                    from & UInt32(IndexFormat.rangeSize - 1), bounds.cutoff)
                continue
            }
            // The blocks of the next few candidates are prefetched while this one is looked up.
            var ahead = 0
            let distance = Self.prefetchDistance
            for c in 0..<min(distance, count) {
                cursors[j].prefetch(from &+ UInt32(window.candidates[c]), ahead: &ahead)
            }
            for c in 0..<count {
                if c &+ distance < count {
                    cursors[j].prefetch(
                        from &+ UInt32(window.candidates[c &+ distance]), ahead: &ahead)
                }
                let o = Int(window.candidates[c])
                let d = from &+ UInt32(o)
                var bound =
                    window.candidateBound[c] - Double(rangeUnits[Self.range(o, from)]) * window.unit
                cursors[j].advance(to: d)
                if cursors[j].doc == d {
                    let s = cursors[j].score()
                    window.record(slot, o, s)
                    bound += Double(s)
                }
                if bounds.canEnter(bound) {
                    window.candidates[kept] = UInt16(truncatingIfNeeded: o)
                    window.candidateBound[kept] = bound
                    kept &+= 1
                }
            }
            count = kept
        }
        return count
    }

    /// Scores candidate `d` (window offset `o`) exactly — its recorded term scores in query term order, in
    /// double, rounded once (as the exhaustive path) — and offers it to the heap. False when
    /// no document can enter any more.
    @inline(__always)
    private mutating func offer(_ d: UInt32, _ o: Int) -> Bool {
        statistics.scored &+= 1
        var sum = 0.0
        for i in 0..<m { sum += window.recorded(i, o) }
        guard
            let kth = TopKHeap.offer(
                score: Float(sum), document: d, ranks: ranks, heap: heap, count: &heapCount, k: k)
        else { return true }
        return bounds.raise(to: kth)
    }
}
