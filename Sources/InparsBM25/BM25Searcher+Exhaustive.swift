internal import CKernels

extension BM25Searcher {
    /// Collections up to this size may accumulate densely (see ``searchExhaustive(k:)``).
    static let denseAccumulationLimit = 1 << 16

    /// Term-at-a-time over every posting: one double accumulator per document, summed in
    /// query term order, then the top k of the touched documents.
    ///
    /// When the query's postings are at least a quarter of a small collection (up to
    /// ``denseAccumulationLimit`` documents), touched documents are marked in a byte per
    /// document and every document gets a key in one branch-free pass ("dense"); otherwise
    /// their numbers are listed as they are first touched ("sparse"), which costs an
    /// unpredictable branch per posting. Both give the same sums, in the same order, so the
    /// same hits.
    func searchExhaustive(k: Int) -> [BM25Hit] {
        buffers.reserveAccumulators()
        let acc = buffers.accumulators!
        let touched = buffers.touched!
        let marks = buffers.marks!
        var postings = 0
        for t in planTerms { postings += Int(index.docFreqs[t]) }
        let dense =
            index.documentCount <= Self.denseAccumulationLimit && postings >= index.documentCount / 4
        if dense { statistics.dense &+= 1 }
        var touchedCount = 0
        lengthCache.withUnsafeBufferPointer { cache in
            for (i, t) in planTerms.enumerated() {
                accumulate(
                    term: t, planIndex: i, weight: planWeights[i], cache: cache, acc: acc,
                    dense: dense, marks: marks, touched: touched, touchedCount: &touchedCount)
            }
        }
        return dense ? collectTopKDense(k) : collectTopK(k, touchedCount: touchedCount)
    }

    /// Adds one term's scores into the accumulators, block by block.
    ///
    /// Accumulators hold the *negated* running sum, so that "untouched" (+0.0, bit pattern 0)
    /// differs from a touched document whose scores so far are all 0 (−0.0); negation is exact
    /// and rounding symmetric, so `−acc` is bit for bit the sum in query order. `dense` marks
    /// touched documents in `marks` instead of listing them in `touched`.
    @inline(__always)
    private func accumulate(
        term t: Int, planIndex i: Int, weight: Float, cache: UnsafeBufferPointer<Float>,
        acc: UnsafeMutablePointer<Double>, dense: Bool, marks: UnsafeMutablePointer<UInt8>,
        touched: UnsafeMutablePointer<Int32>, touchedCount: inout Int
    ) {
        let entries = index.blocks.baseAddress!
        let data = index.postings.baseAddress! + Int(index.postingsOffsets[t])
        let firstBlock = Int(index.termBlocks[t])
        var remaining = Int(index.docFreqs[t])
        // Scores by the C block decoder: tf = 1 from the term's table, above by the formula
        // (same float operations as `PostingCursor.score(tf:norm:)`).
        var scorer = inpars_term_scorer(
            table: buffers.tfOne + 256 * i, table_tf: 1, weight: weight, cache: cache.baseAddress)
        // The term's decoded-block slot (the pruned search's cursors use the same).
        let docs = buffers.blockDocs + PostingBlocks.size * i
        let scores = buffers.blockScores + PostingBlocks.size * i
        for block in firstBlock..<Int(index.termBlocks[t + 1]) {
            let n = min(PostingBlocks.size, remaining)
            remaining -= n
            var packed = BlockLayout(
                entries: entries, block: block, firstBlock: firstBlock, count: n, data: data
            ).packed
            inpars_decode_block(&packed, &scorer, docs, scores)
            if dense {
                for j in 0..<n {
                    let doc = Int(docs[j])
                    // From +0.0, the first subtraction gives −score exactly (+0.0 for a
                    // zero score; collectTopKDense reads a zero sum as +0).
                    acc[doc] -= Double(scores[j])
                    marks[doc] = 1
                }
                continue
            }
            for j in 0..<n {
                let doc = Int(docs[j])
                let score = scores[j]
                let sum = acc[doc]
                if sum.bitPattern == 0 {
                    touched[touchedCount] = Int32(doc)
                    touchedCount += 1
                    acc[doc] = -Double(score)
                } else {
                    acc[doc] = sum - Double(score)
                }
            }
        }
    }

