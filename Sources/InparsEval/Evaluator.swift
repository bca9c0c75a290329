import Foundation
import InparsCore

/// Options matching trec_eval's flags.
public struct EvaluationOptions: Sendable, Equatable {
    /// trec_eval `-l`: grades ≥ this count as relevant for binary measures (not for nDCG gains).
    public var relevanceThreshold: Int
    /// trec_eval `-c`: average over every query in the qrels, scoring 0 for queries missing
    /// from the run (default: only queries in both).
    public var averageOverAllQueries: Bool

    public init(relevanceThreshold: Int = 1, averageOverAllQueries: Bool = false) {
        self.relevanceThreshold = relevanceThreshold
        self.averageOverAllQueries = averageOverAllQueries
    }
}

/// Metric values per query and their mean.
public struct EvaluationResult: Sendable, Equatable {
    /// The metrics in the requested order.
    public var metrics: [Metric]
    /// query id → metric → value, for the evaluated queries.
    public var perQuery: [String: [Metric: Double]]
    /// metric → mean over ``queryCount`` queries.
    public var mean: [Metric: Double]
    /// Queries averaged over.
    public var queryCount: Int
}

/// trec_eval-exact evaluation of a run against qrels.
///
/// Per query, as trec_eval's `form_res_rels`: the run is sorted by score descending, ties by
/// document id descending (byte-wise `strcmp`), whatever the rank column says. Documents not in
/// the qrels are non-relevant; qrels grades < 0 mean "in the pool, unjudged". The number of
/// relevant documents counts qrels grades ≥ the threshold.
public enum Evaluator {
    /// Evaluates `run` against `qrels`.
    ///
    /// - Throws: ``EvalError/duplicateDocument(queryId:docId:)``,
    ///   ``EvalError/noQueriesToEvaluate``.
    public static func evaluate(
        run: Run, qrels: Qrels, metrics: [Metric] = Metric.defaults,
        options: EvaluationOptions = EvaluationOptions()
    ) throws -> EvaluationResult {
        var perQuery: [String: [Metric: Double]] = [:]
        var sums = [Metric: Double]()
        var count = 0
        for queryId in qrels.queryIds {
            let judgments = qrels.judgments[queryId]!
            guard let entries = run.entries[queryId] else {
                if options.averageOverAllQueries { count += 1 }
                continue
            }
            let values = try evaluateQuery(
                queryId: queryId, entries: entries, judgments: judgments, metrics: metrics,
                options: options)
            perQuery[queryId] = values
            for (metric, value) in values { sums[metric, default: 0] += value }
            count += 1
        }
        guard count > 0 else { throw EvalError.noQueriesToEvaluate }
        var mean = [Metric: Double]()
        for metric in metrics { mean[metric] = (sums[metric] ?? 0) / Double(count) }
        return EvaluationResult(
            metrics: metrics, perQuery: perQuery, mean: mean, queryCount: count)
    }

    /// The metric values of one query.
    public static func evaluateQuery(
        queryId: String, entries: [RunEntry], judgments: [String: Int], metrics: [Metric],
        options: EvaluationOptions
    ) throws -> [Metric: Double] {
        // trec_eval order: score descending, then docno descending (strcmp).
        let sorted = entries.sorted { a, b in
            if a.score != b.score { return a.score > b.score }
            return b.docId.utf8.lexicographicallyPrecedes(a.docId.utf8)
        }
        var seen = Set<String>()
        seen.reserveCapacity(sorted.count)
        for entry in sorted where !seen.insert(entry.docId).inserted {
            throw EvalError.duplicateDocument(queryId: queryId, docId: entry.docId)
        }
        // Grade per rank: nil = not in qrels.
        let grades: [Int?] = sorted.map { judgments[$0.docId] }
        let threshold = options.relevanceThreshold
        let numRelevant = judgments.values.filter { $0 >= threshold }.count
        // Ideal gains: all positive grades, descending.
        let idealGains = judgments.values.filter { $0 > 0 }.sorted(by: >)

        var values = [Metric: Double]()
        for metric in metrics {
            switch metric {
            case .ndcg(let cutoff):
                let k = cutoff ?? Int.max
                var dcg = 0.0
                for (i, grade) in grades.prefix(k).enumerated() {
                    if let g = grade, g > 0 { dcg += Double(g) / log2(Double(i + 2)) }
                }
                var ideal = 0.0
                for (i, g) in idealGains.prefix(k).enumerated() {
                    ideal += Double(g) / log2(Double(i + 2))
                }
                values[metric] = ideal > 0 ? dcg / ideal : 0
            case .mrr(let cutoff):
                var rr = 0.0
                for (i, grade) in grades.prefix(cutoff ?? Int.max).enumerated() {
                    if let g = grade, g >= threshold {
                        rr = 1 / Double(i + 1)
                        break
                    }
                }
                values[metric] = rr
            case .map(let cutoff):
                var found = 0
                var sum = 0.0
                for (i, grade) in grades.prefix(cutoff ?? Int.max).enumerated() {
                    if let g = grade, g >= threshold {
                        found += 1
                        sum += Double(found) / Double(i + 1)
                    }
                }
                values[metric] = numRelevant > 0 ? sum / Double(numRelevant) : 0
            case .recall(let cutoff):
                let found = grades.prefix(cutoff).filter { ($0 ?? Int.min) >= threshold }.count
                values[metric] = numRelevant > 0 ? Double(found) / Double(numRelevant) : 0
            case .precision(let cutoff):
                let found = grades.prefix(cutoff).filter { ($0 ?? Int.min) >= threshold }.count
                values[metric] = Double(found) / Double(cutoff)
            case .judged(let cutoff):
                let judged = grades.prefix(cutoff).filter { ($0 ?? -1) >= 0 }.count
                values[metric] = Double(judged) / Double(cutoff)
            }
        }
        return values
    }
}
