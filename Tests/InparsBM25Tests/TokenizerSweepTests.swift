import Foundation
import InparsTestSupport
import Testing

@testable import InparsBM25

/// Every code point through Lucene's StandardTokenizer (Scripts/fixtures/make_tokenizer_sweep.py)
/// against ours: alone, between letters and between digits.
@Suite struct TokenizerSweepTests {
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            let v = scalar.value
            switch v {
            case 0x5C: out += "\\\\"
            case 0x09: out += "\\t"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x20..<0x7F: out.unicodeScalars.append(scalar)
            case 0..<0x100: out += "\\x" + hex(v, 2)
            case 0..<0x10000: out += "\\u" + hex(v, 4)
            default: out += "\\U" + hex(v, 8)
            }
        }
        return out
    }

    static func hex(_ v: UInt32, _ width: Int) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    static func replaceScalars(_ text: String, _ target: String, _ replacement: String) -> String {
        let source = Array(text.unicodeScalars)
        let pattern = Array(target.unicodeScalars)
        guard !pattern.isEmpty else { return text }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < source.count {
            if i + pattern.count <= source.count && Array(source[i..<i + pattern.count]) == pattern {
                out.append(contentsOf: replacement.unicodeScalars)
                i += pattern.count
            } else {
                out.append(source[i])
                i += 1
            }
        }
        return String(out)
    }

    static func signature(_ analyzer: inout EnglishAnalyzer, _ scalar: Unicode.Scalar) -> String {
        let x = String(scalar)
        let lower = x.lowercased()
        return [x, "a" + x + "b", "1" + x + "2"].map { probe in
            analyzer.analyze(probe).map { token in
                // Replace at the scalar level (String replacement works on grapheme clusters).
                var t = replaceScalars(token, x, "X")
                if lower != x { t = replaceScalars(t, lower, "X") }
                return escape(t)
            }.joined(separator: "|")
        }.joined(separator: "/")
    }

    /// Code points where we differ from Lucene, grouped into ranges.
    static func mismatches() throws -> (checked: Int, wrong: [(UInt32, String, String)]) {
        let url = TestPaths.fixtures.appendingPathComponent("bm25/tokenizer_sweep.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let ranges = root["ranges"] as! [[Any]]
        var analyzer = EnglishAnalyzer(fullChain: false)
        var wrong: [(UInt32, String, String)] = []
        var checked = 0
        for range in ranges {
            let from = (range[0] as! NSNumber).uint32Value
            let to = (range[1] as! NSNumber).uint32Value
            let expected = range[2] as! String
            for value in from...to {
                guard let scalar = Unicode.Scalar(value) else { continue }
                checked += 1
                let got = signature(&analyzer, scalar)
                if got != expected { wrong.append((value, expected, got)) }
            }
        }
        return (checked, wrong)
    }

    @Test func everyCodePointTokenizesLikeLucene() throws {
        let (checked, wrong) = try Self.mismatches()
        #expect(checked > 190_000)
        var summary: [String] = []
        var i = 0
        while i < wrong.count && summary.count < 40 {
            var j = i
            while j + 1 < wrong.count && wrong[j + 1].0 == wrong[j].0 + 1 && wrong[j + 1].1 == wrong[i].1
                && wrong[j + 1].2 == wrong[i].2
            {
                j += 1
            }
            summary.append(
                "U+\(Self.hex(wrong[i].0, 4))-U+\(Self.hex(wrong[j].0, 4)): lucene \(wrong[i].1) ours \(wrong[i].2)")
            i = j + 1
        }
        print("tokenizer sweep: \(wrong.count) of \(checked) code points differ\n" + summary.joined(separator: "\n"))
        #expect(wrong.isEmpty, "\(wrong.count) code points differ")
    }
}
