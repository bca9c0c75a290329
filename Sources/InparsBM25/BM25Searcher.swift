import Foundation
import HeapModule
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
    private var accumulators: [Double]
    private var touched: [Int32] = []
    private let lengthCache: [Float]
    private var termBuffer: [UInt8] = []

    /// - Parameters:
    ///   - index: an open index (shared).
    ///   - parameters: k1 and b (validate them first; see ``BM25Parameters/validate()``).
    public init(index: BM25Index, parameters: BM25Parameters = BM25Parameters()) {
        self.index = index
        self.parameters = parameters
        accumulators = [Double](repeating: 0, count: index.documentCount)
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
        analyzer.forEachTerm(in: text) { units in
            let term = String(decoding: units, as: UTF16.self)
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
        let n = Double(index.documentsWithTerms)
        accumulators.withUnsafeMutableBufferPointer { acc in
            lengthCache.withUnsafeBufferPointer { cache in
                for (term, count) in terms {
                    var copy = term
                    guard let t = copy.withUTF8({ index.termNumber($0) }) else { continue }
                    let df = Double(index.docFreqs[t])
                    let idf = Float(log(1 + (n - df + 0.5) / (df + 0.5)))
                    let weight = Float(count) * idf
                    accumulate(term: t, weight: weight, acc: acc, cache: cache)
                }
            }
        }
        return collectTopK(k)
    }

    /// Adds one term's scores into the accumulators (the hot loop: varint decoding).
    @inline(__always)
    private func accumulate(
        term t: Int, weight: Float, acc: UnsafeMutableBufferPointer<Double>,
        cache: UnsafeBufferPointer<Float>
    ) {
        let postings = index.postings
        let norms = index.norms
        var p = Int(index.postingsOffsets[t])
        let end = Int(index.postingsOffsets[t + 1])
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
            let score = weight - weight / (1 + tf * cache[Int(norms[doc])])
            if acc[doc] == 0 { touched.append(Int32(doc)) }
            acc[doc] += Double(score)
        }
    }

    /// A candidate in the top-k heap; "smaller" means worse.
    private struct Candidate: Comparable {
        var score: Float
        var rank: UInt32
        var document: Int32

        static func < (a: Candidate, b: Candidate) -> Bool {
            if a.score != b.score { return a.score < b.score }
            return a.rank > b.rank
        }
    }

    private func collectTopK(_ k: Int) -> [BM25Hit] {
        var heap = Heap<Candidate>()
        let ranks = index.docIdRanks
        accumulators.withUnsafeMutableBufferPointer { acc in
            for d in touched {
                let doc = Int(d)
                let candidate = Candidate(
                    score: Float(acc[doc]), rank: ranks[doc], document: d)
                acc[doc] = 0
                if heap.count < k {
                    heap.insert(candidate)
                } else if heap.min! < candidate {
                    _ = heap.replaceMin(with: candidate)
                }
            }
        }
        touched.removeAll(keepingCapacity: true)
        var result = [BM25Hit]()
        result.reserveCapacity(heap.count)
        while let best = heap.popMax() {
            result.append(BM25Hit(document: best.document, score: best.score))
        }
        return result
    }
}
