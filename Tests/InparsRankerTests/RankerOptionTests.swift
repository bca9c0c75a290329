import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTestSupport
import InparsTensor
import InparsTokenizers
import Testing

/// Issue 16, finding 3: a caller's mistake in the reranker's options is a thrown error naming
/// the option, never a trap (`filter --max-length 3` used to stop on SIGILL).
@Suite struct RankerOptionTests {
    let folder = TestPaths.fixtures.appendingPathComponent("t5-tiny")

    @Test(arguments: [-1, 0, 3, 15])
    func aMaxLengthTooSmallForMonoT5IsAnError(maxLength: Int) throws {
        #expect(
            throws: RankerError.invalidOption(
                name: "--max-length", value: String(maxLength),
                reason: "a monoT5 input needs at least 16 tokens")
        ) {
            _ = try MonoT5Reranker.load(directory: folder, options: .init(maxLength: maxLength))
        }
        let tokenizer = try SentencePieceTokenizer.load(directory: folder)
        #expect(throws: RankerError.self) {
            _ = try MonoT5InputBuilder(tokenizer: tokenizer, maxLength: maxLength)
        }
    }

    @Test func aScorerReturningTheWrongNumberOfScoresIsAnError() throws {
        let run = Run([
            RunEntry(queryId: "q", docId: "a", rank: 1, score: 1),
            RunEntry(queryId: "q", docId: "b", rank: 2, score: 0),
        ])
        #expect(throws: RankerError.scoreCountMismatch(query: "q", expected: 2, found: 1)) {
            _ = try RunReranker(topK: 10).rerank(
                run: run,
                documents: ["a": Document(id: "a", text: "x"), "b": Document(id: "b", text: "y")],
                queries: ["q": Query(id: "q", text: "q")]
            ) { _, _ in [0.5] }
        }
    }

    @Test func aBatchSizeOrTopKBelowOneIsAnError() throws {
        #expect(throws: RankerError.self) {
            _ = try MonoT5Reranker.load(directory: folder, options: .init(batchSize: 0))
        }
        #expect(throws: RankerError.self) { _ = try RunReranker(topK: 0) }
        let model = try T5Model.load(directory: folder)
        #expect(throws: RankerError.self) {
            _ = try MonoT5Scorer(model: model, positiveID: -1, negativeID: 2)
        }
        // The smallest accepted length still fits the suffix and EOS.
        let reranker = try MonoT5Reranker.load(directory: folder, options: .init(maxLength: 16))
        let ids = reranker.inputIDs(query: "a long query " + String(repeating: "word ", count: 40),
            document: "text")
        #expect(ids.count == 16)
        #expect(ids.last == reranker.tokenizer.eosID)
    }
}

/// Guards against silently wrong scores (issue 16): labels that are not single tokens are
/// refused; a model that scores every document alike is reported (pygaggle #325).
@Suite struct ScoringGuardTests {
    let folder = TestPaths.fixtures.appendingPathComponent("t5-tiny")

    /// A Unigram tokenizer.json in which `▁true` is a piece but "true" encodes as ▁tr + ue.
    static let splittingTokenizer = """
        {"added_tokens": [{"id": 0, "content": "<pad>", "special": true},
                          {"id": 1, "content": "</s>", "special": true},
                          {"id": 2, "content": "<unk>", "special": true}],
         "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
         "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
         "model": {"type": "Unigram", "unk_id": 2, "vocab": [
            ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["▁", -2.0], ["▁true", -100.0],
            ["▁tr", -1.0], ["ue", -1.0], ["▁false", -1.0], ["t", -5.0], ["r", -5.0],
            ["u", -5.0], ["e", -5.0], ["▁yes", -1.0], ["▁no", -1.0]]}}
        """

    @Test func labelsThatAreNotSingleTokensAreRefused() throws {
        let scratch = try TestPaths.temporaryDirectory("labels-split")
        let url = scratch.appendingPathComponent("tokenizer.json")
        try Data(Self.splittingTokenizer.utf8).write(to: url)
        let tokenizer = try SentencePieceTokenizer(tokenizerJSON: url)
        #expect(tokenizer.id(forToken: "▁true") == 4, "the piece exists")
        #expect(tokenizer.tokenize("true") == [5, 6], "but 'true' splits")
        let model = try T5Model.load(directory: folder)
        let error = #expect(throws: RankerError.self) {
            _ = try MonoT5Reranker(
                model: model, tokenizer: tokenizer, options: .init(labels: .trueFalse),
                directory: scratch.path)
        }
        #expect(
            error == .labelNotSingleToken(
                word: "true", piece: "▁true", encoded: ["▁tr", "ue"], directory: scratch.path))
        // yes/no are single pieces in this vocabulary: accepted.
        _ = try MonoT5Reranker(model: model, tokenizer: tokenizer, options: .init(labels: .yesNo))
    }

    @Test func aModelThatScoresEveryDocumentAlikeIsReported() throws {
        let reranker = try MonoT5Reranker.load(directory: folder)
        var flat = reranker.model
        // Every weight zero: every input gets the same logits, so the same score.
        flat.updateParameters { $0 = $0.zeros() }
        let broken = try MonoT5Reranker(
            model: flat, tokenizer: reranker.tokenizer, options: .init(maxLength: 64))
        let run = Run([
            RunEntry(queryId: "q1", docId: "d1", rank: 1, score: 2),
            RunEntry(queryId: "q1", docId: "d2", rank: 2, score: 1),
            RunEntry(queryId: "q2", docId: "d1", rank: 1, score: 1),
            RunEntry(queryId: "q3", docId: "d3", rank: 1, score: 1),
        ])
        let documents = [
            "d1": Document(id: "d1", text: "cats chase mice"),
            "d2": Document(id: "d2", text: "bread is baked"),
            "d3": Document(id: "d3", text: "one document alone"),
        ]
        let queries = [
            "q1": Query(id: "q1", text: "cats"), "q2": Query(id: "q2", text: "mice"),
            "q3": Query(id: "q3", text: "alone"),
        ]
        let reranking = try RunReranker(topK: 10)
        let bad = try reranking.rerank(
            run: run, documents: documents, queries: queries, scorer: broken)
        // q1 has two distinct documents scored alike; q2 and q3 have one document each.
        #expect(bad.summary.queriesWithIdenticalScores == 1)
        let good = try reranking.rerank(
            run: run, documents: documents, queries: queries, scorer: reranker)
        #expect(good.summary.queriesWithIdenticalScores == 0)
    }
}
