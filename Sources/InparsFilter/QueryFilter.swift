import Foundation
import InparsCore
import InparsRanker

/// A kept row and its score.
public struct ScoredQuery: Sendable, Equatable {
    public var row: SyntheticQuery
    /// The sort key; higher is better.
    public var score: Double
    /// The score as written into the output row (shortest round-trip decimal of the value the
    /// scorer produced: `Double` for log-prob scores, `Float` for reranker scores).
    public var scoreText: String

    public init(row: SyntheticQuery, score: Double, scoreText: String) {
        self.row = row
        self.score = score
        self.scoreText = scoreText
    }

    /// The original input line with a `score` field added (or replaced, when the row already
    /// had one), every other byte unchanged.
    public var outputLine: String {
        JSONObjectSpans.setting("score", toJSON: scoreText, in: row.rawLine)
    }
}

/// The outcome of ``QueryFilter/run(_:)``.
public struct FilterResult: Sendable, Equatable {
    /// Kept rows, best first (stable: equal scores keep input order).
    public var kept: [ScoredQuery]
    public var summary: FilterSummary
}

/// Filters synthetic queries: length, copy and consistency rules, scoring, de-duplication,
/// stable sort and top-k (the InPars `filter` stage, plus the fixes of Docs/filter.md).
///
/// Rule order: unknown document id → empty query → token count → copied → score →
/// consistency → dedupe → sort → top-k. Expensive steps (reranker, consistency) only see rows
/// that passed the cheap ones.
public struct QueryFilter {
    /// What `inpars filter` may replace: an earlier filter output (JSON lines carrying the
    /// `score` field the filter adds; a generate output has none).
    public static let outputKind = OutputKind.file("an 'inpars filter' output") { line in
        (try? JSONLine.parseObject(line))?["score"] != nil
    }

    public var configuration: FilterConfiguration
    /// Reranker (``FilterStrategy/reranker``) or monoT5 of the consistency check.
    public var scorer: (any RelevanceScorer)?
    /// BM25 for the consistency check.
    public var searcher: DocumentSearcher?
    /// Document id → text (`title + " " + text`, see `Document.rerankText`). When given, every
    /// row's id must be in it, and its text is used instead of the row's own.
    public var corpus: [String: String]?
    /// Names for error messages.
    public var inputPath: String
    public var corpusPath: String
    /// Where progress of the slow steps goes (`nil`: silent).
    public var progressSink: ProgressSink?

    public init(
        configuration: FilterConfiguration, scorer: (any RelevanceScorer)? = nil,
        searcher: DocumentSearcher? = nil, corpus: [String: String]? = nil,
        inputPath: String = "input", corpusPath: String = "corpus",
        progressSink: ProgressSink? = nil
    ) {
        self.configuration = configuration
        self.scorer = scorer
        self.searcher = searcher
        self.corpus = corpus
        self.inputPath = inputPath
        self.corpusPath = corpusPath
        self.progressSink = progressSink
    }

    /// Checks that the configuration has what its strategy needs.
    public func validate() throws {
        let c = configuration
        if c.minTokens < 0 || c.maxTokens < c.minTokens {
            throw FilterError.invalidConfiguration(
                "--min-tokens (\(c.minTokens)) must be ≥ 0 and ≤ --max-tokens (\(c.maxTokens)).")
        }
        if c.blockRows < 1 {
            throw FilterError.invalidConfiguration("--block-rows must be ≥ 1.")
        }
        if c.keepTopK < 0 {
            throw FilterError.invalidConfiguration("--keep-top-k must be ≥ 0 (0 keeps all rows).")
        }
        switch c.strategy {
        case .scores: break
        case .reranker:
            if scorer == nil {
                throw FilterError.invalidConfiguration(
                    "The reranker strategy needs a reranker model.")
            }
        case .consistency:
            if searcher == nil {
                throw FilterError.invalidConfiguration(
                    "The consistency strategy needs --index DIR.")
            }
            if c.consistencyDepth < 1 {
                throw FilterError.invalidConfiguration("--consistency-depth must be ≥ 1.")
            }
            if c.consistencyRanker == .monot5 {
                if scorer == nil || corpus == nil {
                    throw FilterError.invalidConfiguration(
                        "Consistency with monoT5 needs a model and --corpus FILE.")
                }
                if c.consistencyCandidates < c.consistencyDepth {
                    throw FilterError.invalidConfiguration(
                        "--consistency-candidates must be ≥ --consistency-depth.")
                }
            }
        }
    }

