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
        let c = configuration
        var summary = FilterSummary()
        summary.rowsRead = rows.count

        // Cheap rules.
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

        // Scores.
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

        if c.dedupe {
            scored = Self.dedupe(scored, summary: &summary)
        }

        // Stable sort, best first: equal scores keep input order.
        let order = scored.indices.sorted { a, b in
            scored[a].score != scored[b].score ? scored[a].score > scored[b].score : a < b
        }
        var kept = order.map { scored[$0] }
        if c.keepTopK > 0 && kept.count > c.keepTopK {
            summary.belowTopK = kept.count - c.keepTopK
            kept.removeLast(kept.count - c.keepTopK)
        }
        summary.kept = kept.count
        return FilterResult(kept: kept, summary: summary)
    }

    /// Normalised form used by ``FilterConfiguration/dedupe``: lower-cased, whitespace runs
    /// collapsed to one space, trimmed.
    public static func normalisedQuery(_ query: String) -> String {
        query.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Keeps, for each normalised query, the best-scored row (ties: the first in input
    /// order); the result keeps input order.
    static func dedupe(_ rows: [ScoredQuery], summary: inout FilterSummary) -> [ScoredQuery] {
        var best: [String: Int] = [:]
        for (i, item) in rows.enumerated() {
            let key = normalisedQuery(item.row.query)
            if let j = best[key] {
                if item.score > rows[j].score { best[key] = i }
            } else {
                best[key] = i
            }
        }
        var out: [ScoredQuery] = []
        for (i, item) in rows.enumerated() {
            let winner = best[normalisedQuery(item.row.query)]!
            if winner == i {
                out.append(item)
            } else if rows[winner].row.query == item.row.query {
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
        let progress = progressSink.map {
            ProgressReporter(label: "queries reranked", total: pairs.count, sink: $0)
        }
        var scores: [Float] = []
        scores.reserveCapacity(pairs.count)

        let batch = 256
        var start = 0
        while start < pairs.count {
            let end = min(pairs.count, start + batch)
            let part = try scorer.score(Array(pairs[start..<end]), progress: nil)
            guard part.scores.count == end - start else {
                throw FilterError.invalidScores(
                    reason: "expected \(end - start) scores, got \(part.scores.count)")
            }
            scores.append(contentsOf: part.scores)
            summary.truncatedDocuments += part.truncatedDocuments
            progress?.advance(by: end - start)
            start = end
        }
        progress?.finish()
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
        let progress = progressSink.map {
            ProgressReporter(label: "consistency checks", total: rows.count, sink: $0)
        }
        defer { progress?.finish() }
        switch c.consistencyRanker {
        case .bm25:
            let depth = c.consistencyDepth
            return try parallelMap(count: rows.count, threads: c.threads) { i in
                let hits = try searcher.search(rows[i].query, k: depth)
                progress?.advance()
                return hits.prefix(depth).contains(rows[i].docId)
            }
        case .monot5:
            guard let scorer, let corpus else { return [] }
            var passed: [Bool] = []
            passed.reserveCapacity(rows.count)
            for row in rows {
                let hits = try searcher.search(row.query, k: c.consistencyCandidates)
                progress?.advance()
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
