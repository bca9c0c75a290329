import InparsCore

/// What each filtering rule removed, for the stderr summary (kept in the output's manifest
/// across restarts and added up over shards).
public struct FilterSummary: Sendable, Equatable, StageSummary {
    /// Rows read from the input.
    public var rowsRead = 0
    /// Malformed lines skipped by the reader (`--skip-bad-lines`).
    public var skippedBadLines = 0
    /// Rows whose document id the corpus lacks (skipped with `--skip-bad-lines`).
    public var unknownDocument = 0
    /// Rows whose query is empty or only whitespace.
    public var emptyQuery = 0
    /// Fewer generated tokens than `--min-tokens`.
    public var tooFewTokens = 0
    /// More generated tokens than `--max-tokens`.
    public var tooManyTokens = 0
    /// Rows with an empty `log_probs` list when a log-prob score is needed.
    public var noLogProbs = 0
    /// Queries found verbatim in their document (`--skip-copied`).
    public var copied = 0
    /// Queries whose source document missed the consistency depth.
    public var failedConsistency = 0
    /// Duplicates of a better (or earlier) row with the very same query text.
    public var exactDuplicates = 0
    /// Duplicates after lower-casing and collapsing whitespace (not exact).
    public var normalisedDuplicates = 0
    /// Rows that survived every rule but fell below the top-k cut.
    public var belowTopK = 0
    /// Rows written.
    public var kept = 0
    /// Documents the scorer truncated to its maximum length (reranker, monoT5 consistency).
    public var truncatedDocuments = 0
    /// Score groups (all rows for the reranker strategy, a query's candidates for monoT5
    /// consistency) in which the model gave distinct pairs the same score (pygaggle #325).
    public var identicalScoreGroups = 0

    public init() {}

    public mutating func add(_ other: FilterSummary) {
        rowsRead += other.rowsRead
        skippedBadLines += other.skippedBadLines
        unknownDocument += other.unknownDocument
        emptyQuery += other.emptyQuery
        tooFewTokens += other.tooFewTokens
        tooManyTokens += other.tooManyTokens
        noLogProbs += other.noLogProbs
        copied += other.copied
        failedConsistency += other.failedConsistency
        exactDuplicates += other.exactDuplicates
        normalisedDuplicates += other.normalisedDuplicates
        belowTopK += other.belowTopK
        kept += other.kept
        truncatedDocuments += other.truncatedDocuments
    }

    /// One line per non-zero count, for people (stderr).
    public var lines: [String] {
        var out = ["rows read: \(rowsRead)"]
        let rules: [(String, Int)] = [
            ("malformed lines skipped", skippedBadLines),
            ("removed, unknown document id", unknownDocument),
            ("removed, empty query", emptyQuery),
            ("removed, fewer tokens than --min-tokens", tooFewTokens),
            ("removed, more tokens than --max-tokens", tooManyTokens),
            ("removed, empty log_probs", noLogProbs),
            ("removed, copied from the document (--skip-copied)", copied),
            ("removed, source document not in the consistency top-k", failedConsistency),
            ("removed, exact duplicate query (--dedupe)", exactDuplicates),
            ("removed, case/whitespace duplicate query (--dedupe)", normalisedDuplicates),
            ("removed, below --keep-top-k", belowTopK),
        ]
        for (label, count) in rules where count > 0 { out.append("\(label): \(count)") }
        out.append("kept: \(kept)")
        if truncatedDocuments > 0 {
            out.append("documents truncated to --max-length by the scorer: \(truncatedDocuments)")
        }
        if identicalScoreGroups > 0 {
            out.append(
                "warning: the reranker gave distinct (query, document) pairs the same score"
                    + " (\(identicalScoreGroups) time\(identicalScoreGroups == 1 ? "" : "s")), so"
                    + " its ranking carries no information (a model that ignores its input, as in"
                    + " pygaggle #325); check --labels and the checkpoint")
        }
        return out
    }
}
