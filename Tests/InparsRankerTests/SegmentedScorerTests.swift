import Foundation
import InparsCore
import InparsRanker
import InparsTestSupport
import Testing

/// MaxP (`rerank --segment-length N --segment-stride S`): passages, the best passage's score,
/// and a relevant passage past the model's limit found with segments and missed without.
@Suite struct SegmentedScorerTests {
    /// Reads at most `maxLength` words (as a model reads at most `maxLength` tokens) and
    /// scores 1 when the query word is among them.
    struct FirstWordsScorer: RelevanceScorer {
        var name: String { "first-words" }
        var details: String { "first \(maxLength) words" }
        var maxLength = 512

        func score(_ pairs: [ScoringPair], progress: ((Int) -> Void)?) -> PairScores {
            var truncated = 0
            let scores = pairs.map { pair -> Float in
                let words = pair.document.split(separator: " ")
                if words.count > maxLength { truncated += 1 }
                return words.prefix(maxLength).contains { $0 == pair.query } ? 1 : 0
            }
            progress?(pairs.count)
            return PairScores(scores: scores, truncatedDocuments: truncated)
        }
    }

    static func words(_ count: Int, needleAt: Int? = nil) -> String {
        (0..<count).map { $0 == needleAt ? "needle" : "hay\($0 % 7)" }.joined(separator: " ")
    }

    @Test func passagesOverlapAndTheLastEndsAtTheDocumentsEnd() throws {
        let segmentation = try Segmentation(length: 4, stride: 3)
        #expect(segmentation.passages("a  b\tc") == ["a  b\tc"])  // short: untouched
        #expect(
            segmentation.passages("w0 w1 w2 w3 w4 w5 w6 w7 w8")
                == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w5 w6 w7 w8"])
        #expect(try Segmentation(length: 10).stride == 5)
        #expect(throws: RankerError.self) { try Segmentation(length: 4, stride: 5) }
        #expect(throws: RankerError.self) { try Segmentation(length: 0) }
    }

    @Test func aRelevantPassagePastTheLimitIsFoundWithSegmentsAndMissedWithout() throws {
        let documents = [
            "early": Document(id: "early", text: Self.words(300)),
            "late": Document(id: "late", text: Self.words(900, needleAt: 700)),
            "other": Document(id: "other", text: Self.words(50)),
        ]
        let run = Run([
            RunEntry(queryId: "q", docId: "early", rank: 1, score: 3),
            RunEntry(queryId: "q", docId: "other", rank: 2, score: 2),
            RunEntry(queryId: "q", docId: "late", rank: 3, score: 1),
        ])
        let queries = ["q": Query(id: "q", text: "needle")]
        let reranker = try RunReranker(topK: 10)
        let whole = try reranker.rerank(
            run: run, documents: documents, queries: queries, scorer: FirstWordsScorer())
        #expect(whole.run.entries["q"]!.map(\.docId) == ["early", "other", "late"])
        #expect(whole.summary.truncatedDocuments == 1)
        let segmented = try reranker.rerank(
            run: run, documents: documents, queries: queries,
            scorer: SegmentedScorer(
                FirstWordsScorer(), segmentation: try Segmentation(length: 150, stride: 75)))
        #expect(segmented.run.entries["q"]!.map(\.docId) == ["late", "early", "other"])
        #expect(segmented.run.entries["q"]!.first?.score == 1)
        #expect(segmented.summary.truncatedDocuments == 0)
    }

    @Test func theSummaryNamesThePassagesAndProgressCountsDocuments() throws {
        let scorer = SegmentedScorer(
            FirstWordsScorer(), segmentation: try Segmentation(length: 100, stride: 50))
        #expect(scorer.details == "first 512 words, MaxP over 100-word passages every 50 words")
        var done = 0
        let pairs = [
            ScoringPair(query: "needle", document: Self.words(1000, needleAt: 999)),
            ScoringPair(query: "needle", document: Self.words(10)),
        ]
        let scored = try scorer.score(pairs, progress: { done += $0 })
        #expect(scored.scores == [1, 0] && done == 2)
    }
}
