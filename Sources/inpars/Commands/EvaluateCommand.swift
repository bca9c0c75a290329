import ArgumentParser
import Foundation
import InparsCore
import InparsHub
import InparsEval

/// `inpars evaluate`: trec_eval-exact metrics for a run.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a TREC run against qrels with trec_eval's semantics.",
        discussion: """
            Metrics: ndcg@K, mrr@K, map, map@K, recall@K, p@K, judged@K. Runs are ranked as \
            trec_eval ranks them (score descending, ties by document id descending). Output: \
            'metric<TAB>all<TAB>value' lines (per query with --per-query), or JSON with --json.
            """)

    @Option(
        help: "Qrels: BEIR TSV (query-id corpus-id score) or TREC (qid 0 docid rel), or beir/<name>[/<split>].")
    var qrels: String

    @Option(name: .customLong("run"), help: "The TREC run file.")
    var runFile: String

    @Option(help: "Comma-separated metrics.")
    var metrics: String = "ndcg@10,mrr@10,map,recall@100,recall@1000,p@10,judged@10"

    @Option(help: "Minimum grade counted as relevant by binary metrics (trec_eval -l).")
    var relevanceThreshold: Int = 1

    @Flag(
        name: [.customLong("all-queries"), .customShort("c")],
        help: "Average over all qrels queries, scoring missing ones 0 (trec_eval -c).")
    var allQueries = false

    @Flag(help: "Also print each query's values.")
    var perQuery = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        do { _ = try Metric.parseList(metrics) } catch {
            throw ValidationError(error.localizedDescription)
        }
    }

    func run() throws {
        let list = try Metric.parseList(metrics)
        let judgments = try Qrels.read(DatasetLocator.resolve(qrels, role: .qrels))
        let results = try Run.read(URL(fileURLWithPath: runFile))
        let result = try Evaluator.evaluate(
            run: results, qrels: judgments, metrics: list,
            options: EvaluationOptions(
                relevanceThreshold: relevanceThreshold, averageOverAllQueries: allQueries))
        let text = json ? try result.json(perQuery: perQuery) : result.table(perQuery: perQuery)
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
