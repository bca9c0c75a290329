import Foundation
import InparsTestSupport
import Testing

@testable import InparsTokenizers

/// The regex matcher against Oniguruma (through HF `tokenizers`' `Split`), and the
/// constructs it refuses.
@Suite struct TokenizerRegexTests {
    struct Golden: Decodable {
        struct Pattern: Decodable {
            var name: String
            var pattern: String
            var pieces: [[String]]
        }

        var texts: [String]
        var patterns: [Pattern]
    }

    /// The text cut at the matches, the gaps kept (HF's `Isolated` split).
    func pieces(_ regex: TokenizerRegex, _ text: String) -> [String] {
        var pieces: [String] = []
        Array(text.utf8).withUnsafeBufferPointer { bytes in
            var previous = 0
            regex.forEachMatch(in: bytes, 0..<bytes.count) { match in
                if match.lowerBound > previous {
                    pieces.append(String(decoding: bytes[previous..<match.lowerBound], as: UTF8.self))
                }
                pieces.append(String(decoding: bytes[match], as: UTF8.self))
                previous = match.upperBound
            }
            if previous < bytes.count { pieces.append(String(decoding: bytes[previous...], as: UTF8.self)) }
        }
        return pieces
    }

    @Test("Every pattern splits every text exactly as Oniguruma does")
    func matchesOniguruma() throws {
        let url = TestPaths.fixtures.appendingPathComponent("tokenizers/regex.json")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
        #expect(golden.patterns.count == 9 && golden.texts.count > 400)
        for pattern in golden.patterns {
            let regex = try TokenizerRegex(pattern.pattern)
            var log = MismatchLog("regex \(pattern.name)")
            for (text, expected) in zip(golden.texts, pattern.pieces) {
                log.check(pieces(regex, text), expected, text.debugDescription)
            }
            log.finish()
        }
    }

    @Test(
        "Constructs outside the subset are refused with a reason",
        arguments: [
            ("^a", "anchor"), ("a$", "anchor"), ("(?<=a)b", "group"), ("(?<!a)b", "group"),
            ("(a)\\1", "escape"), ("a++", "possessive"), ("\\p{Han}", "property"),
            ("[[a]]", "nested"), ("[a&&b]", "intersection"), ("(?i:ss)", "fold"),
            ("(?i:ß)", "fold"), ("(a*)*", "empty"), ("*a", "nothing to repeat"),
            ("{2}", "nothing to repeat"), ("(a", "')'"), ("a)", "')'"), ("[a", "']'"),
            ("\\b", "escape"), ("(?i:[a-z])", "class"), ("a{3,2}", "quantifier"),
            (String(repeating: "(", count: 70) + "a" + String(repeating: ")", count: 70), "nested"),
        ])
    func refused(_ pattern: String, _ reason: String) {
        do {
            _ = try TokenizerRegex(pattern)
            Issue.record("\(pattern) compiled")
        } catch {
            #expect(error.message.contains(reason), "\(pattern): \(error.message)")
        }
    }

    @Test("A literal pattern matches its text, metacharacters included")
    func literal() {
        let regex = TokenizerRegex(literal: "a.*b")
        #expect(pieces(regex, "xa.*by a.*b") == ["x", "a.*b", "y ", "a.*b"])
        #expect(pieces(regex, "aXXb") == ["aXXb"])
    }
}

/// HF's Unicode classes (unicode-classes.json, dumped from tokenizers for every code point)
/// against ``UnicodeClasses`` and the normalisers built on it.
@Suite struct UnicodeClassesTests {
    struct Golden: Decodable {
        var regexL: [[UInt32]]
        var regexN: [[UInt32]]
        var regexS: [[UInt32]]
        var bertRemoved: [[UInt32]]
        var bertSpace: [[UInt32]]
        var bertPunctuation: [[UInt32]]
        var whitespace: [[UInt32]]
        var numeric: [[UInt32]]
        var bertAccentRemoved: [[UInt32]]
        var lowercase: [String: String]

