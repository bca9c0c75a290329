import Foundation
import InparsCore

/// One search result: an internal document number and its BM25 score.
public struct BM25Hit: Sendable, Equatable {
    /// Internal document number (corpus order); ``BM25Index/documentId(_:)`` gives the id.
    public var document: Int32
    /// The BM25 score, as Lucene computes it (float).
    public var score: Float

    public init(document: Int32, score: Float) {
        self.document = document
        self.score = score
    }
}

/// Searches a ``BM25Index`` with Lucene's BM25 (≥ 8.0); one searcher per thread.
///
/// Scoring, exactly as Lucene's `BM25Similarity` and Anserini's bag-of-words query:
/// - the query is analysed like documents; each distinct term becomes a clause with
///   `boost` = its count in the query (Anserini `BagOfWordsQueryGenerator`);
/// - `idf = Float(log(1 + (N − n + 0.5) / (n + 0.5)))` in double, N = documents with terms;
/// - `avgdl = Float(Double(sumTotalTermFreq) / Double(N))`;
/// - per norm byte: `cache = 1 / (k1 * ((1 − b) + b * length / avgdl))` (Float, left to right);
/// - term score `weight − weight / (1 + tf * cache[norm])`, `weight = boost * idf` (Float);
/// - the document score sums the term scores in double and rounds to Float once.
///
/// Ranking: score descending, ties by document id ascending (byte-wise), which is the order
/// Anserini's tie-breaking reranker produces and is independent of indexing order.
public final class BM25Searcher {
    /// The index searched.
    public let index: BM25Index
    /// k1 and b.
    public let parameters: BM25Parameters

    private var analyzer = EnglishAnalyzer()
    /// Scratch memory: accumulators (all zero between searches), touched documents, top-k keys.
    private let buffers: SearchBuffers
    private let accumulators: UnsafeMutablePointer<Double>
    private let touched: UnsafeMutablePointer<Int32>
    private let candidates: UnsafeMutablePointer<UInt64>
    private let scratch: UnsafeMutablePointer<UInt64>
    private let lengthCache: [Float]

    /// - Parameters:
    ///   - index: an open index (shared).
    ///   - parameters: k1 and b (validate them first; see ``BM25Parameters/validate()``).
    public convenience init(index: BM25Index, parameters: BM25Parameters = BM25Parameters()) {
        self.init(
            index: index, parameters: parameters,
            buffers: SearchBuffers(count: index.documentCount))
    }

    init(index: BM25Index, parameters: BM25Parameters, buffers: SearchBuffers) {
        self.index = index
        self.parameters = parameters
        self.buffers = buffers
        accumulators = buffers.accumulators
        touched = buffers.touched
        candidates = buffers.candidates
        scratch = buffers.scratch
        let n = index.documentsWithTerms
        let avgdl: Float = n > 0 ? Float(Double(index.sumTotalTermFreq) / Double(n)) : 1
        let k1 = parameters.k1
        let b = parameters.b
        lengthCache = (0..<256).map { i in
            let length = Float(SmallFloat.byte4ToInt(UInt8(i)))
            return 1 / (k1 * ((1 - b) + b * length / avgdl))
        }
    }

    /// The analysed query terms with their counts, in first-occurrence order.
    public func queryTerms(_ text: String) -> [(term: String, count: Int)] {
        var order: [String] = []
        var counts: [String: Int] = [:]
        analyzer.forEachTerm(in: text) { bytes in
            let term = String(decoding: bytes, as: UTF8.self)
            if counts[term] == nil { order.append(term) }
            counts[term, default: 0] += 1
        }
        return order.map { ($0, counts[$0]!) }
    }

    /// The top `k` documents for `text`, best first (score descending, then document id).
    public func search(_ text: String, k: Int) -> [BM25Hit] {
        search(terms: queryTerms(text), k: k)
    }

    /// The top `k` documents for already analysed terms with their query counts.
    public func search(terms: [(term: String, count: Int)], k: Int) -> [BM25Hit] {
        guard k > 0, index.documentsWithTerms > 0 else { return [] }
        let k = min(k, index.documentCount)
        let n = Double(index.documentsWithTerms)
        var touchedCount = 0
        lengthCache.withUnsafeBufferPointer { cache in
            for (term, count) in terms {
                var copy = term
                guard let t = copy.withUTF8({ index.termNumber($0) }) else { continue }
                let df = Double(index.docFreqs[t])
                let idf = Float(log(1 + (n - df + 0.5) / (df + 0.5)))
                let weight = Float(count) * idf
                Self.accumulate(
                    index: index, term: t, weight: weight, acc: accumulators, cache: cache,
                    touched: touched, touchedCount: &touchedCount)
            }
        }
        return collectTopK(k, touchedCount: touchedCount)
    }

