/// Scores (query, document) pairs for relevance; higher is more relevant.
///
/// `MonoT5Reranker` (InparsRanker) is the production scorer (log P(true)); tests use fakes.
public protocol PairScorer {
    /// One score per document, in the order given.
    func score(query: String, documents: [String]) throws -> [Float]

    /// One score per pair; the default groups nothing and calls
    /// ``score(query:documents:)`` once per pair.
    func score(pairs: [(query: String, document: String)]) throws -> [Float]
}

extension PairScorer {
    public func score(pairs: [(query: String, document: String)]) throws -> [Float] {
        var scores: [Float] = []
        scores.reserveCapacity(pairs.count)
        for pair in pairs {
            let s = try score(query: pair.query, documents: [pair.document])
            guard s.count == 1 else {
                throw FilterError.invalidScores(reason: "expected 1 score, got \(s.count)")
            }
            scores.append(s[0])
        }
        return scores
    }
}

/// Retrieves document ids for a query, best first (BM25 in production).
///
/// Must be safe to call from several threads at once: ``TripleBuilder`` and the BM25
/// consistency check search in parallel.
public protocol DocumentSearcher: Sendable {
    /// Up to `k` document ids, best first, ties in a deterministic order.
    func search(_ query: String, k: Int) throws -> [String]
}

/// A ``DocumentSearcher`` that can also answer with internal document numbers
/// (`0..<documentCount`), so callers handling many hits per query (``TripleBuilder``) can
/// avoid making an id string per hit.
public protocol NumberedDocumentSearcher: DocumentSearcher {
    /// Documents in the index; numbers are `0..<documentCount`.
    var documentCount: Int { get }
    /// The id of document `number`.
    func documentId(_ number: Int) -> String
    /// Up to `k` document numbers, best first, in the same order as ``search(_:k:)``.
    func searchNumbers(_ query: String, k: Int) throws -> [Int32]
}
