import InparsRanker

/// monoT5 as the reranker filter and the consistency check's second stage: scores are
/// `log P(true)` (``InparsRanker/MonoT5Reranker/score(query:documents:)``).
extension MonoT5Reranker: PairScorer {
    /// Scores pairs of different queries in one length-sorted, batched pass.
    public func score(pairs: [(query: String, document: String)]) throws -> [Float] {
        score(inputs: pairs.map { inputIDs(query: $0.query, document: $0.document) })
    }
}
