import Foundation

/// The added tokens of a `tokenizer.json` (`"added_tokens"`: `<|begin_of_text|>`, `[CLS]`,
/// `</s>`, `<extra_id_0>`, ...), matched in the text before the model sees it, as HF
/// `AddedVocabulary::extract_and_normalize` does:
///
/// 1. tokens with `normalized: false` are cut out of the raw text;
/// 2. each remaining piece is normalised, and tokens with `normalized: true` are cut out of it
///    (matched by their own normalised content).
///
/// Matching is leftmost-longest and non-overlapping. A match of a `single_word` token that
/// touches a word character on either side is skipped (and its span is not searched again);
/// `lstrip` / `rstrip` tokens also take the whitespace before / after them.
struct AddedTokens: Sendable {
    struct Token: Sendable {
        var content: [UInt8]
        var id: Int32
        var special = false
        var singleWord = false
        var lstrip = false
        var rstrip = false
        var normalized = false
    }

    /// Tokens matched in one of the two passes, longest first within each first byte.
    struct Matcher: Sendable {
        private(set) var tokens: [Token] = []
        private var byFirstByte: [[Int]] = Array(repeating: [], count: 256)

        init(_ tokens: [Token]) {
            self.tokens = tokens.filter { !$0.content.isEmpty }.sorted {
                $0.content.count > $1.content.count
            }
            for (index, token) in self.tokens.enumerated() {
                byFirstByte[Int(token.content[0])].append(index)
            }
        }

        var isEmpty: Bool { tokens.isEmpty }

        /// The longest token whose content starts at `text[i]`.
        @inline(__always)
        private func longest(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> Token? {
            for index in byFirstByte[Int(text[i])] {
                let token = tokens[index]
                let length = token.content.count
                if i + length <= text.count,
                    token.content.withUnsafeBufferPointer({
                        memcmp($0.baseAddress!, text.baseAddress! + i, length) == 0
                    })
                {
                    return token
                }
            }
            return nil
        }

        /// Splits `text` into plain pieces (`token` nil) and added tokens (`plain` is the
        /// token's span, whitespace taken by `lstrip`/`rstrip` included).
        func split(
            _ text: UnsafeBufferPointer<UInt8>, _ body: (_ range: Range<Int>, _ token: Int32?) -> Void
        ) {
            guard !tokens.isEmpty else {
                if !text.isEmpty { body(0..<text.count, nil) }
                return
            }
            var startOffset = 0
            var i = 0
            while i < text.count {
                guard let token = longest(text, at: i) else {
                    i += 1
                    continue
                }
                var start = i
                var stop = i + token.content.count
                i = stop  // the next search starts after this match, kept or not
                if token.singleWord,
                    (start > 0 && Self.endsWithWord(text, start))
                        || (stop < text.count && Self.startsWithWord(text, stop))
                {
                    continue
                }
                if token.lstrip {
                    var s = start
                    while s > 0 {
                        var c = s - 1
                        while c > 0, text[c] & 0xC0 == 0x80 { c -= 1 }
                        if UTF8Scanning.whitespaceLength(text, at: c, end: s) != s - c { break }
                        s = c
                    }
                    start = max(s, startOffset)
                }
                if token.rstrip {
                    while stop < text.count {
                        let length = UTF8Scanning.whitespaceLength(text, at: stop, end: text.count)
                        if length == 0 { break }
                        stop += length
                    }
                }
                if startOffset < start { body(startOffset..<start, nil) }
                body(start..<stop, token.id)
                startOffset = stop
            }
            if startOffset < text.count { body(startOffset..<text.count, nil) }
        }

        private static func endsWithWord(_ text: UnsafeBufferPointer<UInt8>, _ end: Int) -> Bool {
            var c = end - 1
            while c > 0, text[c] & 0xC0 == 0x80 { c -= 1 }
            let (value, _) = UTF8Scanning.decode(text, at: c, end: end)
            return UnicodeClasses.isWordCharacter(Unicode.Scalar(value) ?? "\u{FFFD}")
        }

        private static func startsWithWord(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> Bool {
            let (value, _) = UTF8Scanning.decode(text, at: start, end: text.count)
            return UnicodeClasses.isWordCharacter(Unicode.Scalar(value) ?? "\u{FFFD}")
        }
    }

    /// Tokens matched in the raw text (`normalized: false`).
    let raw: Matcher
    /// Tokens matched in normalised text, by their normalised content (`normalized: true`).
    let normalized: Matcher
    /// Every added token, by id order of the file.
    let all: [Token]

    /// - Parameter normalize: the tokenizer's normaliser, applied to the content of
    ///   `normalized: true` tokens (HF matches those by their normalised form).
    init(_ tokens: [Token], normalize: ([UInt8]) -> [UInt8]) {
        all = tokens
        raw = Matcher(tokens.filter { !$0.normalized })
        normalized = Matcher(
            tokens.filter(\.normalized).map {
                var token = $0
                token.content = normalize(token.content)
                return token
            })
    }

    var isEmpty: Bool { all.isEmpty }
}
