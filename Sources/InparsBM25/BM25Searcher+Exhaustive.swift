extension BM25Searcher {
    /// Term-at-a-time over every posting: one double accumulator per document, summed in
    /// query term order, then the top k of the touched documents.
    func searchExhaustive(k: Int) -> [BM25Hit] {
        buffers.reserveAccumulators()
        let acc = buffers.accumulators!
        let touched = buffers.touched!
        var touchedCount = 0
        lengthCache.withUnsafeBufferPointer { cache in
            for (i, t) in planTerms.enumerated() {
                accumulate(
                    term: t, planIndex: i, weight: planWeights[i], cache: cache, acc: acc,
                    touched: touched, touchedCount: &touchedCount)
            }
        }
        return collectTopK(k, touchedCount: touchedCount)
    }

    /// Adds one term's scores into the accumulators, block by block.
    ///
    /// Accumulators hold the *negated* running sum, so that "untouched" (+0.0, bit pattern 0)
    /// differs from a touched document whose scores so far are all 0 (−0.0); negation is exact
    /// and rounding symmetric, so `−acc` is bit for bit the sum in query order.
    @inline(__always)
    private func accumulate(
        term t: Int, planIndex i: Int, weight: Float, cache: UnsafeBufferPointer<Float>,
        acc: UnsafeMutablePointer<Double>, touched: UnsafeMutablePointer<Int32>,
        touchedCount: inout Int
    ) {
        let tfOne = buffers.tfOne + 256 * i
        let entries = index.blocks.baseAddress!
        let data = index.postings.baseAddress! + Int(index.postingsOffsets[t])
        let firstBlock = Int(index.termBlocks[t])
        var remaining = Int(index.docFreqs[t])
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 3 * PostingBlocks.size) {
            let docs = $0.baseAddress!
            let tfs = docs + PostingBlocks.size
            let norms = tfs + PostingBlocks.size
            for block in firstBlock..<Int(index.termBlocks[t + 1]) {
                let n = min(PostingBlocks.size, remaining)
                remaining -= n
                BlockLayout(
                    entries: entries, block: block, firstBlock: firstBlock, count: n, data: data
                ).decode(docs: docs, tfs: tfs, norms: norms)
                for j in 0..<n {
                    let doc = Int(docs[j])
                    let tf = tfs[j]
                    let norm = Int(norms[j])
                    let score =
                        tf == 1 ? tfOne[norm] : weight - weight / (1 + Float(tf) * cache[norm])
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
    }

    /// The top k of the touched documents (accumulators are reset to zero on the way).
    private func collectTopK(_ k: Int, touchedCount: Int) -> [BM25Hit] {
        let acc = buffers.accumulators!
        let touched = buffers.touched!
        let ranks = index.docIdRanks
        // Keep at most `capacity` keys; when full, quickselect down to k and from then on only
        // keep keys above the current k-th best (keys are unique, so ">" is exact).
        let capacity = max(2 * k, 256)
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
                    Self.selectLargest(keys, count: n, k: k)
                    n = k
                    threshold = keys[k - 1]
                    for j in 0..<k - 1 where keys[j] < threshold { threshold = keys[j] }
                }
            }
        }
        let keep = min(k, n)
        if keep < n { Self.selectLargest(keys, count: n, k: keep) }
        return hits(fromKeys: keys, count: keep)
    }

    /// Quickselect on keys: afterwards the `k` largest are in `a[0..<k]` (any order).
    static func selectLargest(_ a: UnsafeMutablePointer<UInt64>, count: Int, k: Int) {
        var low = 0
        var high = count - 1
        let target = k - 1
        while high > low {
            let mid = low + (high - low) / 2
            if a[mid] > a[low] { swap(&a[mid], &a[low]) }
            if a[high] > a[low] { swap(&a[high], &a[low]) }
            if a[high] > a[mid] { swap(&a[high], &a[mid]) }
            let pivot = a[mid]
            var i = low
            var j = high
            while i <= j {
                while a[i] > pivot { i += 1 }
                while pivot > a[j] { j -= 1 }
                if i <= j {
                    let t = a[i]
                    a[i] = a[j]
                    a[j] = t
                    i += 1
                    j -= 1
                }
            }
            if target <= j {
                high = j
            } else if target >= i {
                low = i
            } else {
                return
            }
        }
    }
}
