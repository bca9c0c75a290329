import Foundation
import InparsCore

extension EvaluationResult {
    /// `metric<TAB>all<TAB>value` lines (4 decimals) after a `queries<TAB>all<TAB>N` line, as
    /// `inpars evaluate` prints them; with `perQuery`, each query's
    /// `metric<TAB>query<TAB>value` lines come first, queries sorted by id.
    public func table(perQuery includeQueries: Bool = false) -> String {
        var text = ""
        if includeQueries {
            for queryId in perQuery.keys.sorted() {
                for metric in metrics {
                    text +=
                        "\(metric)\t\(queryId)\t"
                        + formatFixed(perQuery[queryId]![metric]!, decimals: 4) + "\n"
                }
            }
        }
        text += "queries\tall\t\(queryCount)\n"
        for metric in metrics {
            text += "\(metric)\tall\t" + formatFixed(mean[metric]!, decimals: 4) + "\n"
        }
        return text
    }

    /// `{"queries": N, "metrics": {name: mean}}` (pretty, sorted keys), plus
    /// `"perQuery": {query: {name: value}}` with `perQuery`.
    public func json(perQuery includeQueries: Bool = false) throws -> String {
        var object: [String: Any] = [
            "queries": queryCount,
            "metrics": Dictionary(
                uniqueKeysWithValues: metrics.map { ($0.description, mean[$0]!) }),
        ]
        if includeQueries {
            object["perQuery"] = perQuery.mapValues { values in
                Dictionary(uniqueKeysWithValues: metrics.map { ($0.description, values[$0]!) })
            }
        }
        let data = try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
