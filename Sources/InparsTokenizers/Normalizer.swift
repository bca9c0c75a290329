import Foundation

/// An HF `tokenizers` normaliser (`tokenizer.json` `"normalizer"`): a list of steps applied in
/// order to each piece of text between added tokens (UTF-8 in, UTF-8 out).
///
/// | step | `tokenizer.json` type | used by |
/// | --- | --- | --- |
/// | ``Step/precompiled(_:)`` | `Precompiled` | T5, XLM-R (SentencePiece charsmap) |
/// | ``Step/bert(_:)`` | `BertNormalizer` | BERT, MiniLM, ELECTRA |
/// | ``Step/prepend(_:)``, ``Step/replace(_:content:)`` | `Prepend`, `Replace` | Llama 2, Mistral (`▁`) |
/// | ``Step/nfc`` ... | `NFC`, `NFD`, `NFKC`, `NFKD` | Qwen2 (NFC) |
/// | ``Step/lowercase``, ``Step/stripAccents``, ``Step/strip(left:right:)`` | `Lowercase`, `StripAccents`, `Strip` | |
struct Normalizer: Sendable {
    /// `BertNormalizer`'s options.
    struct BertOptions: Sendable, Equatable {
        /// Drop control characters and map every whitespace character to a space.
        var cleanText = true
        /// Put spaces around CJK ideographs (so the pre-tokenizer splits them).
        var handleChineseChars = true
        /// NFD, then drop non-spacing marks. HF's default (`null`) follows `lowercase`.
        var stripAccents = true
        var lowercase = true
    }

    enum Step: Sendable {
        /// SentencePiece charsmap, applied per extended grapheme cluster (see `applyPrecompiled`).
        case precompiled(PrecompiledCharsmap)
        case nfc, nfd, nfkc, nfkd
        /// Removes leading and/or trailing Unicode whitespace.
        case strip(left: Bool, right: Bool)
        /// Replaces every match of a pattern (a literal `"String"` or a `"Regex"`).
        case replace(TokenizerRegex, content: [UInt8])
        /// Puts a string in front of non-empty text.
        case prepend([UInt8])
        /// Rust's `char::to_lowercase`, scalar by scalar.
        case lowercase
        /// Drops combining marks (`M*`).
        case stripAccents
        case bert(BertOptions)
    }

    var steps: [Step]

    /// The normalised text, and whether a leading part of `input` was removed (then the
    /// result no longer starts at the input's first byte, which `Metaspace`'s
    /// `prepend_scheme: first` checks).
    func normalize(_ input: [UInt8]) -> (text: [UInt8], droppedLeading: Bool) {
        var text = input
        var droppedLeading = false
        for step in steps {
            switch step {
            case .precompiled(let charsmap): text = Self.applyPrecompiled(charsmap, to: text)
            case .nfc:
                text = Array(
                    String(decoding: text, as: UTF8.self).precomposedStringWithCanonicalMapping.utf8)
            case .nfd:
                text = Array(
                    String(decoding: text, as: UTF8.self).decomposedStringWithCanonicalMapping.utf8)
            case .nfkc:
                text = Array(
                    String(decoding: text, as: UTF8.self).precomposedStringWithCompatibilityMapping
                        .utf8)
            case .nfkd:
                text = Array(
                    String(decoding: text, as: UTF8.self).decomposedStringWithCompatibilityMapping
                        .utf8)
            case .strip(let left, let right):
                if left, !text.isEmpty,
                    text.withUnsafeBufferPointer({
                        UTF8Scanning.whitespaceLength($0, at: 0, end: $0.count) > 0
                    })
                {
                    droppedLeading = true
                }
                text = Self.strip(text, left: left, right: right)
            case .replace(let pattern, let content):
                text = Self.replace(text, pattern: pattern, with: content)
            case .prepend(let prefix):
                if !text.isEmpty { text = prefix + text }
            case .lowercase: text = Self.lowercase(text)
            case .stripAccents:
                text = Self.mapScalars(text) { scalar, output in
                    switch scalar.properties.generalCategory {
                    case .nonspacingMark, .spacingMark, .enclosingMark: break
                    default: output.unicodeScalars.append(scalar)
                    }
                }
            case .bert(let options): text = Self.bert(text, options)
            }
        }
        return (text, droppedLeading)
    }

    // MARK: Steps

