import Foundation
import InparsTestSupport
import InparsTokenizers
import Testing

/// The `Tokenizer` seam: encoding is `tokenize` then the post-processor, for one sequence and
/// for pairs, whatever the loader; templates with leading special tokens and type ids (BERT's
/// shape) are read from `tokenizer.json`.
@Suite struct TokenizerProtocolTests {
    /// Through the protocol only, as a model family would use a tokenizer it did not build.
    func encodings(_ tokenizer: some Tokenizer, _ text: String) -> (
        plain: [Int32], single: [Int32]
    ) {
        (tokenizer.tokenize(text), tokenizer.encode(text))
    }

    @Test func everyLoaderEncodesAsTokenizeThenTheT5Template() throws {
        let golden = TokenizerGolden.shared
        for tokenizer in [
            try FixtureTokenizers.sentencePiece.get(), try FixtureTokenizers.json.get(),
            try FixtureTokenizers.modelAsHuggingFace.get(),
        ] {
            #expect(tokenizer.specialTokens == SpecialTokens(eos: golden.eosID, pad: golden.padID, unk: golden.unkID))
            for text in ["Query: how do cells divide Document:", "", "a b"] {
                let (plain, single) = encodings(tokenizer, text)
                #expect(single == plain + [golden.eosID], "\(text)")
                #expect(tokenizer.encode(text, addSpecialTokens: false) == plain)
            }
            // T5TokenizerFast pairs as `A </s> B </s>`, all token type ids 0.
            let pair = tokenizer.encode("first part", pairedWith: "second")
            let expected =
                tokenizer.tokenize("first part") + [golden.eosID] + tokenizer.tokenize("second")
                + [golden.eosID]
            #expect(pair.ids == expected)
            #expect(pair.typeIDs == [Int32](repeating: 0, count: expected.count))
        }
    }

    @Test func goldenIDsAreTokenizePlusEOS() throws {
        let golden = TokenizerGolden.shared
        let json = try FixtureTokenizers.json.get()
        for c in golden.cases {
            #expect(json.encode(c.text) == c.hfIDs, "\(c.name)")
            #expect(json.tokenize(c.text) == Array(c.hfIDs.dropLast()), "\(c.name)")
        }
    }

    /// A BERT-shaped `TemplateProcessing` (a leading special token, the second sequence and its
    /// separator with type id 1), built from the fixture's own tokens.
    @Test func aTemplateWithLeadingTokensAndTypeIDsIsRead() throws {
        let folder = try TestPaths.temporaryDirectory("tokenizer-template")
        defer { try? FileManager.default.removeItem(at: folder) }
        var root = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: TokenizerGolden.jsonFile))
                as? [String: Any])
        func special(_ id: String, _ type: Int) -> [String: Any] {
            ["SpecialToken": ["id": id, "type_id": type]]
        }
        func sequence(_ id: String, _ type: Int) -> [String: Any] {
            ["Sequence": ["id": id, "type_id": type]]
        }
        root["post_processor"] = [
            "type": "TemplateProcessing",
            "single": [special("<pad>", 0), sequence("A", 0), special("</s>", 0)],
            "pair": [
                special("<pad>", 0), sequence("A", 0), special("</s>", 0), sequence("B", 1),
                special("</s>", 1),
            ],
            "special_tokens": [
                "<pad>": ["id": "<pad>", "ids": [0], "tokens": ["<pad>"]],
                "</s>": ["id": "</s>", "ids": [1], "tokens": ["</s>"]],
            ],
        ]
        let url = folder.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: root).write(to: url)
        let tokenizer = try SentencePieceTokenizer(tokenizerJSON: url)
        let a = tokenizer.tokenize("relevant passage")
        let b = tokenizer.tokenize("query")
        #expect(!a.isEmpty && !b.isEmpty)
        #expect(tokenizer.encode("relevant passage") == [0] + a + [1])
        let pair = tokenizer.encode("relevant passage", pairedWith: "query")
        #expect(pair.ids == [0] + a + [1] + b + [1])
        #expect(
            pair.typeIDs
                == [Int32](repeating: 0, count: a.count + 2) + [Int32](repeating: 1, count: b.count + 1))
    }

    @Test func aTemplateWithoutItsSequenceIsRefused() throws {
        let folder = try TestPaths.temporaryDirectory("tokenizer-template-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        var root = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: TokenizerGolden.jsonFile))
                as? [String: Any])
        root["post_processor"] = [
            "type": "TemplateProcessing",
            "single": [["SpecialToken": ["id": "</s>", "type_id": 0]]],
            "pair": [] as [Any], "special_tokens": [:] as [String: Any],
        ]
        let url = folder.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: root).write(to: url)
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(tokenizerJSON: url) }
        do {
            _ = try SentencePieceTokenizer(tokenizerJSON: url)
        } catch {
            #expect(
                error.localizedDescription.contains("post_processor.single"),
                "\(error.localizedDescription)")
        }
    }
}
