import InparsCore
import InparsEval
import InparsRanker

/// Evaluation during training: rerank a first-stage run with the current weights and score
/// it against qrels (nDCG@10, MRR@10, trec_eval semantics).
public struct TrainingEvaluation: Sendable {
    public var queries: [String: Query]
    public var documents: [String: Document]
    public var run: Run
    public var qrels: Qrels
    /// Documents per query to rerank.
    public var topK: Int

    public init(
        queries: [String: Query], documents: [String: Document], run: Run, qrels: Qrels,
        topK: Int = 100
    ) {
        self.queries = queries
        self.documents = documents
        self.run = run
        self.qrels = qrels
        self.topK = topK
    }

    /// Evaluation on a first-stage run with its texts (``InparsCore/RerankingInput``).
    public init(input: RerankingInput, qrels: Qrels, topK: Int = 100) {
        self.init(
            queries: input.queries, documents: input.documents, run: input.run, qrels: qrels,
            topK: topK)
    }

    /// The metrics logged during training.
    public static let metrics: [Metric] = [.ndcg(cutoff: 10), .mrr(cutoff: 10)]

    /// Reranks ``run`` with `scorer` (the model being trained) and evaluates it.
    ///
    /// - Returns: nDCG@10 and MRR@10 (means over the queries in both run and qrels).
    /// - Throws: `EvalError.noQueriesToEvaluate` when the run and the qrels share no query.
    public func evaluate(scorer: some RelevanceScorer) throws -> (ndcg10: Double, mrr10: Double) {
        let reranked = try RunReranker(topK: topK).rerank(
            run: run, documents: documents, queries: queries, scorer: scorer
        ).run
        let result = try Evaluator.evaluate(run: reranked, qrels: qrels, metrics: Self.metrics)
        return (result.mean[.ndcg(cutoff: 10)] ?? 0, result.mean[.mrr(cutoff: 10)] ?? 0)
    }
}
