import Foundation
import InparsTestSupport
import InparsTokenizers
import Testing

/// Vocabulary layout, special ids and round trips.
@Suite struct SentencePieceTokenizerVocabularyTests {
    @Test("Both loaders agree with the references on special ids and vocabulary size")
    func specialIDs() throws {
        let golden = TokenizerGolden.shared
        for tokenizer in [
            try FixtureTokenizers.sentencePiece.get(), try FixtureTokenizers.json.get(),
            try FixtureTokenizers.modelAsHuggingFace.get(),
        ] {
            #expect(tokenizer.eosID == golden.eosID)
            #expect(tokenizer.padID == golden.padID)
            #expect(tokenizer.unkID == golden.unkID)
            #expect(tokenizer.vocabularySize == golden.hfVocabSize)
            #expect(tokenizer.token(forID: tokenizer.eosID) == "</s>")
            #expect(tokenizer.token(forID: Int32(golden.hfVocabSize)) == nil)
            #expect(tokenizer.token(forID: -1) == nil)
        }
    }

    @Test("Sentinels follow the pieces in reverse: <extra_id_0> is the last id")
    func sentinelOrder() throws {
        let golden = TokenizerGolden.shared
        let json = try FixtureTokenizers.json.get()
        let spm = try FixtureTokenizers.sentencePiece.get()
        // tokenizer.json was written by transformers; the spiece.model loader adds the sentinels itself.
        #expect(json.id(forToken: "<extra_id_0>") == Int32(golden.hfVocabSize - 1))
        #expect(json.id(forToken: "<extra_id_99>") == Int32(golden.spmVocabSize))
        for n in [0, 1, 42, 99] {
            let piece = "<extra_id_\(n)>"
            #expect(spm.id(forToken: piece) != nil)
            #expect(spm.id(forToken: piece) == json.id(forToken: piece), "\(piece)")
        }
        #expect(json.id(forToken: "<extra_id_100>") == nil)
    }

    @Test("Every piece of spiece.model has the same id in tokenizer.json")
    func piecesAgreeAcrossLoaders() throws {
        let json = try FixtureTokenizers.json.get()
        let spm = try FixtureTokenizers.sentencePiece.get()
        for id in 0..<Int32(json.vocabularySize) {
            let piece = try #require(json.token(forID: id))
            #expect(spm.token(forID: id) == piece)
            #expect(spm.id(forToken: piece) == id)
        }
    }

    @Test("The monoT5 answer words are single pieces", arguments: ["true", "false", "yes", "no"])
    func answerWordsAreSinglePieces(_ word: String) throws {
        let golden = try #require(TokenizerGolden.shared.cases.first { $0.name == "answers" })
        // The golden pieces of "true false yes no ..." come from sentencepiece itself.
        let index = try #require(["true", "false", "yes", "no"].firstIndex(of: word))
        #expect(golden.spmPieces[index] == "▁\(word)")
        for tokenizer in [
            try FixtureTokenizers.sentencePiece.get(), try FixtureTokenizers.json.get(),
        ] {
            let id = try #require(tokenizer.id(forToken: "▁\(word)"))
            #expect(tokenizer.encode(word, addSpecialTokens: false) == [id])
            #expect(golden.spmIDs[index] == id)
        }
    }

    @Test("Texts of known characters decode back to their whitespace-normalised form")
    func roundTrip() throws {
        let unk = TokenizerGolden.shared.unkID
        let spm = try FixtureTokenizers.sentencePiece.get()
        let json = try FixtureTokenizers.json.get()
        var checked = 0
        for golden in TokenizerGolden.shared.cases where !golden.spmIDs.contains(unk) {
            // sentencepiece's own normal form with ▁ read as a space is what a decode must give.
            let expected = golden.spmNormalized.replacingOccurrences(of: "▁", with: " ")
                .drop { $0 == " " }
            #expect(spm.decode(spm.encode(golden.text)) == String(expected), "\(golden.name)")
            if golden.agree {
                #expect(json.decode(json.encode(golden.text)) == String(expected), "\(golden.name)")
            }
            checked += 1
        }
        #expect(checked >= 20)
    }

    @Test("Encoding the monoT5 template in parts and concatenating gives the reference ids")
    func templateInParts() throws {
        // monoT5 scoring encodes "Query: q Document:", the document and "Relevant:" separately so it
        // can truncate the document; whitespace-separated parts must concatenate to the whole.
        let golden = try #require(TokenizerGolden.shared.cases.first { $0.name == "monot5_true" })
        let text = golden.text
        let documentRange = try #require(text.range(of: " Document: "))
        let relevantRange = try #require(text.range(of: " Relevant:"))
        let prefix = String(text[..<documentRange.upperBound].dropLast())  // "Query: ... Document:"
        let document = String(text[documentRange.upperBound..<relevantRange.lowerBound])
        let suffix = String(text[relevantRange.lowerBound...].dropFirst())  // "Relevant: true"
        for (tokenizer, expected) in [
            (try FixtureTokenizers.json.get(), golden.hfIDs),
            (try FixtureTokenizers.sentencePiece.get(), golden.spmIDs),
        ] {
            let parts =
                tokenizer.encode(prefix, addSpecialTokens: false) + tokenizer.encode(document, addSpecialTokens: false)
                + tokenizer.encode(suffix, addSpecialTokens: false) + [tokenizer.eosID]
            #expect(parts == expected)
        }
    }

    @Test("Out-of-range ids are ignored by decode")
    func decodeIgnoresOutOfRangeIDs() throws {
        let json = try FixtureTokenizers.json.get()
        let trueID = try #require(json.id(forToken: "▁true"))
        #expect(json.decode([-5, trueID, 1_000_000]) == json.decode([trueID]))
        #expect(json.decode([trueID]) == "true")
    }
}
