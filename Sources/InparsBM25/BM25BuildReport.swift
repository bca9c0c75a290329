import InparsCore

/// What an index build saw and wrote.
public struct BM25BuildReport: Sendable, Equatable {
    /// Documents indexed (empty ones included).
    public var documents: Int
    /// Documents with at least one term after analysis.
    public var documentsWithTerms: Int
    /// Distinct terms.
    public var terms: Int
    /// Term occurrences (sum of document lengths).
    public var tokens: Int
    /// What the corpus reader reported (skipped lines, invalid UTF-8).
    public var readStatistics: ReadStatistics
    /// Bytes of `index.bin`.
    public var indexBytes: Int
}
