import Foundation

/// Errors from evaluating runs.
public enum EvalError: Error, LocalizedError, Sendable, Equatable {
    /// A metric name that is not understood.
    case unknownMetric(String)
    /// The same document appears twice for one query (trec_eval refuses this too).
    case duplicateDocument(queryId: String, docId: String)
    /// Nothing to average: no query is both in the run and in the qrels.
    case noQueriesToEvaluate

    public var errorDescription: String? {
        switch self {
        case .unknownMetric(let name):
            return "Unknown metric '\(name)'; use ndcg@K, mrr[@K], map[@K], recall@K, p@K or"
                + " judged@K (or trec_eval's names: ndcg_cut.K, recip_rank, map, map_cut.K,"
                + " recall.K, P.K)."
        case .duplicateDocument(let queryId, let docId):
            return "Document '\(docId)' appears twice in the run for query '\(queryId)'; each"
                + " document may be ranked once per query."
        case .noQueriesToEvaluate:
            return "No query appears in both the run and the qrels; check that the query ids"
                + " match."
        }
    }
}
