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
