import Foundation
import InparsTestSupport
import InparsTokenizers
import Testing

/// Every golden text encodes to exactly the ids of the reference libraries.
@Suite struct SentencePieceTokenizerGoldenTests {
    static let cases = TokenizerGolden.shared.cases

    @Test("spiece.model in sentencepiece mode gives sentencepiece's ids", arguments: cases)
    func modelFileMatchesSentencePiece(_ golden: TokenizerGolden.Case) throws {
        let tokenizer = try FixtureTokenizers.sentencePiece.get()
        #expect(tokenizer.encode(golden.text) == golden.spmIDs)
        #expect(tokenizer.encode(golden.text, addSpecialTokens: false) == Array(golden.spmIDs.dropLast()))
    }

    @Test("tokenizer.json gives HF tokenizers' ids", arguments: cases)
    func tokenizerJSONMatchesHuggingFace(_ golden: TokenizerGolden.Case) throws {
        let tokenizer = try FixtureTokenizers.json.get()
        #expect(tokenizer.encode(golden.text) == golden.hfIDs)
        #expect(tokenizer.encode(golden.text, addSpecialTokens: false) == Array(golden.hfIDs.dropLast()))
    }

    @Test("spiece.model in HF mode gives HF tokenizers' ids", arguments: cases)
    func modelFileInHuggingFaceModeMatchesHuggingFace(_ golden: TokenizerGolden.Case) throws {
        let tokenizer = try FixtureTokenizers.modelAsHuggingFace.get()
        #expect(tokenizer.encode(golden.text) == golden.hfIDs)
    }

    @Test("sentencepiece-mode decoding matches sentencepiece's decode", arguments: cases)
    func sentencePieceDecode(_ golden: TokenizerGolden.Case) throws {
        let tokenizer = try FixtureTokenizers.sentencePiece.get()
        #expect(tokenizer.decode(golden.spmIDs) == golden.spmDecoded)
    }

    @Test(
        "HF-mode decoding matches tokenizers' decode, with and without special tokens",
        arguments: cases)
    func huggingFaceDecode(_ golden: TokenizerGolden.Case) throws {
        for tokenizer in [
            try FixtureTokenizers.json.get(), try FixtureTokenizers.modelAsHuggingFace.get(),
        ] {
            #expect(tokenizer.decode(golden.hfIDs) == golden.hfDecoded)
            #expect(
                tokenizer.decode(golden.hfIDs, skipSpecialTokens: false)
                    == golden.hfDecodedWithSpecial)
        }
    }

    @Test("Hand-picked id sequences decode as both libraries decode them")
    func decodeCases() throws {
        let spm = try FixtureTokenizers.sentencePiece.get()
        let json = try FixtureTokenizers.json.get()
        for golden in TokenizerGolden.shared.decodeCases {
            if let expected = golden.spmDecoded {
                #expect(spm.decode(golden.ids) == expected, "ids \(golden.ids)")
            }
            #expect(json.decode(golden.ids) == golden.hfDecoded, "ids \(golden.ids)")
            #expect(
                json.decode(golden.ids, skipSpecialTokens: false) == golden.hfDecodedWithSpecial,
                "ids \(golden.ids)")
        }
    }

    @Test("300 random mixtures of tricky characters encode and decode as both references do")
    func randomMixtures() throws {
        let spm = try FixtureTokenizers.sentencePiece.get()
        let json = try FixtureTokenizers.json.get()
        let converted = try FixtureTokenizers.modelAsHuggingFace.get()
        let cases = TokenizerGolden.shared.randomCases
        #expect(cases.count == 300)
        #expect(
            cases.contains { $0.spmIDs != $0.hfIDs }, "the references should disagree somewhere")
        for golden in cases {
            let text = golden.text.debugDescription
            #expect(spm.encode(golden.text) == golden.spmIDs, "\(text)")
            #expect(json.encode(golden.text) == golden.hfIDs, "\(text)")
            #expect(converted.encode(golden.text) == golden.hfIDs, "\(text)")
            #expect(spm.decode(golden.spmIDs) == golden.spmDecoded, "\(text)")
            #expect(json.decode(golden.hfIDs) == golden.hfDecoded, "\(text)")
        }
    }

    @Test(
        "tokenizer.json variants (legacy Metaspace, normalizer sequences, prepend never, NFKC) match HF",
        arguments: TokenizerGolden.shared.jsonVariants)
    func jsonVariants(_ variant: TokenizerGolden.JSONVariant) throws {
        var root = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: TokenizerGolden.jsonFile))
                as? [String: Any])
        let normalizer = try #require(root["normalizer"] as? [String: Any])
        let charsmap = try #require(normalizer["precompiled_charsmap"] as? String)
        guard case .object(let patch) = variant.patch else {
            Issue.record("patch is not an object")
            return
        }
        for (key, value) in patch {
            root[key] = value.foundationObject(replacing: "@tokenizer.json", with: charsmap)
        }
        let folder = try TestPaths.temporaryDirectory("tokenizer-variant")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: root).write(to: url)
        let tokenizer = try SentencePieceTokenizer(tokenizerJSON: url)
        let cases = TokenizerGolden.shared.cases
        #expect(variant.ids.count == cases.count)
        for (index, golden) in cases.enumerated() where index < variant.ids.count {
            #expect(tokenizer.encode(golden.text) == variant.ids[index], "\(golden.name)")
            #expect(
                tokenizer.decode(variant.ids[index]) == variant.decoded[index], "\(golden.name)")
        }
    }

    @Test(
        "spiece.model variants (identity normaliser, no dummy prefix, extra whitespace kept) match sentencepiece",
        arguments: TokenizerGolden.shared.modelVariants)
    func modelVariants(_ variant: TokenizerGolden.ModelVariant) throws {
        let tokenizer = try SentencePieceTokenizer(
            modelFile: TokenizerGolden.directory.appendingPathComponent(variant.file))
        let cases = TokenizerGolden.shared.cases
        #expect(variant.ids.count == cases.count)
        for (index, golden) in cases.enumerated() where index < variant.ids.count {
            #expect(tokenizer.encode(golden.text) == variant.ids[index], "\(golden.name)")
            #expect(
                tokenizer.decode(variant.ids[index]) == variant.decoded[index], "\(golden.name)")
        }
    }

    @Test("load(directory:) prefers tokenizer.json and so follows HF")
    func loadDirectoryFollowsHuggingFace() throws {
        let tokenizer = try FixtureTokenizers.directory.get()
        #expect(tokenizer.compatibility == .huggingFace)
        let disagreeing = TokenizerGolden.shared.cases.filter { !$0.agree }
        #expect(
            !disagreeing.isEmpty,
            "the golden table should contain texts where the references differ")
        for golden in disagreeing {
            #expect(tokenizer.encode(golden.text) == golden.hfIDs, "\(golden.name)")
        }
    }

    @Test("A folder with only spiece.model loads in HF mode")
    func loadDirectoryWithOnlyModelFile() throws {
        let folder = try TestPaths.temporaryDirectory("tokenizer-spiece-only")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(
            at: TokenizerGolden.modelFile, to: folder.appendingPathComponent("spiece.model"))
        let tokenizer = try SentencePieceTokenizer.load(directory: folder)
        #expect(tokenizer.compatibility == .huggingFace)
        for golden in TokenizerGolden.shared.cases {
            #expect(tokenizer.encode(golden.text) == golden.hfIDs, "\(golden.name)")
        }
    }
}
