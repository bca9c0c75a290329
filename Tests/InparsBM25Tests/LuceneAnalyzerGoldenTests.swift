import Foundation
import InparsTestSupport
import Testing

@testable import InparsBM25

/// Lucene's own analyzer output (Anserini DefaultEnglishAnalyzer through Pyserini), recorded by
/// Scripts/fixtures/make_analyzer_fixtures.py.
@Suite struct LuceneAnalyzerGoldenTests {
    static func load() throws -> [String: Any] {
        let url = TestPaths.fixtures.appendingPathComponent("bm25/analyzer_cases.json")
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    @Test func tokensEqualLucenesOnTrickyAndRandomText() throws {
        let texts = try Self.load()["texts"] as! [[String: Any]]
        #expect(texts.count > 400)
        var full = EnglishAnalyzer()
        var plain = EnglishAnalyzer(fullChain: false)
        var mismatches = 0
        for case_ in texts {
            let text = case_["text"] as! String
            let expectedFull = case_["full"] as! [String]
            let expectedPlain = case_["noStemNoStop"] as! [String]
            let gotFull = full.analyze(text)
            let gotPlain = plain.analyze(text)
            if gotFull != expectedFull || gotPlain != expectedPlain { mismatches += 1 }
            #expect(gotPlain == expectedPlain, "\(text.debugDescription)")
            #expect(gotFull == expectedFull, "\(text.debugDescription)")
        }
        #expect(mismatches == 0)
    }

    @Test func porterStemsEqualLucenesOnEverySuffixRule() throws {
        let words = try Self.load()["words"] as! [String: [String]]
        #expect(words.count > 4000)
        var analyzer = EnglishAnalyzer()
        for (word, expected) in words {
            #expect(analyzer.analyze(word) == expected, "\(word)")
        }
    }
}
