/// One line of a TREC run: a retrieved document for a query.
public struct RunEntry: Sendable, Hashable {
    /// The query id.
    public var queryId: String
    /// The document id.
    public var docId: String
    /// The 1-based rank as written in the file (trec_eval ignores it and sorts by score).
    public var rank: Int
    /// The retrieval score; higher is better.
    public var score: Double

    public init(queryId: String, docId: String, rank: Int, score: Double) {
        self.queryId = queryId
        self.docId = docId
        self.rank = rank
        self.score = score
    }
}
