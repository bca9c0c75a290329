import Foundation
import InparsCore

/// One training triple: a synthetic query, its source document, and a sampled negative.
public struct Triple: Sendable, Equatable {
    /// Index of the query's row in the input (0-based, over rows, not lines).
    public var rowIndex: Int
    /// ``SyntheticQuery/queryId`` of the row.
    public var queryId: String
    public var query: String
    public var positiveId: String
    public var negativeId: String

    public init(
        rowIndex: Int, queryId: String, query: String, positiveId: String, negativeId: String
    ) {
        self.rowIndex = rowIndex
        self.queryId = queryId
        self.query = query
        self.positiveId = positiveId
        self.negativeId = negativeId
    }
}

/// Options of ``TripleBuilder``.
public struct TripleConfiguration: Sendable, Equatable {
    /// Negatives (triples) per query.
    public var negatives = 1
    /// BM25 hits searched per query; negatives are drawn among them.
    public var depth = 1_000
    /// Seed; each query's generator is derived from (seed, row index), so the output does not
    /// depend on ``threads``.
    public var seed: UInt64 = 1
    /// Search threads.
    public var threads = 1
    /// Count and skip rows whose source document id the corpus lacks, instead of throwing.
    public var skipBadLines = false

    public init() {}
}

/// Counts and BM25 diagnostics of a ``TripleBuilder`` run (kept in the output's manifest across
/// restarts and added up over shards).
public struct TriplesSummary: Sendable, Equatable, StageSummary {
    public var rows = 0
    /// Rows whose query is empty or only whitespace (skipped).
    public var emptyQuery = 0
    /// Rows whose source document id the corpus lacks (skipped with `--skip-bad-lines`).
    public var unknownSource = 0
    /// Queries searched (the denominator of the diagnostics).
    public var searched = 0
    /// Searched queries without a single hit other than the source document (skipped).
    public var noUsableHit = 0
    /// Hits returned by the index but missing from the corpus (never used as negatives).
    public var hitsMissingFromCorpus = 0
    /// Triples produced.
    public var triples = 0
    /// Depth searched.
    public var depth = 0
    /// Sum over searched queries of 1/rank of the source document when within rank 10.
    public var reciprocalRankSum = 0.0
    /// Searched queries whose source document is within the depth.
    public var sourceFound = 0

    public init() {}

    public mutating func add(_ other: TriplesSummary) {
        rows += other.rows
        emptyQuery += other.emptyQuery
        unknownSource += other.unknownSource
        searched += other.searched
        noUsableHit += other.noUsableHit
        hitsMissingFromCorpus += other.hitsMissingFromCorpus
        triples += other.triples
        depth = max(depth, other.depth)
        reciprocalRankSum += other.reciprocalRankSum
        sourceFound += other.sourceFound
    }

    /// BM25 MRR@10 of each query's source document, over searched queries.
    public var mrrAt10: Double { searched == 0 ? 0 : reciprocalRankSum / Double(searched) }
    /// BM25 Recall@depth of the source documents, over searched queries.
    public var recallAtDepth: Double { searched == 0 ? 0 : Double(sourceFound) / Double(searched) }

    /// Summary lines for people (stderr).
    public var lines: [String] {
        var out = ["rows read: \(rows)"]
        if emptyQuery > 0 { out.append("skipped, empty query: \(emptyQuery)") }
        if unknownSource > 0 { out.append("skipped, unknown source document id: \(unknownSource)") }
        if noUsableHit > 0 { out.append("skipped, no usable BM25 hit: \(noUsableHit)") }
        if hitsMissingFromCorpus > 0 {
            out.append("BM25 hits missing from the corpus (not used): \(hitsMissingFromCorpus)")
        }
        out.append("queries searched: \(searched)")
        out.append(String(format: "BM25 MRR@10 of the source document: %.4f", mrrAt10))
        out.append(
            String(format: "BM25 Recall@%d of the source document: %.4f", depth, recallAtDepth))
        out.append("triples written: \(triples)")
        return out
    }
}

/// Builds (query, positive, negative) triples with BM25 hard negatives: for each query,
/// search the top ``TripleConfiguration/depth`` hits, drop the source document and hits the
/// corpus lacks, and draw ``TripleConfiguration/negatives`` of the rest uniformly without
/// replacement, emitted in rank order (as the InPars-v1 script did, which also excluded the
/// positive; the toolkit forgot to).
public struct TripleBuilder {
    /// What `inpars triples` may replace: an earlier triples or ids TSV (three tab-separated
    /// fields per line).
    public static let outputKind = OutputKind.file("a triples TSV") { line in
        !line.hasPrefix("{") && line.split(separator: "\t", omittingEmptySubsequences: false).count == 3
    }

