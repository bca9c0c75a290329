import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTestSupport
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
