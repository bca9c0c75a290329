import Foundation

/// An evaluation measure with trec_eval semantics (see Docs/evaluation.md).
public enum Metric: Hashable, Sendable, CustomStringConvertible {
    /// `ndcg_cut.K` (graded gains = qrels values > 0; `nil` = no cutoff, trec_eval `ndcg`).
    case ndcg(cutoff: Int?)
    /// `recip_rank` over the top K (`nil` = whole run).
    case mrr(cutoff: Int?)
    /// `map` (`nil`) or `map_cut.K`.
    case map(cutoff: Int?)
    /// `recall.K`.
    case recall(cutoff: Int)
    /// `P.K`.
    case precision(cutoff: Int)
    /// Fraction of the top K that is judged (present in the qrels with a grade ≥ 0), over K.
    case judged(cutoff: Int)

    /// Parses `ndcg@10`, `mrr@10`, `mrr`, `map`, `map@100`, `recall@100`, `r@100`, `p@10`,
    /// `judged@10` (case-insensitive), and trec_eval's own names as `trec_eval -m` and
    /// pytrec_eval spell them: `P.10` / `P_10`, `ndcg_cut.10` / `ndcg_cut_10`, `recall.100` /
    /// `recall_100`, `map_cut.100` / `map_cut_100`, `recip_rank`, `ndcg`, `map`.
    public init?(_ name: String) {
        var lower = name.lowercased().trimmingCharacters(in: .whitespaces)
        for (trecName, ours) in Self.trecEvalNames {
            for separator in [".", "_"] where lower.hasPrefix(trecName + separator) {
                let cutoff = lower.dropFirst(trecName.count + 1)
                if !cutoff.isEmpty, cutoff.allSatisfy(\.isNumber) { lower = "\(ours)@\(cutoff)" }
            }
        }
        let parts = lower.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        let base = String(parts[0])
        var cutoff: Int?
        if parts.count == 2 {
            guard let value = Int(parts[1]), value > 0 else { return nil }
            cutoff = value
        }
        switch base {
        case "ndcg": self = .ndcg(cutoff: cutoff)
        case "mrr", "rr", "recip_rank": self = .mrr(cutoff: cutoff)
        case "map", "ap": self = .map(cutoff: cutoff)
        case "recall", "r":
            guard let cutoff else { return nil }
            self = .recall(cutoff: cutoff)
        case "p", "precision":
            guard let cutoff else { return nil }
            self = .precision(cutoff: cutoff)
        case "judged":
            guard let cutoff else { return nil }
            self = .judged(cutoff: cutoff)
        default: return nil
        }
    }

    /// trec_eval's measure names with a cutoff suffix, and ours.
    private static let trecEvalNames = [
        ("ndcg_cut", "ndcg"), ("map_cut", "map"), ("recall", "recall"), ("p", "p"),
    ]

    /// The canonical name, e.g. `ndcg@10`.
    public var description: String {
        func at(_ base: String, _ cutoff: Int?) -> String {
            cutoff.map { "\(base)@\($0)" } ?? base
        }
        switch self {
        case .ndcg(let c): return at("ndcg", c)
        case .mrr(let c): return at("mrr", c)
        case .map(let c): return at("map", c)
        case .recall(let c): return at("recall", c)
        case .precision(let c): return at("p", c)
        case .judged(let c): return at("judged", c)
        }
    }

    /// The default set for `inpars evaluate`.
    public static let defaults: [Metric] = [
        .ndcg(cutoff: 10), .mrr(cutoff: 10), .map(cutoff: nil), .recall(cutoff: 100),
        .recall(cutoff: 1000), .precision(cutoff: 10), .judged(cutoff: 10),
    ]

    /// Parses a comma-separated list.
    public static func parseList(_ text: String) throws -> [Metric] {
        try text.split(separator: ",").map { name in
            guard let metric = Metric(String(name)) else {
                throw EvalError.unknownMetric(String(name))
            }
            return metric
        }
    }
}
