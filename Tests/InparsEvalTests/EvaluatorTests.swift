import Foundation
import InparsCore
import InparsEval
import InparsTestSupport
import Testing

/// Golden values from pytrec_eval (Scripts/fixtures/make_eval_fixtures.py).
@Suite struct EvaluatorGoldenTests {
    struct Case {
        var name: String
        var level: Int
        var qrels: Qrels
        var run: Run
        var perQuery: [String: [String: Double]]
        var mean: [String: Double]
        var meanAll: [String: Double]
        var queryCount: Int
        var qrelsQueryCount: Int
    }

    static func loadCases() throws -> [Case] {
        let url = TestPaths.fixtures.appendingPathComponent("eval/eval_cases.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return (root["cases"] as! [[String: Any]]).map { c in
            var qrels = Qrels()
            for (q, docs) in c["qrels"] as! [String: [String: Int]] { qrels.judgments[q] = docs }
            var run = Run()
            for row in c["run"] as! [[Any]] {
                run.append(
                    RunEntry(
                        queryId: row[0] as! String, docId: row[1] as! String, rank: row[2] as! Int,
                        score: (row[3] as! NSNumber).doubleValue))
            }
            return Case(
                name: c["name"] as! String, level: c["relevance_level"] as! Int, qrels: qrels,
                run: run, perQuery: c["per_query"] as! [String: [String: Double]],
                mean: c["mean"] as! [String: Double], meanAll: c["mean_all_queries"] as! [String: Double],
                queryCount: c["query_count"] as! Int, qrelsQueryCount: c["qrels_query_count"] as! Int)
        }
    }

    @Test func metricsMatchPytrecEvalToFourDecimals() throws {
        let cases = try Self.loadCases()
        #expect(cases.count == 3)
        for c in cases {
            let metrics = try c.mean.keys.sorted().map { name -> Metric in
                try #require(Metric(name), "metric \(name)")
            }
            let result = try Evaluator.evaluate(
                run: c.run, qrels: c.qrels, metrics: metrics,
                options: EvaluationOptions(relevanceThreshold: c.level))
            #expect(result.queryCount == c.queryCount, "\(c.name)")
            for metric in metrics {
                let name = c.mean.keys.first { Metric($0) == metric }!
                let got = result.mean[metric]!
                #expect(abs(got - c.mean[name]!) < 1e-4, "\(c.name) \(name): \(got) vs \(c.mean[name]!)")
                for (query, expected) in c.perQuery {
                    let value = result.perQuery[query]?[metric] ?? .nan
                    #expect(abs(value - expected[name]!) < 1e-4, "\(c.name) \(query) \(name)")
                }
            }
            let all = try Evaluator.evaluate(
                run: c.run, qrels: c.qrels, metrics: metrics,
                options: EvaluationOptions(relevanceThreshold: c.level, averageOverAllQueries: true))
            #expect(all.queryCount == c.qrelsQueryCount)
            for metric in metrics {
                let name = c.mean.keys.first { Metric($0) == metric }!
                #expect(abs(all.mean[metric]! - c.meanAll[name]!) < 1e-4, "-c \(c.name) \(name)")
            }
        }
    }
}

@Suite struct EvaluatorBehaviourTests {
    @Test func tiesAreBrokenByDocumentIdDescendingLikeTrecEval() throws {
        let qrels = Qrels(["q": ["b": 1]])
        let run = Run([
            RunEntry(queryId: "q", docId: "a", rank: 1, score: 2),
            RunEntry(queryId: "q", docId: "b", rank: 2, score: 2),
        ])
        let result = try Evaluator.evaluate(run: run, qrels: qrels, metrics: [.mrr(cutoff: nil)])
        #expect(result.mean[.mrr(cutoff: nil)] == 1.0)  // "b" > "a", so b ranks first
    }

    @Test func duplicateDocumentsAreRefused() {
        let run = Run([
            RunEntry(queryId: "q", docId: "a", rank: 1, score: 2),
            RunEntry(queryId: "q", docId: "a", rank: 2, score: 1),
        ])
        #expect(throws: EvalError.duplicateDocument(queryId: "q", docId: "a")) {
            _ = try Evaluator.evaluate(run: run, qrels: Qrels(["q": ["a": 1]]))
        }
    }

    @Test func disjointRunAndQrelsIsAnError() {
        let run = Run([RunEntry(queryId: "x", docId: "a", rank: 1, score: 2)])
        #expect(throws: EvalError.noQueriesToEvaluate) {
            _ = try Evaluator.evaluate(run: run, qrels: Qrels(["q": ["a": 1]]))
        }
    }

    @Test func metricNamesParse() throws {
        #expect(
            try Metric.parseList("ndcg@10,mrr@10,map,recall@100,p@10,judged@10") == [
                .ndcg(cutoff: 10), .mrr(cutoff: 10), .map(cutoff: nil), .recall(cutoff: 100),
                .precision(cutoff: 10), .judged(cutoff: 10),
            ])
        #expect(throws: EvalError.unknownMetric("bleu")) { _ = try Metric.parseList("bleu") }
        #expect(Metric("recall") == nil)
    }

    /// Issue 16, item 9: trec_eval's names (as `trec_eval -m` and pytrec_eval spell them) are
    /// aliases of ours.
    @Test func trecEvalMetricNamesAreAliases() throws {
        #expect(
            try Metric.parseList("recip_rank,P_10,P.5,ndcg_cut_10,ndcg_cut.20,map,map_cut_100,recall_100,recall.1000,ndcg") == [
                .mrr(cutoff: nil), .precision(cutoff: 10), .precision(cutoff: 5),
                .ndcg(cutoff: 10), .ndcg(cutoff: 20), .map(cutoff: nil), .map(cutoff: 100),
                .recall(cutoff: 100), .recall(cutoff: 1000), .ndcg(cutoff: nil),
            ])
        // trec_eval's forms without a cutoff number are not ours to guess.
        for name in ["P_", "ndcg_cut", "recall_x", "P_10_5"] {
            #expect(Metric(name) == nil, "\(name)")
        }
    }
}
