import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTestSupport
import InparsTokenizers
import Testing

/// The `monot5` section of `Tests/Fixtures/<model>/golden.json` (see the fixtures README).
struct MonoT5Golden: Decodable {
    struct Case: Decodable {
        var query: String
        var document: String
        var max_length: Int
        var input_ids: [Int32]
        var score_true_false: Float
        var score_yes_no: Float?
    }
    var cases: [Case]
    var label_ids: [String: [Int32]]

    static func load(_ model: String) throws -> MonoT5Golden {
        struct File: Decodable { var monot5: MonoT5Golden }
        let url = TestPaths.fixtures.appendingPathComponent("\(model)/golden.json")
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).monot5
    }
}

/// monoT5 scores against transformers (log P(true), 2-way softmax at the first decoder step).
@Suite struct MonoT5RerankerTests {
    static let tolerance: Float = 1e-4

    func reranker(_ name: String, _ options: ScorerOptions = .init()) throws
        -> MonoT5Reranker
    {
        try MonoT5Reranker.load(
            directory: TestPaths.fixtures.appendingPathComponent(name), options: options)
    }

    @Test(arguments: ["t5-tiny", "t5-tiny-v11"])
    func inputsAndScoresMatchTransformers(_ name: String) throws {
        let golden = try MonoT5Golden.load(name)
        for maxLength in Set(golden.cases.map(\.max_length)) {
            let model = try reranker(name, .init(maxLength: maxLength, batchSize: 3))
            #expect(model.labels == .trueFalse)
            #expect(
                [model.labelIDs.positive, model.labelIDs.negative] == golden.label_ids["true_false"]
            )
            let cases = golden.cases.filter { $0.max_length == maxLength }
            for item in cases {
                #expect(
                    model.inputIDs(query: item.query, document: item.document) == item.input_ids,
                    "input of \(item.query) / \(item.document.prefix(30))")
            }
            let inputs = cases.map { model.inputIDs(query: $0.query, document: $0.document) }
            let result = try #require(
                compare(
                    model.score(inputs: inputs), cases.map(\.score_true_false), atol: Self.tolerance
                ))
            #expect(result.passes, "\(name) max length \(maxLength): \(result.worst)")
        }
    }

    @Test func flanFoldersUseYesAndNo() throws {
        let golden = try MonoT5Golden.load("t5-tiny-v11")
        let folder = TestPaths.fixtures.appendingPathComponent("t5-tiny-v11")
        let model = try MonoT5Reranker(
            model: try T5Model.load(directory: folder),
            tokenizer: try SentencePieceTokenizer.load(directory: folder),
            flanHint: "google/flan-t5-tiny")
        #expect(model.labels == .yesNo)
        #expect([model.labelIDs.positive, model.labelIDs.negative] == golden.label_ids["yes_no"])
        let cases = golden.cases.filter { $0.max_length == 512 }
        let scores = model.score(inputs: cases.map(\.input_ids))
        let result = try #require(
            compare(scores, cases.map { $0.score_yes_no! }, atol: Self.tolerance))
        #expect(result.passes, "yes/no: \(result.worst)")
        // The explicit option overrides the name.
        let explicit = try reranker("t5-tiny-v11", .init(labels: .yesNo))
        #expect(explicit.labels == .yesNo)
    }

    @Test func scoresDoNotDependOnBatchSizeOrOrder() throws {
        let golden = try MonoT5Golden.load("t5-tiny-v11")
        let inputs = golden.cases.map(\.input_ids)
        let single = try reranker("t5-tiny-v11", .init(batchSize: 1)).score(inputs: inputs)
        let batched = try reranker("t5-tiny-v11", .init(batchSize: 4)).score(
            inputs: inputs.reversed())
        let result = try #require(compare(Array(batched.reversed()), single, atol: 1e-5))
        #expect(result.passes, "\(result.worst)")
    }

    @Test func truncationKeepsRelevantAndEOSWhenTheQueryAloneIsTooLong() throws {
        let model = try reranker("t5-tiny", .init(maxLength: 16))
        let longQuery = String(repeating: "protein folding ", count: 20)
        let ids = model.inputIDs(query: longQuery, document: "a document")
        #expect(ids.count == 16)
        let suffix = model.tokenizer.encode("Relevant:", addEOS: true)
        #expect(Array(ids.suffix(suffix.count)) == suffix)
    }
}