    /// The top k of the touched documents (accumulators are reset to zero on the way).
    private func collectTopK(_ k: Int, touchedCount: Int) -> [BM25Hit] {
        let acc = buffers.accumulators!
        let touched = buffers.touched!
        let ranks = index.docIdRanks
        // Keep at most `capacity` keys; when full, select the k largest and from then on only
        // keep keys above the current k-th best (keys are unique, so ">" is exact). Up to 32k
        // touched documents are kept whole, so a small collection selects once.
        let capacity = max(2 * k, 256, min(touchedCount, 1 << 15))
        buffers.reserveKeys(capacity)
        let keys = buffers.keys
        var n = 0
        var threshold: UInt64 = 0
        for i in 0..<touchedCount {
            let doc = Int(touched[i])
            let score = Float(-acc[doc])
            acc[doc] = 0
            let key = Self.key(score: score, rank: ranks[doc])
            if key >= threshold {
                keys[n] = key
                n += 1
                if n == capacity {
                    Self.selectLargest(keys, count: n, k: k, scratch: buffers.sortScratch)
                    n = k
                    threshold = keys[k - 1]
                    for j in 0..<k - 1 where keys[j] < threshold { threshold = keys[j] }
                }
            }
        }
        let keep = min(k, n)
        if keep < n { Self.selectLargest(keys, count: n, k: keep, scratch: buffers.sortScratch) }
        return hits(fromKeys: keys, count: keep)
    }

    /// ``collectTopK(_:touchedCount:)`` for dense accumulation: one branch-free pass makes a
    /// key for every document and keeps the marked ones (the next key overwrites an unmarked
    /// one), then one selection; accumulators and marks are reset after.
    private func collectTopKDense(_ k: Int) -> [BM25Hit] {
        let acc = buffers.accumulators!
        let marks = buffers.marks!
        let ranks = index.docIdRanks
        let count = index.documentCount
        buffers.reserveKeys(count)
        let keys = buffers.keys
        var marked = 0
        for doc in 0..<count {
            // + 0 turns the −0.0 of a zero sum into +0.0, as the sparse path reads it.
            let score = Float(-acc[doc]) + 0
            keys[marked] = Self.key(score: score, rank: ranks[doc])
            marked &+= Int(marks[doc])
        }
        acc.update(repeating: 0, count: count)
        marks.update(repeating: 0, count: count)
        let keep = min(k, marked)
        Self.selectLargest(keys, count: marked, k: keep, scratch: buffers.sortScratch)
        return hits(fromKeys: keys, count: keep)
    }

    /// Radix select on keys (`inpars_select_largest`, C): afterwards the `k` largest of
    /// `a[0..<count]` are in `a[0..<k]` (any order; the rest of `a` is overwritten). `scratch`
    /// holds `count` keys.
    ///
    /// Most significant varying bits first, 11 at a time: a histogram of that digit finds the
    /// bucket that holds the k-th largest key; keys above that bucket are kept at the front,
    /// the bucket's keys are narrowed on the next digit, and a few left are sorted. Each level
    /// is two branch-free passes over what is left, where a quickselect's compares on random
    /// keys mispredict half the time. Equal keys are fine (the seed keys of pruned search
    /// repeat).
    static func selectLargest(
        _ a: UnsafeMutablePointer<UInt64>, count: Int, k: Int, scratch: UnsafeMutablePointer<UInt64>
    ) {
        guard k > 0, k < count else { return }
        inpars_select_largest(a, count, k, scratch)
    }
}