    /// Adds one term's scores into the accumulators (the hot loop: varint decoding).
    @inline(__always)
    private static func accumulate(
        index: BM25Index, term t: Int, weight: Float, acc: UnsafeMutablePointer<Double>,
        cache: UnsafeBufferPointer<Float>, touched: UnsafeMutablePointer<Int32>,
        touchedCount: inout Int
    ) {
        let postings = index.postings
        let norms = index.norms
        var p = Int(index.postingsOffsets[t])
        let end = Int(index.postingsOffsets[t + 1])
        // Scores for tf = 1 per norm byte, computed with the same float operations, so a
        // lookup gives bit-identical results for the (most common) single occurrences.
        let tfOne = UnsafeMutablePointer<Float>.allocate(capacity: 256)
        defer { tfOne.deallocate() }
        for norm in 0..<256 { tfOne[norm] = weight - weight / (1 + 1 * cache[norm]) }
        var doc = -1
        while p < end {
            var value = UInt64(postings[p])
            p += 1
            if value >= 0x80 {
                value &= 0x7F
                var shift: UInt64 = 7
                while true {
                    let byte = UInt64(postings[p])
                    p += 1
                    value |= (byte & 0x7F) << shift
                    if byte < 0x80 { break }
                    shift += 7
                }
            }
            doc += Int(value >> 1)
            var tf: Float = 1
            if value & 1 == 0 {
                var f = UInt64(postings[p])
                p += 1
                if f >= 0x80 {
                    f &= 0x7F
                    var shift: UInt64 = 7
                    while true {
                        let byte = UInt64(postings[p])
                        p += 1
                        f |= (byte & 0x7F) << shift
                        if byte < 0x80 { break }
                        shift += 7
                    }
                }
                tf = Float(f)
            }
            let norm = Int(norms[doc])
            let score =
                tf == 1 ? tfOne[norm] : weight - weight / (1 + tf * cache[norm])
            let previous = acc[doc]
            if previous == 0 {
                touched[touchedCount] = Int32(doc)
                touchedCount += 1
            }
            acc[doc] = previous + Double(score)
        }
    }

    private func collectTopK(_ k: Int, touchedCount: Int) -> [BM25Hit] {
        // Each candidate is one UInt64: the score's bits (positive floats order like their bit
        // patterns) above the inverted id rank, so "larger key" = "ranks first".
        let ranks = index.docIdRanks
        let keys = candidates
        // Keep at most `capacity` keys; when full, quickselect down to k and from then on only
        // keep keys above the current k-th best (keys are unique, so ">" is exact).
        let capacity = min(index.documentCount, max(2 * k, 256))
        var n = 0
        var threshold: UInt64 = 0
        for i in 0..<touchedCount {
            let doc = Int(touched[i])
            let score = Float(accumulators[doc])
            accumulators[doc] = 0
            let key = UInt64(score.bitPattern) << 32 | UInt64(UInt32.max - ranks[doc])
            if key > threshold {
                keys[n] = key
                n += 1
                if n == capacity && n > k {
                    Self.selectLargest(keys, count: n, k: k)
                    n = k
                    threshold = keys[k - 1]
                    for j in 0..<k - 1 where keys[j] < threshold { threshold = keys[j] }
                }
            }
        }
        let keep = min(k, n)
        if keep < n { Self.selectLargest(keys, count: n, k: keep) }
        Self.radixSortDescending(keys, count: keep, scratch: scratch)
        let best = UnsafeBufferPointer(start: keys, count: keep)
        let rankToDocument = index.rankToDocument
        return best.map { key in
            BM25Hit(
                document: Int32(rankToDocument[Int(UInt32.max - UInt32(truncatingIfNeeded: key))]),
                score: Float(bitPattern: UInt32(key >> 32)))
        }
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

    /// Branch-free LSD radix sort (8-bit digits) into descending order; digits on which all
    /// keys agree are skipped. Faster than a comparison sort here: quicksort's compares on
    /// random keys mispredict half the time.
    static func radixSortDescending(
        _ keys: UnsafeMutablePointer<UInt64>, count: Int, scratch: UnsafeMutablePointer<UInt64>
    ) {
        guard count > 1 else { return }
        var source = keys
        var target = scratch
        var histogram = [Int](repeating: 0, count: 256)
        histogram.withUnsafeMutableBufferPointer { counts in
            for pass in 0..<8 {
                let shift = UInt64(pass * 8)
                for i in 0..<256 { counts[i] = 0 }
                for i in 0..<count { counts[Int((~source[i] >> shift) & 0xFF)] += 1 }
                if counts[Int((~source[0] >> shift) & 0xFF)] == count { continue }
                var total = 0
                for i in 0..<256 {
                    let c = counts[i]
                    counts[i] = total
                    total += c
                }
                for i in 0..<count {
                    let key = source[i]
                    let digit = Int((~key >> shift) & 0xFF)
                    target[counts[digit]] = key
                    counts[digit] += 1
                }
                swap(&source, &target)
            }
        }
        if source != keys { keys.update(from: source, count: count) }
    }
}
