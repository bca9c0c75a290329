import Foundation
import InparsCore
internal import CKernels

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

/// How a ``BM25Searcher`` finds the top k.
public enum BM25SearchStrategy: String, Sendable, CaseIterable {
    /// Exhaustive on small indexes (where it is fastest), pruned on large ones.
    case automatic
    /// Document-at-a-time MaxScore with block-max bounds: skips documents and whole blocks
    /// that cannot reach the current top k. Same results as ``exhaustive``.
    case pruned
    /// Term-at-a-time over every posting of every query term (the reference).
    case exhaustive

    /// Indexes up to this many documents are searched exhaustively by ``automatic``.
    public static let automaticExhaustiveLimit = 65_536
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
/// - the document score sums the term scores in double, in the query's term order (first
///   occurrences), and rounds to Float once.
///
/// Ranking: score descending, ties by document id ascending (byte-wise), which is the order
/// Anserini's tie-breaking reranker produces and is independent of indexing order. Both
/// strategies compute every returned score with the same operations in the same order, so
/// they return the same hits bit for bit (`PrunedSearchTests`).
public final class BM25Searcher {
    /// The index searched.
    public let index: BM25Index
    /// k1 and b.
    public let parameters: BM25Parameters
    /// The strategy used (``BM25SearchStrategy/automatic`` resolved at init).
    public let strategy: BM25SearchStrategy

    private var analyzer = EnglishAnalyzer()
    let buffers: SearchBuffers
    /// `1 / (k1 * ((1 − b) + b * length / avgdl))` per norm byte.
    let lengthCache: [Float]
    /// `1 + 1 * cache[norm]`: the denominator of a tf = 1 score.
    private let tfOneDenominator: [Float]
    /// Whether the index's block bounds name the best posting for this `b`.
    let exactBlockBounds: Bool
    /// Documents per window of the windowed pruned search (a power of two ≤ 65,536; tests
    /// use small ones to cross many window boundaries).
    let windowSize: Int

    /// The default ``windowSize``. Since the essential terms skip their postings in ranges
    /// (of 64 documents then) that cannot hold a candidate (live ranges, session 11), a
    /// window's own bound matters little and larger windows spread the per-window work (term split, range
    /// sums) over more documents: on the MS MARCO-like benchmark's common-word queries at 8.8M
    /// passages, 8,192, 16,384 and 32,768 were within noise of each other and 3–9 % faster at
    /// k = 10 than session 10's 4,096 without live ranges. The scratch is 128 KB of recorded
    /// scores per query term and 128 KB of sums, touched sparsely.
    static let defaultWindowSize = 16_384
    /// A query runs the windowed pruned search when each of its terms is in at least one
    /// document in this many (``usesWindows``); tests set 0 (never) or a huge value (always).
    let windowedDensity: Int

    /// The default ``windowedDensity``: terms in ≥ 1/256 of the documents. On the MS
    /// MARCO-like benchmark (Docs/performance.md) that sends common-word queries to the
    /// windowed search (+15 % at top-1000) and keeps mid-frequency ones document-at-a-time
    /// (1/1024 made them 15 % slower at top-10).
    static let defaultWindowedDensity = 256

    /// The current query: term numbers, weights, and each term's position in query order.
    var planTerms: [Int] = []
    var planWeights: [Float] = []
    /// Work counters of pruned searches (for tests and profiles).
    public struct Statistics: Sendable, Equatable {
        /// Searches counted.
        public var searches = 0
        /// Of those, searches that ran the windowed path (all query terms dense).
        public var windowed = 0
        /// Documents from the essential lists whose bound was checked against the threshold.
        public var candidates = 0
        /// Non-essential lists probed for a candidate.
        public var probes = 0
        /// Candidates whose full score was computed.
        public var scored = 0
        /// Exhaustive searches that accumulated densely (marks, one scan of the collection).
        public var dense = 0

        public init() {}

        mutating func add(_ other: Statistics) {
            searches += 1
            candidates += other.candidates
            probes += other.probes
            scored += other.scored
        }
    }

    /// Counters summed over this searcher's searches (pruned ones, and `dense` for exhaustive
    /// ones); reset by assigning `.init()`.
    public var statistics = Statistics()

    /// - Parameters:
    ///   - index: an open index (shared).
    ///   - parameters: k1 and b (validate them first; see ``BM25Parameters/validate()``).
    ///   - strategy: pruned or exhaustive (the results are the same).
    public convenience init(
        index: BM25Index, parameters: BM25Parameters = BM25Parameters(),
        strategy: BM25SearchStrategy = .automatic
    ) {
        self.init(
            index: index, parameters: parameters, strategy: strategy,
            buffers: SearchBuffers(count: index.documentCount))
    }

