import Foundation
import InparsBM25
import InparsCore
import InparsEval
import InparsTestSupport
import Testing

/// Pyserini's BM25-flat figures on SciFact (castorini/pyserini 2cr/beir.yaml), which this
/// implementation must reproduce within ±0.002.
@Suite struct SciFactQualityTests {
    @Test func sciFactMatchesPyseriniFlatBM25() throws {
        guard let data = TestPaths.sharedData("scifact") else {
            print("skipped: ../shared/data/scifact is not present (SciFact quality test)")
            return
        }
        let directory = try TestPaths.temporaryDirectory("scifact-index")
        defer { try? FileManager.default.removeItem(at: directory) }
        let indexURL = directory.appendingPathComponent("index")
        let started = Date()
        let report = try BM25IndexBuilder.build(
            corpus: data.appendingPathComponent("corpus.jsonl"), index: indexURL, threads: 2)
        let indexed = Date()
        #expect(report.documents == 5183)
        let index = try BM25Index.open(indexURL)
        let qrels = try Qrels.read(data.appendingPathComponent("qrels/test.tsv"))
        let allQueries = try QueryReader.read(data.appendingPathComponent("queries.jsonl")).queries
        let queries = allQueries.filter { qrels.judgments[$0.id] != nil }
        #expect(queries.count == 300)
        let run = BM25BatchSearch.run(index: index, queries: queries, k: 1000, threads: 2)
        let searched = Date()
        let result = try Evaluator.evaluate(
            run: run, qrels: qrels,
            metrics: [.ndcg(cutoff: 10), .recall(cutoff: 100), .recall(cutoff: 1000)])
        let ndcg = result.mean[.ndcg(cutoff: 10)]!
        let r100 = result.mean[.recall(cutoff: 100)]!
        let r1000 = result.mean[.recall(cutoff: 1000)]!
        print(
            "SciFact BM25: nDCG@10 \(ndcg) R@100 \(r100) R@1000 \(r1000); index"
                + " \(indexed.timeIntervalSince(started)) s, search"
                + " \(searched.timeIntervalSince(indexed)) s")
        #expect(abs(ndcg - 0.6789) <= 0.002, "nDCG@10 \(ndcg)")
        #expect(abs(r100 - 0.9253) <= 0.002, "R@100 \(r100)")
        #expect(abs(r1000 - 0.9767) <= 0.002, "R@1000 \(r1000)")
    }
}
