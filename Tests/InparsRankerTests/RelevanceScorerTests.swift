import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTestSupport
import Testing

/// The scorer seam: loading through the registry, mixed-query batches, truncation counts.
@Suite struct RelevanceScorerTests {
    let v11 = TestPaths.fixtures.appendingPathComponent("t5-tiny-v11")

    /// A copy of the t5-tiny-v11 fixture whose config.json says it is an mT5.
    func mt5Copy() throws -> URL {
        let folder = try TestPaths.temporaryDirectory("scorer-mt5").appendingPathComponent(
            "mt5-tiny")
        try FileManager.default.copyItem(at: v11, to: folder)
        let url = folder.appendingPathComponent("config.json")
        var config = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        config["model_type"] = "mt5"
        config["architectures"] = ["MT5ForConditionalGeneration"]
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        return folder
    }

    @Test func aT5FolderLoadsAMonoT5ScorerThatScoresMixedQueriesLikeTransformers() throws {
        let golden = try MonoT5Golden.load("t5-tiny-v11")
        let cases = golden.cases.filter { $0.max_length == 512 }
        let scorer = try RelevanceScorers.load(directory: v11, options: .init(batchSize: 3))
        #expect(scorer is MonoT5Reranker)
        #expect(scorer.name == "monoT5" && scorer.maxLength == 512)
        #expect(scorer.details == "monoT5 (true-false labels, at most 512 tokens)")
        var done = 0
        let scored = try scorer.score(
            cases.map { ScoringPair(query: $0.query, document: $0.document) },
            progress: { done += $0 })
        #expect(done == cases.count && scored.truncatedDocuments == 0)
        let result = try #require(
            compare(
                scored.scores, cases.map(\.score_true_false), atol: MonoT5RerankerTests.tolerance))
        #expect(result.passes, "\(result.worst)")
    }

    /// mMARCO's multilingual monoT5 is an mT5: the same architecture, so the T5 code runs it,
    /// and its rerankers answer ▁yes/▁no.
    @Test func anMT5FolderIsRunByTheT5CodeWithYesNoLabels() throws {
        let folder = try mt5Copy()
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let golden = try MonoT5Golden.load("t5-tiny-v11")
        let cases = golden.cases.filter { $0.max_length == 512 }
        let pairs = cases.map { ScoringPair(query: $0.query, document: $0.document) }
        let scorer = try RelevanceScorers.load(directory: folder)
        #expect((scorer as? MonoT5Reranker)?.labels == .yesNo)
        let yesNo = try #require(
            compare(
                try scorer.score(pairs, progress: nil).scores, cases.map { $0.score_yes_no! },
                atol: MonoT5RerankerTests.tolerance))
        #expect(yesNo.passes, "\(yesNo.worst)")
        let explicit = try RelevanceScorers.load(
            directory: folder, options: .init(labels: .trueFalse))
        let trueFalse = try #require(
            compare(
                try explicit.score(pairs, progress: nil).scores, cases.map(\.score_true_false),
                atol: MonoT5RerankerTests.tolerance))
        #expect(trueFalse.passes, "\(trueFalse.worst)")
    }

    @Test func truncatedDocumentsAreCounted() throws {
        let scorer = try RelevanceScorers.load(directory: v11, options: .init(maxLength: 32))
        let long = Array(repeating: "proteins fold into shapes", count: 20).joined(separator: " ")
        let pairs = [
            ScoringPair(query: "protein folding", document: "short"),
            ScoringPair(query: "protein folding", document: long),
            ScoringPair(query: "another query", document: long),
            ScoringPair(query: "another query", document: ""),
        ]
        #expect(try scorer.score(pairs, progress: nil).truncatedDocuments == 2)
        // Through the run reranker, per query.
        let run = Run([
            RunEntry(queryId: "q", docId: "a", rank: 1, score: 2),
            RunEntry(queryId: "q", docId: "b", rank: 2, score: 1),
        ])
        let (_, summary) = try RunReranker(topK: 10).rerank(
            run: run,
            documents: ["a": Document(id: "a", text: long), "b": Document(id: "b", text: "x")],
            queries: ["q": Query(id: "q", text: "protein folding")], scorer: scorer)
        #expect(summary.truncatedDocuments == 1 && summary.pairsScored == 2)
    }

    @Test func aFolderOfAnotherFamilyIsRefusedByTheRegistry() throws {
        let folder = try TestPaths.temporaryDirectory("scorer-wav2vec2")
        defer { try? FileManager.default.removeItem(at: folder) }
        try #"{"model_type": "wav2vec2"}"#.write(
            to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        #expect(
            throws: ModelError.unsupportedModelType(
                directory: folder.path, modelType: "wav2vec2", architectures: [])
        ) { try RelevanceScorers.load(directory: folder) }
    }
}