    public var configuration: TripleConfiguration
    public var searcher: DocumentSearcher
    /// Whether a document id is in the corpus.
    public var inCorpus: @Sendable (String) -> Bool
    public var inputPath: String
    public var corpusPath: String
    public var progressSink: ProgressSink?

    public init(
        configuration: TripleConfiguration, searcher: DocumentSearcher,
        inCorpus: @escaping @Sendable (String) -> Bool, inputPath: String = "input",
        corpusPath: String = "corpus", progressSink: ProgressSink? = nil
    ) {
        self.configuration = configuration
        self.searcher = searcher
        self.inCorpus = inCorpus
        self.inputPath = inputPath
        self.corpusPath = corpusPath
        self.progressSink = progressSink
    }

    private enum Outcome: Sendable {
        case skipped
        case searched(negatives: [String], sourceRank: Int?, missing: Int)
    }

    /// Builds the triples of `rows`, in row order then rank order.
    public func run(_ rows: [SyntheticQuery]) throws -> (triples: [Triple], summary: TriplesSummary)
    {
        var triples: [Triple] = []
        var summary = TriplesSummary()
        summary.depth = configuration.depth
        let progress = progressSink.map {
            ProgressReporter(label: "queries searched", total: rows.count, sink: $0)
        }
        try forEachRow(rows, in: rows.indices) { _, rowTriples, part in
            triples += rowTriples
            summary.add(part)
            progress?.advance()
        }
        progress?.finish()
        return (triples, summary)
    }

    /// Builds the triples of `rows[range]` (row indices stay those of the whole input, so
    /// each row draws the same negatives in any shard) and hands each row's triples and
    /// counts to `consume` on the calling thread, in row order, as the parallel searches
    /// finish.
    public func forEachRow(
        _ rows: [SyntheticQuery], in range: Range<Int>,
        _ consume: (_ row: Int, _ triples: [Triple], _ summary: TriplesSummary) throws -> Void
    ) throws {
        let c = configuration
        guard c.negatives >= 1 else {
            throw FilterError.invalidConfiguration("--negatives must be ≥ 1.")
        }
        guard c.depth >= 1 else { throw FilterError.invalidConfiguration("--depth must be ≥ 1.") }
        let (searchable, skips) = try checkRows(rows, in: range)
        let search = rowSearch(rows, in: range, searchable: searchable)
        try parallelForEachInOrder(
            count: range.count, threads: c.threads, chunk: 16, window: 4096,
            transform: { _, offset in try search(range.lowerBound + offset) },
            consume: { offset, outcome in
                let i = range.lowerBound + offset
                var summary = TriplesSummary()
                summary.rows = 1
                summary.depth = c.depth
                var triples: [Triple] = []
                switch outcome {
                case .skipped:
                    if skips[offset] == .emptyQuery { summary.emptyQuery = 1 }
                    if skips[offset] == .unknownSource { summary.unknownSource = 1 }
                case .searched(let negatives, let sourceRank, let missing):
                    summary.searched = 1
                    summary.hitsMissingFromCorpus = missing
                    if let rank = sourceRank {
                        summary.sourceFound = 1
                        if rank < 10 { summary.reciprocalRankSum = 1 / Double(rank + 1) }
                    }
                    if negatives.isEmpty { summary.noUsableHit = 1 }
                    let row = rows[i]
                    triples = negatives.map {
                        Triple(
                            rowIndex: i, queryId: row.queryId, query: row.query,
                            positiveId: row.docId, negativeId: $0)
                    }
                    summary.triples = triples.count
                }
                try consume(i, triples, summary)
            })
    }

    private enum Skip { case none, emptyQuery, unknownSource }

    /// Sequential checks first, so errors name the first bad line whatever the threads.
    private func checkRows(_ rows: [SyntheticQuery], in range: Range<Int>) throws
        -> (searchable: [Bool], skips: [Skip])
    {
        var searchable = [Bool](repeating: false, count: range.count)
        var skips = [Skip](repeating: .none, count: range.count)
        for (offset, row) in rows[range].enumerated() {
            if row.query.allSatisfy(\.isWhitespace) {
                skips[offset] = .emptyQuery
                continue
            }
            if !inCorpus(row.docId) {
                if !configuration.skipBadLines {
                    throw FilterError.unknownDocument(
                        path: inputPath, line: row.lineNumber, docId: row.docId, corpus: corpusPath)
                }
                skips[offset] = .unknownSource
                continue
            }
            searchable[offset] = true
        }
        return (searchable, skips)
    }

