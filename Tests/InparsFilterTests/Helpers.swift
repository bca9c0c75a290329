import Foundation
import InparsFilter
import InparsRanker
import InparsTestSupport

/// Writes `lines` (joined by newlines) to a fresh temporary file and returns its URL.
func writeInput(_ lines: [String], name: String = "queries.jsonl") throws -> URL {
    let url = try TestPaths.temporaryDirectory("inpars-filter").appendingPathComponent(name)
    try lines.joined(separator: "\n").appending(lines.isEmpty ? "" : "\n")
        .write(to: url, atomically: true, encoding: .utf8)
    return url
}

/// A toolkit/inpars-style row.
func toolkitRow(
    _ docId: String, _ query: String, text: String = "some document text",
    logProbs: [Double] = [-0.5, -0.5, -0.5], extra: String = ""
) -> String {
    let lp = logProbs.map { "\($0)" }.joined(separator: ", ")
    return
        #"{"doc_id": "\#(docId)", "text": "\#(text)", "query": "\#(query)", "log_probs": [\#(lp)]\#(extra)}"#
}

/// Rows in memory, without going through a file.
func rows(_ items: [(docId: String, query: String, logProbs: [Double])], text: String = "doc")
    -> [SyntheticQuery]
{
    items.enumerated().map { i, item in
        SyntheticQuery(
            lineNumber: i + 1, queryId: String(i), docId: item.docId, query: item.query,
            documentText: text, logProbs: item.logProbs,
            rawLine: toolkitRow(item.docId, item.query, logProbs: item.logProbs))
    }
}

/// A searcher with canned rankings per query text; unknown queries get no hits.
struct FakeSearcher: DocumentSearcher {
    var rankings: [String: [String]]
    var fallback: (@Sendable (String) -> [String])?

    init(_ rankings: [String: [String]], fallback: (@Sendable (String) -> [String])? = nil) {
        self.rankings = rankings
        self.fallback = fallback
    }

    func search(_ query: String, k: Int) throws -> [String] {
        let hits = rankings[query] ?? fallback?(query) ?? []
        return Array(hits.prefix(k))
    }
}

/// Scores a pair by how many query words occur in the document (a stand-in for monoT5),
/// and counts the pairs it scored.
final class OverlapScorer: RelevanceScorer {
    var calls = 0
    let name = "overlap"
    let details = "query-word overlap"
    let maxLength = 512

    func score(_ pairs: [ScoringPair], progress: ((Int) -> Void)?) throws -> PairScores {
        calls += pairs.count
        return PairScores(
            scores: pairs.map { pair in
                let words = Set(pair.query.lowercased().split(separator: " "))
                return Float(
                    Set(pair.document.lowercased().split(separator: " ")).intersection(words).count)
            })
    }
}