    init(
        index: BM25Index, parameters: BM25Parameters, strategy: BM25SearchStrategy,
        buffers: SearchBuffers, windowSize: Int = BM25Searcher.defaultWindowSize,
        windowedDensity: Int = BM25Searcher.defaultWindowedDensity
    ) {
        self.index = index
        self.windowSize = windowSize
        self.windowedDensity = windowedDensity
        self.parameters = parameters
        if strategy == .automatic {
            self.strategy =
                index.documentCount <= BM25SearchStrategy.automaticExhaustiveLimit
                ? .exhaustive : .pruned
        } else {
            self.strategy = strategy
        }
        self.buffers = buffers
        let avgdl = index.averageLength
        let k1 = parameters.k1
        let b = parameters.b
        let cache: [Float] = (0..<256).map { i in
            let length = Float(SmallFloat.byte4ToInt(UInt8(i)))
            return 1 / (k1 * ((1 - b) + b * length / avgdl))
        }
        lengthCache = cache
        tfOneDenominator = cache.map { 1 + 1 * $0 }
        exactBlockBounds = b == index.boundB
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
        // No query has more hits than the index has documents (a huge --k allocates nothing).
        let k = min(k, index.documentCount)
        prepare(terms)
        if planTerms.isEmpty { return [] }
        switch strategy {
        case .exhaustive, .automatic: return searchExhaustive(k: k)
        case .pruned: return searchPruned(k: k)
        }
    }

    /// Looks up the query's terms (in query order, dropping unknown ones), their weights, and
    /// fills each term's table of tf = 1 scores per norm byte (bit-identical to the formula).
    private func prepare(_ terms: [(term: String, count: Int)]) {
        planTerms.removeAll(keepingCapacity: true)
        planWeights.removeAll(keepingCapacity: true)
        let n = Double(index.documentsWithTerms)
        for (term, count) in terms {
            var copy = term
            guard let t = copy.withUTF8({ index.termNumber($0) }) else { continue }
            let df = Double(index.docFreqs[t])
            let idf = Float(log(1 + (n - df + 0.5) / (df + 0.5)))
            planTerms.append(t)
            planWeights.append(Float(count) * idf)
        }
        buffers.reserveTerms(planTerms.count)
        let tables = buffers.tfOne
        tfOneDenominator.withUnsafeBufferPointer { denominator in
            for (i, weight) in planWeights.enumerated() {
                let table = tables + 256 * i
                for norm in 0..<256 { table[norm] = weight - weight / denominator[norm] }
            }
        }
    }

    /// The score of one posting of plan term `i`.
    @inline(__always)
    func termScore(
        _ i: Int, tf: UInt32, norm: UInt8, weight: Float, cache: UnsafeBufferPointer<Float>
    ) -> Float {
        tf == 1
            ? buffers.tfOne[256 * i + Int(norm)]
            : weight - weight / (1 + Float(tf) * cache[Int(norm)])
    }

    /// Turns the best keys (score bits above the inverted id rank) into hits.
    func hits(fromKeys keys: UnsafeMutablePointer<UInt64>, count: Int) -> [BM25Hit] {
        Self.radixSortDescending(keys, count: count, scratch: buffers.sortScratch)
        let rankToDocument = index.rankToDocument
        return UnsafeBufferPointer(start: keys, count: count).map { key in
            BM25Hit(
                document: rankToDocument[Int(UInt32.max - UInt32(truncatingIfNeeded: key))],
                score: Float(bitPattern: UInt32(key >> 32)))
        }
    }

    /// The ranking key of a document: the score's bits (non-negative floats order like their
    /// bit patterns) above the inverted id rank, so "larger key" = "ranks first".
    @inline(__always)
    static func key(score: Float, rank: UInt32) -> UInt64 {
        UInt64(score.bitPattern) << 32 | UInt64(UInt32.max - rank)
    }

    /// Sorts keys into descending order (`inpars_sort_keys_descending`, C): a branch-free LSD
    /// radix sort (8-bit digits, the histograms of every digit from one read pass) on the high
    /// 32 bits (the score), then runs of equal scores by their low 32 bits (the id rank).
    /// Scores tie rarely, so this skips the id bytes' passes; digits on which all keys agree
    /// are skipped too. Faster than a comparison sort here: quicksort's compares on random keys
    /// mispredict half the time.
    static func radixSortDescending(
        _ keys: UnsafeMutablePointer<UInt64>, count: Int, scratch: UnsafeMutablePointer<UInt64>
    ) {
        inpars_sort_keys_descending(keys, count, scratch)
    }
}