    /// Applies every rule to `rows` (in input order) and returns the kept rows, best first.
    public func run(_ rows: [SyntheticQuery]) throws -> FilterResult {
        try validate()
        var summary = FilterSummary()
        let progress = makeProgress(rows: rows.count)
        var scored: [ScoredQuery] = []
        scored.reserveCapacity(rows.count)
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + max(1, configuration.blockRows))
            scored += try score(rows[start..<end], summary: &summary)
            progress?.advance(by: end - start)
            start = end
        }
        progress?.finish()
        let kept = Self.select(
            queries: scored.map(\.row.query), scores: scored.map(\.score),
            configuration: configuration, summary: &summary
        ).map { scored[$0] }
        return FilterResult(kept: kept, summary: summary)
    }

    /// A progress reporter over rows for the strategies whose per-row phase is slow.
    public func makeProgress(rows: Int) -> ProgressReporter? {
        guard configuration.strategy != .scores, let progressSink else { return nil }
        return ProgressReporter(label: "rows scored", total: rows, sink: progressSink)
    }

    /// The per-row phase over a block of rows (in input order): the length, copy and
    /// consistency rules and the scores. Returns the surviving rows with their scores, in
    /// input order, and adds the block's counts to `summary`.
    public func score(_ rows: ArraySlice<SyntheticQuery>, summary: inout FilterSummary) throws
        -> [ScoredQuery]
    {
        let c = configuration
        summary.rowsRead += rows.count
        let survivors = try cheapRules(rows, summary: &summary)

        var scored: [ScoredQuery] = []
        scored.reserveCapacity(survivors.count)
        switch c.strategy {
        case .scores, .consistency:
            for (row, _) in survivors {
                guard let logProbs = row.logProbs else {
                    throw InparsCoreError.malformedLine(
                        path: inputPath, line: row.lineNumber, field: "log_probs",
                        reason:
                            "missing (the '\(c.strategy.rawValue)' strategy needs per-token log-probs)"
                    )
                }
                guard let score = c.scoreFunction.score(logProbs) else {
                    summary.noLogProbs += 1
                    continue
                }
                scored.append(ScoredQuery(row: row, score: score, scoreText: "\(score)"))
            }
        case .reranker:
            scored = try rerank(survivors, summary: &summary)
        }

        if c.strategy == .consistency {
            let passed = try consistencyCheck(scored.map(\.row), summary: &summary)
            var kept: [ScoredQuery] = []
            for (item, ok) in zip(scored, passed) {
                if ok { kept.append(item) } else { summary.failedConsistency += 1 }
            }
            scored = kept
        }
        return scored
    }

    /// Unknown document, empty query, token count and copy rules; returns the survivors with
    /// the document text each is scored against.
    private func cheapRules(_ rows: ArraySlice<SyntheticQuery>, summary: inout FilterSummary)
        throws -> [(row: SyntheticQuery, text: String?)]
    {
        let c = configuration
        var survivors: [(row: SyntheticQuery, text: String?)] = []
        survivors.reserveCapacity(rows.count)
        for row in rows {
            var text = row.documentText
            if let corpus {
                guard let corpusText = corpus[row.docId] else {
                    if !c.skipBadLines {
                        throw FilterError.unknownDocument(
                            path: inputPath, line: row.lineNumber, docId: row.docId,
                            corpus: corpusPath)
                    }
                    summary.unknownDocument += 1
                    continue
                }
                text = corpusText
            }
            if row.query.allSatisfy(\.isWhitespace) {
                summary.emptyQuery += 1
                continue
            }
            if let count = row.tokenCount {
                if count < c.minTokens {
                    summary.tooFewTokens += 1
                    continue
                }
                if count > c.maxTokens {
                    summary.tooManyTokens += 1
                    continue
                }
            }
            if c.skipCopied {
                guard let text else {
                    throw FilterError.missingDocumentText(
                        path: inputPath, line: row.lineNumber, rule: "--skip-copied")
                }
                if text.lowercased().contains(row.query.lowercased()) {
                    summary.copied += 1
                    continue
                }
            }
            survivors.append((row, text))
        }
        return survivors
    }

    /// The global phase over scored rows in input order: dedupe, stable sort (best first,
    /// equal scores in input order), top-k. Returns the indices of the kept rows in output
    /// order and adds its counts to `summary`.
    public static func select(
        queries: [String], scores: [Double], configuration c: FilterConfiguration,
        summary: inout FilterSummary
    ) -> [Int] {
        var candidates = Array(queries.indices)
        if c.dedupe {
            candidates = dedupe(queries: queries, scores: scores, summary: &summary)
        }
        var kept = candidates.sorted { a, b in
            scores[a] != scores[b] ? scores[a] > scores[b] : a < b
        }
        if c.keepTopK > 0 && kept.count > c.keepTopK {
            summary.belowTopK += kept.count - c.keepTopK
            kept.removeLast(kept.count - c.keepTopK)
        }
        summary.kept += kept.count
        return kept
    }

    /// Normalised form used by ``FilterConfiguration/dedupe``: lower-cased, whitespace runs
    /// collapsed to one space, trimmed.
    public static func normalisedQuery(_ query: String) -> String {
        query.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Keeps, for each normalised query, the best-scored row (ties: the first in input
    /// order); returns the kept indices in input order.
    static func dedupe(queries: [String], scores: [Double], summary: inout FilterSummary)
        -> [Int]
    {
        let keys = queries.map(normalisedQuery)
        var best: [String: Int] = [:]
        for (i, key) in keys.enumerated() {
            if let j = best[key] {
                if scores[i] > scores[j] { best[key] = i }
            } else {
                best[key] = i
            }
        }
        var out: [Int] = []
        for (i, key) in keys.enumerated() {
            let winner = best[key]!
            if winner == i {
                out.append(i)
            } else if queries[winner] == queries[i] {
                summary.exactDuplicates += 1
            } else {
                summary.normalisedDuplicates += 1
            }
        }
        return out
    }

    private func rerank(
        _ survivors: [(row: SyntheticQuery, text: String?)], summary: inout FilterSummary
    ) throws -> [ScoredQuery] {
        guard let scorer else { return [] }
        var pairs: [ScoringPair] = []
        pairs.reserveCapacity(survivors.count)
        for (row, text) in survivors {
            guard let text else {
                throw FilterError.missingDocumentText(
                    path: inputPath, line: row.lineNumber, rule: "the reranker strategy")
            }
            pairs.append(ScoringPair(query: row.query, document: text))
        }
        if pairs.isEmpty { return [] }
        let part = try scorer.score(pairs, progress: nil)
        guard part.scores.count == pairs.count else {
            throw FilterError.invalidScores(
                reason: "expected \(pairs.count) scores, got \(part.scores.count)")
        }
        let scores = part.scores
        summary.truncatedDocuments += part.truncatedDocuments
        if PairScores(scores: scores).allAlike(for: pairs) { summary.identicalScoreGroups += 1 }
        var out: [ScoredQuery] = []
        for (i, (row, _)) in survivors.enumerated() {
            let s = scores[i]
            guard s.isFinite else {
                throw FilterError.invalidScores(
                    reason: "score \(s) for the row at line \(row.lineNumber) of '\(inputPath)'")
            }
            out.append(ScoredQuery(row: row, score: Double(s), scoreText: "\(s)"))
        }
        return out
    }

    /// Whether each row's source document ranks within the consistency depth.
    private func consistencyCheck(_ rows: [SyntheticQuery], summary: inout FilterSummary) throws
        -> [Bool]
    {
        guard let searcher else { return [] }
        let c = configuration
        switch c.consistencyRanker {
        case .bm25:
            let depth = c.consistencyDepth
            return try parallelMap(count: rows.count, threads: c.threads) { i in
                let hits = try searcher.search(rows[i].query, k: depth)
                return hits.prefix(depth).contains(rows[i].docId)
            }
        case .monot5:
            guard let scorer, let corpus else { return [] }
            var passed: [Bool] = []
            passed.reserveCapacity(rows.count)
            for row in rows {
                let hits = try searcher.search(row.query, k: c.consistencyCandidates)
                guard hits.contains(row.docId) else {
                    passed.append(false)
                    continue
                }
                let texts = hits.map { corpus[$0] ?? "" }
                let scored = try scorer.score(
                    texts.map { ScoringPair(query: row.query, document: $0) }, progress: nil)
                summary.truncatedDocuments += scored.truncatedDocuments
                if scored.allAlike(for: texts.map { ScoringPair(query: row.query, document: $0) }) {
                    summary.identicalScoreGroups += 1
                }
                let scores = scored.scores
                guard scores.count == hits.count else {
                    throw FilterError.invalidScores(
                        reason: "expected \(hits.count) scores, got \(scores.count)")
                }
                // Rank of the source document after rescoring; ties keep BM25 order.
                let source = hits.firstIndex(of: row.docId)!
                var rank = 0
                for j in hits.indices where j != source {
                    if scores[j] > scores[source] || (scores[j] == scores[source] && j < source) {
                        rank += 1
                    }
                }
                passed.append(rank < c.consistencyDepth)
            }
            return passed
        }
    }
}
