import Foundation
import InparsCore
import InparsTestSupport
import InparsTraining

/// A small learnable monoT5 task for the trainer tests: a query is one topic word; a relevant
/// passage contains it among filler words, a non-relevant one has filler words only. All
/// words are single pieces of the `t5-tiny` fixture vocabulary.
enum SyntheticRelevanceTask {
    static let model = TestPaths.fixtures.appendingPathComponent("t5-tiny")
    static let topics = ["cancer", "diabetes", "disease", "hospital", "pressure", "growth"]
    static let fillers = [
        "study", "data", "model", "results", "samples", "group", "set", "metric", "effect",
        "function", "structure", "baseline", "population", "response", "evidence", "experiment",
    ]

    /// Six words: a relevant passage has the topic word three times among three fillers (a
    /// signal the 64-wide fixture model picks up within a few dozen steps), a non-relevant
    /// one six fillers.
    static func passage(topic: String?, using random: inout TestRandom) -> String {
        var words = (0..<(topic == nil ? 6 : 3)).map { _ in fillers.randomElement(using: &random)! }
        if let topic {
            for _ in 0..<3 {
                words.insert(topic, at: Int.random(in: 0...words.count, using: &random))
            }
        }
        return words.joined(separator: " ")
    }

    /// `count` triples as TSV text.
    static func triples(count: Int, seed: UInt64) -> String {
        var random = TestRandom(seed: seed)
        var text = ""
        for _ in 0..<count {
            let topic = topics.randomElement(using: &random)!
            let positive = passage(topic: topic, using: &random)
            let negative = passage(topic: nil, using: &random)
            text += "\(topic)\t\(positive)\t\(negative)\n"
        }
        return text
    }

    /// Four queries with eight candidates each; the two relevant ones sit at first-stage
    /// ranks 5 and 8, so a model that ignores the text scores a low nDCG@10.
    static func evaluation(seed: UInt64) -> TrainingEvaluation {
        var random = TestRandom(seed: seed)
        var queries: [String: Query] = [:]
        var documents: [String: Document] = [:]
        var entries: [RunEntry] = []
        var judgments: [String: [String: Int]] = [:]
        for (q, topic) in topics.prefix(4).enumerated() {
            let queryId = "q\(q)"
            queries[queryId] = Query(id: queryId, text: topic)
            for j in 0..<8 {
                let relevant = j == 4 || j == 7
                let docId = "d\(q)_\(j)"
                documents[docId] = Document(
                    id: docId, text: passage(topic: relevant ? topic : nil, using: &random))
                entries.append(
                    RunEntry(queryId: queryId, docId: docId, rank: j + 1, score: Double(10 - j)))
                if relevant { judgments[queryId, default: [:]][docId] = 1 }
            }
        }
        return TrainingEvaluation(
            queries: queries, documents: documents, run: Run(entries), qrels: Qrels(judgments),
            topK: 8)
    }

    /// Writes `text` to `name` in `folder`.
    static func write(_ text: String, _ name: String, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }
}