        enum CodingKeys: String, CodingKey {
            case regexL = "regex_L", regexN = "regex_N", regexS = "regex_s"
            case bertRemoved = "bert_removed", bertSpace = "bert_space"
            case bertPunctuation = "bert_punctuation", whitespace, numeric
            case bertAccentRemoved = "bert_accent_removed", lowercase
        }
    }

    static let golden = Result {
        try JSONDecoder().decode(
            Golden.self,
            from: Data(contentsOf: TestPaths.fixtures.appendingPathComponent("tokenizers/unicode-classes.json")))
    }

    /// Every scalar assigned in the Swift runtime's Unicode version outside the private-use
    /// planes, and every 61st of the others (unassigned and private-use scalars are where the
    /// version cut-offs only have to say "no"), to keep the debug-build test short.
    static let checkedScalars: [Unicode.Scalar] = (0..<0x110000).compactMap { value in
        guard let scalar = Unicode.Scalar(UInt32(value)) else { return nil }
        let sampled = value % 61 == 0
        if value >= 0xF0000 { return sampled ? scalar : nil }
        return scalar.properties.age != nil || sampled ? scalar : nil
    }

    func check(_ name: String, _ ranges: [[UInt32]], _ predicate: (Unicode.Scalar) -> Bool) {
        var members = [Bool](repeating: false, count: 0x110000)
        for range in ranges { for value in range[0]...range[1] { members[Int(value)] = true } }
        var log = MismatchLog(name)
        for scalar in Self.checkedScalars {
            log.check(predicate(scalar), members[Int(scalar.value)], "U+\(String(scalar.value, radix: 16, uppercase: true))")
        }
        log.finish()
    }

    @Test("Regex \\p{L}, \\p{N} and \\s are Oniguruma's (Unicode 16.0)")
    func regexClasses() throws {
        let golden = try Self.golden.get()
        let letters: Set<Unicode.GeneralCategory> = [
            .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
        ]
        let numbers: Set<Unicode.GeneralCategory> = [.decimalNumber, .letterNumber, .otherNumber]
        check("\\p{L}", golden.regexL) { letters.contains(UnicodeClasses.regexCategory($0)) }
        check("\\p{N}", golden.regexN) { numbers.contains(UnicodeClasses.regexCategory($0)) }
        check("\\s", golden.regexS, UnicodeClasses.isWhitespace)
    }

    @Test("BERT's control, whitespace and punctuation classes are unicode_categories' (Unicode 8.0)")
    func bertClasses() throws {
        let golden = try Self.golden.get()
        check("BertNormalizer removed", golden.bertRemoved, UnicodeClasses.isBertRemoved)
        check("BertNormalizer space", golden.bertSpace) {
            !UnicodeClasses.isBertRemoved($0) && UnicodeClasses.isWhitespace($0) && $0 != " "
        }
        check("BertPreTokenizer punctuation", golden.bertPunctuation, UnicodeClasses.isBertPunctuation)
        check("whitespace", golden.whitespace, UnicodeClasses.isWhitespace)
        check("Digits", golden.numeric, UnicodeClasses.isNumeric)
    }

    @Test("Accent stripping removes the scalars HF removes, and lowercasing maps as Rust does")
    func strippingAndLowercase() throws {
        let golden = try Self.golden.get()
        let options = Normalizer.BertOptions(
            cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false)
        check("accent stripped to nothing", golden.bertAccentRemoved) {
            Normalizer.bert(Array(String($0).utf8), options).isEmpty
        }
        var log = MismatchLog("lowercase")
        for scalar in Self.checkedScalars {
            let ours = String(decoding: Normalizer.lowercase(Array(String(scalar).utf8)), as: UTF8.self)
            log.check(ours, golden.lowercase[String(scalar.value)] ?? String(scalar), "U+\(String(scalar.value, radix: 16))")
        }
        log.finish()
    }
}
