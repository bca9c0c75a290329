import Foundation

/// How synthetic queries are scored.
public enum FilterStrategy: String, Sendable, CaseIterable {
    /// Score from the generator's token log-probs (InPars-v1, toolkit `scores`).
    case scores
    /// Score = reranker relevance of (query, source document) (InPars-v2, toolkit `reranker`).
    case reranker
    /// Keep a query only if its source document ranks in the top ``FilterConfiguration/consistencyDepth``
    /// for it (InPars-light, Promptagator); kept rows are scored like ``scores``.
    case consistency
}

/// How a row's token log-probs become one score (``FilterStrategy/scores`` and
/// ``FilterStrategy/consistency``).
public enum ScoreFunction: String, Sendable, CaseIterable {
    /// Arithmetic mean of the log-probs (InPars default).
    case mean
    /// Sum of the log-probs (favours short queries; the v1 script's `sum_log_probs`, which
    /// was broken there).
    case sum
    /// Mean of the token probabilities `exp(logp)` (v1 `mean_probs`).
    case meanProb = "mean-prob"

    /// The score of `logProbs`; `nil` for an empty list.
    public func score(_ logProbs: [Double]) -> Double? {
        if logProbs.isEmpty { return nil }
        var total = 0.0
        switch self {
        case .mean, .sum:
            for value in logProbs { total += value }
        case .meanProb:
            for value in logProbs { total += exp(value) }
        }
        return self == .sum ? total : total / Double(logProbs.count)
    }
}

/// Which ranker the consistency check uses.
public enum ConsistencyRanker: String, Sendable, CaseIterable {
    /// BM25 rank of the source document among the whole corpus.
    case bm25
    /// Rank after rescoring BM25's top ``FilterConfiguration/consistencyCandidates`` with a
    /// relevance scorer (`InparsRanker.RelevanceScorer`: monoT5).
    case monot5
}

/// Options of ``QueryFilter``; defaults follow the InPars toolkit.
public struct FilterConfiguration: Sendable, Equatable {
    public var strategy: FilterStrategy
    public var scoreFunction: ScoreFunction = .mean
    /// Rows written after sorting; `0` keeps every surviving row.
    public var keepTopK = 10_000
    /// Drop a row with fewer generated tokens (length of `log_probs`) than this.
    public var minTokens = 3
    /// Drop a row with more generated tokens than this.
    public var maxTokens = 1_000
    /// Drop a query found verbatim (case-insensitive) in its source document.
    public var skipCopied = false
    /// Drop exact and whitespace/case-normalised duplicate queries, keeping the best-scored
    /// one (ties: the first in input order).
    public var dedupe = false
    /// Source document must rank within this many for the consistency check.
    public var consistencyDepth = 3
    /// Ranker of the consistency check.
    public var consistencyRanker: ConsistencyRanker = .bm25
    /// BM25 candidates rescored by monoT5 in the consistency check.
    public var consistencyCandidates = 100
    /// Count and skip rows whose document id the corpus lacks instead of throwing.
    public var skipBadLines = false
    /// Threads for BM25 searches.
    public var threads = 1
    /// Rows per block of the per-row phase: a block's survivors are scored in one scorer call,
    /// and a resumable run commits one block at a time. It decides each row's batch-mates, so
    /// it is a setting of the output (compared on resume and across shards).
    public var blockRows = 256

    public init(strategy: FilterStrategy) { self.strategy = strategy }
}