    /// The per-row search and negative draw, run on the worker threads.
    private func rowSearch(_ rows: [SyntheticQuery], in range: Range<Int>, searchable: [Bool])
        -> @Sendable (Int) throws -> Outcome
    {
        let c = configuration
        // With document numbers, corpus membership and each row's source are resolved once
        // per index document instead of once per hit (no id string per hit).
        let numbered = searcher as? NumberedDocumentSearcher
        var usableNumber: [Bool] = []
        var sourceNumber = [Int32](repeating: -1, count: range.count)
        if let numbered {
            var rowsOfSource: [String: [Int]] = [:]
            for (offset, row) in rows[range].enumerated() where searchable[offset] {
                rowsOfSource[row.docId, default: []].append(offset)
            }
            usableNumber = [Bool](repeating: false, count: numbered.documentCount)
            for n in 0..<numbered.documentCount {
                let id = numbered.documentId(n)
                usableNumber[n] = inCorpus(id)
                if let sourceRows = rowsOfSource[id] {
                    for o in sourceRows where sourceNumber[o] < 0 { sourceNumber[o] = Int32(n) }
                }
            }
        }
        let searcher = self.searcher
        let inCorpus = self.inCorpus
        let usable = usableNumber
        let sources = sourceNumber
        return { i in
            let offset = i - range.lowerBound
            guard searchable[offset] else { return .skipped }
            let row = rows[i]
            let text = Self.searchText(row.query)
            var generator = Self.generator(seed: c.seed, index: i)
            var sourceRank: Int?
            var missing = 0
            if let numbered {
                let hits = try numbered.searchNumbers(text, k: c.depth)
                var candidates: [Int32] = []
                candidates.reserveCapacity(hits.count)
                for (rank, n) in hits.prefix(c.depth).enumerated() {
                    if n == sources[offset] {
                        if sourceRank == nil { sourceRank = rank }
                        continue
                    }
                    if !usable[Int(n)] {
                        missing += 1
                        continue
                    }
                    candidates.append(n)
                }
                let picks = Self.sample(c.negatives, of: candidates.count, using: &generator)
                return .searched(
                    negatives: picks.map { numbered.documentId(Int(candidates[$0])) },
                    sourceRank: sourceRank, missing: missing)
            }
            let hits = try searcher.search(text, k: c.depth)
            var candidates: [String] = []
            candidates.reserveCapacity(hits.count)
            for (rank, id) in hits.prefix(c.depth).enumerated() {
                if id == row.docId {
                    if sourceRank == nil { sourceRank = rank }
                    continue
                }
                if !inCorpus(id) {
                    missing += 1
                    continue
                }
                candidates.append(id)
            }
            let picks = Self.sample(c.negatives, of: candidates.count, using: &generator)
            return .searched(
                negatives: picks.map { candidates[$0] }, sourceRank: sourceRank, missing: missing)
        }
    }

    /// The query as searched: whitespace runs (tabs, newlines) collapsed to single spaces.
    public static func searchText(_ query: String) -> String {
        query.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// The generator of row `index`: SplitMix64 seeded by a hash of (seed, index), so streams
    /// of neighbouring rows do not overlap.
    public static func generator(seed: UInt64, index: Int) -> SeededGenerator {
        var base = SeededGenerator(seed: seed)
        var mixer = SeededGenerator(seed: base.next() ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        return SeededGenerator(seed: mixer.next())
    }

    /// `min(k, n)` distinct indices of `0..<n`, uniformly at random, in increasing order
    /// (partial Fisher–Yates with rejection-sampled bounded integers).
    public static func sample(_ k: Int, of n: Int, using generator: inout SeededGenerator) -> [Int]
    {
        let take = min(k, n)
        if take == 0 { return [] }
        var pool = Array(0..<n)
        for i in 0..<take {
            let j = i + uniform(n - i, using: &generator)
            pool.swapAt(i, j)
        }
        return pool[0..<take].sorted()
    }

    /// A uniform integer in `0..<bound` (rejection sampling, no modulo bias).
    static func uniform(_ bound: Int, using generator: inout SeededGenerator) -> Int {
        let b = UInt64(bound)
        let limit = UInt64.max - (UInt64.max % b + 1) % b
        while true {
            let x = generator.next()
            if x <= limit { return Int(x % b) }
        }
    }

    /// A text as one TSV field: tabs, carriage returns and newlines become spaces.
    public static func tsvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
        else {
            return text
        }
        return String(
            text.map { $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }
}
