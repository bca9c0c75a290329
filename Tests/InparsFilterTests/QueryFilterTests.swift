import Foundation
import InparsCore
import InparsTestSupport
import Testing

@testable import InparsFilter

@Suite struct QueryFilterTests {
    func run(
        _ input: [SyntheticQuery], _ strategy: FilterStrategy = .scores,
        _ configure: (inout FilterConfiguration) -> Void = { _ in }
    ) throws -> FilterResult {
        var configuration = FilterConfiguration(strategy: strategy)
        configure(&configuration)
        return try QueryFilter(configuration: configuration).run(input)
    }

    @Test func meanSumAndMeanProbScores() throws {
        // Hand-computed: mean(-1,-2,-3) = -2; sum = -6;
        // mean(e^-1, e^-2, e^-3) = (0.367879441 + 0.135335283 + 0.049787068) / 3 = 0.184333931.
        let lp: [Double] = [-1, -2, -3]
        #expect(ScoreFunction.mean.score(lp) == -2)
        #expect(ScoreFunction.sum.score(lp) == -6)
        let meanProb = try #require(ScoreFunction.meanProb.score(lp))
        #expect(abs(meanProb - 0.184333931) < 1e-9)
        #expect(ScoreFunction.mean.score([]) == nil)
    }

    @Test func theScoreFunctionChangesTheOrder() throws {
        // a: 3 tokens of -1 (mean -1, sum -3); b: 6 tokens of -0.9 (mean -0.9, sum -5.4);
        // c: [-0.01, -0.01, -4] (mean -1.34, sum -4.02, mean-prob (0.990+0.990+0.018)/3 = 0.666).
        let input = rows([
            ("a", "query a", [-1, -1, -1]),
            ("b", "query b", [-0.9, -0.9, -0.9, -0.9, -0.9, -0.9]),
            ("c", "query c", [-0.01, -0.01, -4]),
        ])
        #expect(try run(input).kept.map(\.row.docId) == ["b", "a", "c"])
        #expect(
            try run(input) { $0.scoreFunction = .sum }.kept.map(\.row.docId) == ["a", "c", "b"])
        #expect(
            try run(input) { $0.scoreFunction = .meanProb }.kept.map(\.row.docId) == [
                "c", "b", "a",
            ])
    }

    @Test func equalScoresKeepInputOrderAndTopKCuts() throws {
        let input = rows([
            ("d1", "q one", [-2, -2, -2]), ("d2", "q two", [-1, -1, -1]),
            ("d3", "q three", [-2, -2, -2]), ("d4", "q four", [-1, -1, -1]),
            ("d5", "q five", [-2, -2, -2]),
        ])
        let all = try run(input) { $0.keepTopK = 0 }
        #expect(all.kept.map(\.row.docId) == ["d2", "d4", "d1", "d3", "d5"])
        let top3 = try run(input) { $0.keepTopK = 3 }
        #expect(top3.kept.map(\.row.docId) == ["d2", "d4", "d1"])
        #expect(top3.summary.belowTopK == 2)
        #expect(top3.summary.kept == 3)
    }

    @Test func tokenCountRulesUseTheLogProbLength() throws {
        let input = rows([
            ("d1", "two tokens", [-1, -1]), ("d2", "three", [-1, -1, -1]),
            ("d3", "five", [-1, -1, -1, -1, -1]), ("d4", "six", [-1, -1, -1, -1, -1, -1]),
        ])
        let result = try run(input) {
            $0.minTokens = 3
            $0.maxTokens = 5
        }
        #expect(result.kept.map(\.row.docId) == ["d2", "d3"])
        #expect(result.summary.tooFewTokens == 1)
        #expect(result.summary.tooManyTokens == 1)
        // Defaults: 3 and 1000.
        let defaults = try run(input)
        #expect(defaults.summary.tooFewTokens == 1 && defaults.summary.tooManyTokens == 0)
    }

    @Test func skipCopiedIsCaseInsensitiveOnBothFieldConventions() throws {
        let lines = [
            #"{"doc_id": "d1", "text": "The Aspirin Trial showed benefit.", "query": "aspirin trial", "log_probs": [-1, -1, -1]}"#,
            #"{"doc_id": "d2", "doc_text": "Statins in the ELDERLY.", "question": "statins in the elderly", "log_probs": [-1, -1, -1]}"#,
            #"{"doc_id": "d3", "doc_text": "Statins in the elderly.", "question": "do statins help", "log_probs": [-1, -1, -1]}"#,
        ]
        let input = try SyntheticQueryReader.read(try writeInput(lines)).rows
        let result = try run(input) { $0.skipCopied = true }
        #expect(result.kept.map(\.row.docId) == ["d3"])
        #expect(result.summary.copied == 2)
        #expect(try run(input).kept.count == 3)
    }

    @Test func skipCopiedWithoutDocumentTextAsksForACorpus() throws {
        let input = [
            SyntheticQuery(
                lineNumber: 4, queryId: "3", docId: "d", query: "q", logProbs: [-1, -1, -1])
        ]
        #expect(
            throws: FilterError.missingDocumentText(path: "input", line: 4, rule: "--skip-copied")
        ) {
            try run(input) { $0.skipCopied = true }
        }
    }

    @Test func dedupeKeepsTheBestScoredAndTheFirstOnTies() throws {
        let input = rows([
            ("d1", "What is BM25", [-2, -2, -2]),  // normalised duplicate of d2, worse
            ("d2", "what is  bm25 ", [-1, -1, -1]),  // best of its group
            ("d3", "what is  bm25 ", [-3, -3, -3]),  // exact duplicate of d2, worse
            ("d4", "tie query", [-1, -1, -1]),  // first of a tie: kept
            ("d5", "tie query", [-1, -1, -1]),  // exact duplicate, same score: dropped
            ("d6", "Tie  Query", [-1, -1, -1]),  // normalised duplicate, same score: dropped
            ("d7", "unique", [-4, -4, -4]),
        ])
        let result = try run(input) { $0.dedupe = true }
        #expect(result.kept.map(\.row.docId) == ["d2", "d4", "d7"])
        #expect(result.summary.exactDuplicates == 2)  // d3 (same text as d2), d5
        #expect(result.summary.normalisedDuplicates == 2)  // d1, d6
        #expect(try run(input).kept.count == 7)
    }

    @Test func normalisedQueryLowercasesAndCollapsesWhitespace() {
        #expect(QueryFilter.normalisedQuery("  What\tIS\n BM25 ") == "what is bm25")
    }

    @Test func emptyQueriesAreCountedNotKept() throws {
        let input = rows([("d1", "   ", [-1, -1, -1]), ("d2", "real", [-1, -1, -1])])
        let result = try run(input)
        #expect(result.kept.map(\.row.docId) == ["d2"])
        #expect(result.summary.emptyQuery == 1)
    }

    @Test func rerankerStrategyScoresQueryAgainstItsDocument() throws {
        let input = [
            SyntheticQuery(
                lineNumber: 1, queryId: "0", docId: "d1", query: "fever aspirin",
                documentText: "aspirin lowers fever", logProbs: [-9, -9, -9]),
            SyntheticQuery(
                lineNumber: 2, queryId: "1", docId: "d2", query: "heart statins",
                documentText: "aspirin lowers fever", logProbs: [-1, -1, -1]),
            SyntheticQuery(
                lineNumber: 3, queryId: "2", docId: "d3", query: "statins",
                documentText: "statins protect the heart", logProbs: nil),
        ]
        let scorer = OverlapScorer()
        var configuration = FilterConfiguration(strategy: .reranker)
        configuration.keepTopK = 2
        let result = try QueryFilter(configuration: configuration, scorer: scorer).run(input)
        // Overlaps: d1 = 2, d2 = 0, d3 = 1; a row without log_probs is not length-filtered.
        #expect(result.kept.map(\.row.docId) == ["d1", "d3"])
        #expect(result.kept.map(\.scoreText) == ["2.0", "1.0"])
        #expect(scorer.calls == 3)
    }

    @Test func rerankerUsesCorpusTextWhenGiven() throws {
        let input = [
            SyntheticQuery(
                lineNumber: 1, queryId: "0", docId: "d1", query: "statins heart",
                documentText: "unrelated", logProbs: [-1, -1, -1])
        ]
        let corpus = ["d1": "Statins heart"]
        let result = try QueryFilter(
            configuration: FilterConfiguration(strategy: .reranker), scorer: OverlapScorer(),
            corpus: corpus
        ).run(input)
        #expect(result.kept.first?.score == 2)
    }

    @Test func rerankerWithoutAModelIsAConfigurationError() throws {
        #expect(throws: FilterError.self) {
            try QueryFilter(configuration: FilterConfiguration(strategy: .reranker)).run(
                rows([("d", "q", [-1])]))
        }
    }

    @Test func unknownDocumentIdsThrowOrAreCounted() throws {
        let input = rows([("d1", "q1", [-1, -1, -1]), ("zz", "q2", [-1, -1, -1])])
        let filter = QueryFilter(
            configuration: FilterConfiguration(strategy: .scores), corpus: ["d1": "text"],
            inputPath: "in.jsonl", corpusPath: "corpus.jsonl")
        #expect(
            throws: FilterError.unknownDocument(
                path: "in.jsonl", line: 2, docId: "zz", corpus: "corpus.jsonl")
        ) {
            try filter.run(input)
        }
        var lenient = filter
        lenient.configuration.skipBadLines = true
        let result = try lenient.run(input)
        #expect(result.kept.map(\.row.docId) == ["d1"])
        #expect(result.summary.unknownDocument == 1)
    }

    @Test func bm25ConsistencyKeepsQueriesWhoseSourceRanksWithinDepth() throws {
        let input = rows([
            ("d1", "q1", [-3, -3, -3]), ("d2", "q2", [-1, -1, -1]), ("d3", "q3", [-2, -2, -2]),
            ("d4", "q4", [-1, -1, -1]),
        ])
        let searcher = FakeSearcher([
            "q1": ["x", "y", "d1", "z"],  // rank 3: kept at depth 3
            "q2": ["x", "y", "z", "d2"],  // rank 4: dropped
            "q3": ["d3"],  // rank 1
            // q4: no hits: dropped
        ])
        var configuration = FilterConfiguration(strategy: .consistency)
        configuration.threads = 3
        let result = try QueryFilter(configuration: configuration, searcher: searcher).run(input)
        #expect(result.kept.map(\.row.docId) == ["d3", "d1"])  // sorted by mean log-prob
        #expect(result.summary.failedConsistency == 2)
        configuration.consistencyDepth = 4
        let deeper = try QueryFilter(configuration: configuration, searcher: searcher).run(input)
        #expect(deeper.kept.map(\.row.docId) == ["d2", "d3", "d1"])
    }

    @Test func monoT5ConsistencyReranksBM25Candidates() throws {
        let input = rows([("d1", "statins heart", [-1, -1, -1]), ("d2", "aspirin", [-1, -1, -1])])
        let corpus = [
            "a": "nothing here", "b": "statins", "d1": "statins heart", "c": "heart",
            "d2": "paracetamol", "e": "aspirin", "f": "aspirin again",
        ]
        // BM25 has d1 at rank 4 (outside depth 1) but monoT5 (overlap) lifts it to rank 1;
        // d2 is BM25's rank 1 but overlap 0 puts it behind e and f.
        let searcher = FakeSearcher([
            "statins heart": ["a", "b", "c", "d1"], "aspirin": ["d2", "e", "f"],
        ])
        var configuration = FilterConfiguration(strategy: .consistency)
        configuration.consistencyRanker = .monot5
        configuration.consistencyDepth = 1
        configuration.consistencyCandidates = 10
        let filter = QueryFilter(
            configuration: configuration, scorer: OverlapScorer(), searcher: searcher,
            corpus: corpus)
        let result = try filter.run(input)
        #expect(result.kept.map(\.row.docId) == ["d1"])
        #expect(result.summary.failedConsistency == 1)
        var bm25 = filter
        bm25.configuration.consistencyRanker = .bm25
        #expect(try bm25.run(input).kept.map(\.row.docId) == ["d2"])
    }

    @Test func outputRowsKeepEveryFieldAndGainAScore() throws {
        let line =
            #"{"doc_id": 12, "text": "t \"x\"", "query": "what is \u00e9", "log_probs": [-1.0, -0.5, -0.0], "fewshot_examples": [], "model": "m"}"#
        let input = try SyntheticQueryReader.read(try writeInput([line])).rows
        let kept = try run(input).kept
        #expect(
            kept.first?.outputLine
                == #"{"doc_id": 12, "text": "t \"x\"", "query": "what is \u00e9", "log_probs": [-1.0, -0.5, -0.0], "fewshot_examples": [], "model": "m", "score": -0.5}"#
        )
    }

    @Test func anExistingScoreIsReplacedInPlace() throws {
        let line = #"{"doc_id": "d", "score": 3.25, "query": "q", "log_probs": [-2, -2, -2]}"#
        let input = try SyntheticQueryReader.read(try writeInput([line])).rows
        #expect(
            try run(input).kept.first?.outputLine
                == #"{"doc_id": "d", "score": -2.0, "query": "q", "log_probs": [-2, -2, -2]}"#)
    }
}