    /// HF's `Precompiled` normaliser (`spm_precompiled::normalize_string`): for each extended
    /// grapheme cluster shorter than 6 bytes, the *shortest* charsmap rule prefixing it
    /// replaces the *whole* cluster (so "e\u{301}\u{301}" becomes "é"); otherwise each
    /// character is looked up on its own and copied when no rule matches.
    static func applyPrecompiled(_ charsmap: PrecompiledCharsmap, to input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(input.count + input.count / 8 + 4)
        var string: String?  // made only when a cluster boundary needs Unicode rules
        input.withUnsafeBufferPointer { bytes in
            let n = bytes.count
            var i = 0
            while i < n {
                let b = bytes[i]
                var clusterEnd: Int
                if b < 0x80,
                    i + 1 == n || (bytes[i + 1] < 0x80 && !(b == 0x0D && bytes[i + 1] == 0x0A))
                {
                    clusterEnd = i + 1  // ASCII followed by ASCII: always a cluster boundary
                } else if (b >= 0xC2 && b <= 0xD7 && i + 2 <= n
                    && (i + 2 == n || bytes[i + 2] < 0x80))
                    || (b == 0xE2 && i + 3 <= n && (i + 3 == n || bytes[i + 3] < 0x80))
                {
                    // U+0080–U+05FF or U+2000–U+2FFF followed by ASCII: a cluster of one scalar
                    // (only Prepend characters join a following ASCII character, and none lie
                    // in these ranges).
                    clusterEnd = i + (b == 0xE2 ? 3 : 2)
                } else {
                    if string == nil { string = String(decoding: input, as: UTF8.self) }
                    let s = string!
                    let index = s.utf8.index(s.utf8.startIndex, offsetBy: i)
                    clusterEnd = s.utf8.distance(from: s.utf8.startIndex, to: s.index(after: index))
                    if clusterEnd <= i { clusterEnd = i + UTF8Scanning.sequenceLength(b) }
                    clusterEnd = min(clusterEnd, n)
                }
                if clusterEnd - i < 6,
                    let match = charsmap.firstPrefix(bytes, from: i, to: clusterEnd)
                {
                    charsmap.appendReplacement(match.value, to: &output)
                } else {
                    var c = i
                    while c < clusterEnd {
                        let length = min(UTF8Scanning.sequenceLength(bytes[c]), clusterEnd - c)
                        if let match = charsmap.firstPrefix(bytes, from: c, to: c + length) {
                            charsmap.appendReplacement(match.value, to: &output)
                        } else {
                            output.append(contentsOf: bytes[c..<(c + length)])
                        }
                        c += length
                    }
                }
                i = clusterEnd
            }
        }
        return output
    }

    static func strip(_ input: [UInt8], left: Bool, right: Bool) -> [UInt8] {
        var start = 0
        var end = input.count
        input.withUnsafeBufferPointer { bytes in
            if left {
                while start < end {
                    let length = UTF8Scanning.whitespaceLength(bytes, at: start, end: end)
                    if length == 0 { break }
                    start += length
                }
            }
            if right {
                while end > start {
                    var c = end - 1
                    while c > start, bytes[c] & 0xC0 == 0x80 { c -= 1 }
                    if UTF8Scanning.whitespaceLength(bytes, at: c, end: end) != end - c { break }
                    end = c
                }
            }
        }
        return Array(input[start..<end])
    }

    /// Every match of `pattern` replaced by `content` (Oniguruma's leftmost-first matches).
    static func replace(_ input: [UInt8], pattern: TokenizerRegex, with content: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        input.withUnsafeBufferPointer { bytes in
            var previous = 0
            pattern.forEachMatch(in: bytes, 0..<bytes.count) { match in
                output.append(contentsOf: bytes[previous..<match.lowerBound])
                output.append(contentsOf: content)
                previous = match.upperBound
            }
            output.append(contentsOf: bytes[previous..<bytes.count])
        }
        return output
    }

    /// Rust's `char::to_lowercase` per scalar (no context: a final Σ becomes σ).
    static func lowercase(_ input: [UInt8]) -> [UInt8] {
        if input.allSatisfy({ $0 < 0x80 }) {
            return input.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        }
        return mapScalars(input) { scalar, output in
            if scalar.isASCII {
                output.unicodeScalars.append(
                    scalar.value >= 0x41 && scalar.value <= 0x5A
                        ? Unicode.Scalar(scalar.value | 0x20)! : scalar)
            } else {
                output += scalar.properties.lowercaseMapping
            }
        }
    }

    /// `input` with each scalar replaced by what `transform` appends.
    static func mapScalars(
        _ input: [UInt8], _ transform: (Unicode.Scalar, inout String) -> Void
    ) -> [UInt8] {
        var output = ""
        output.reserveCapacity(input.count)
        for scalar in String(decoding: input, as: UTF8.self).unicodeScalars {
            transform(scalar, &output)
        }
        return Array(output.utf8)
    }

    /// `BertNormalizer`: clean text, space out CJK ideographs, strip accents (NFD, then drop
    /// Unicode 8.0 non-spacing marks), lowercase, in that order. ASCII text takes a byte path.
    static func bert(_ input: [UInt8], _ options: BertOptions) -> [UInt8] {
        if input.allSatisfy({ $0 < 0x80 }) {
            var output: [UInt8] = []
            output.reserveCapacity(input.count)
            for b in input {
                if options.cleanText {
                    if b == 0x09 || b == 0x0A || b == 0x0D || b == 0x20 {
                        output.append(0x20)
                        continue
                    }
                    if b < 0x20 || b == 0x7F { continue }
                }
                output.append(options.lowercase && b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
            }
            return output
        }
        var text = input
        if options.cleanText || options.handleChineseChars {
            text = mapScalars(text) { scalar, output in
                if options.cleanText {
                    if UnicodeClasses.isBertRemoved(scalar) { return }
                    if UnicodeClasses.isWhitespace(scalar) {
                        output.unicodeScalars.append(" ")
                        return
                    }
                }
                if options.handleChineseChars, UnicodeClasses.isCJKIdeograph(scalar) {
                    output.unicodeScalars.append(" ")
                    output.unicodeScalars.append(scalar)
                    output.unicodeScalars.append(" ")
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        if options.stripAccents {
            let decomposed = String(decoding: text, as: UTF8.self).decomposedStringWithCanonicalMapping
            var output = String.UnicodeScalarView()
            for scalar in decomposed.unicodeScalars where !UnicodeClasses.isBertNonspacingMark(scalar) {
                output.append(scalar)
            }
            text = Array(String(output).utf8)
        }
        if options.lowercase { text = lowercase(text) }
        return text
    }
}
