import Foundation

/// The encoding pipeline of an HF `tokenizers` Unigram tokenizer, as `tokenizer.json`
/// describes it (and as `transformers` builds it from a `spiece.model` for T5):
///
/// 1. added tokens (`<pad>`, `</s>`, `<unk>`, `<extra_id_N>`) are cut out of the raw text,
///    leftmost-longest, and map straight to their ids;
/// 2. every other segment is normalised by the ``Step``s (for T5: `Precompiled`, the
///    charsmap applied per grapheme cluster as `spm_precompiled` does);
/// 3. pre-tokenised: optionally split on Unicode whitespace (`WhitespaceSplit`), then
///    `Metaspace`: spaces become `▁`, `▁` is prepended to each word, and words are split before
///    every `▁`;
/// 4. each pre-token is segmented by the Unigram model on its own.
struct HuggingFacePipeline: Sendable {
    /// One normaliser of a `normalizers.Sequence`.
    enum Step: Sendable {
        /// SentencePiece charsmap, applied per extended grapheme cluster (see `applyPrecompiled`).
        case precompiled(PrecompiledCharsmap)
        /// Unicode compatibility composition (Foundation's NFKC).
        case nfkc
        /// Unicode canonical composition.
        case nfc
        /// Removes leading and/or trailing Unicode whitespace.
        case strip(left: Bool, right: Bool)
        /// Replaces every occurrence of a literal string.
        case replace(pattern: [UInt8], content: [UInt8])
        /// Replaces every run of two or more spaces (the regex `" {2,}"`).
        case replaceSpaceRuns(content: [UInt8])
    }

    /// HF `PrependScheme`.
    enum PrependScheme: String, Sendable {
        case always, first, never
    }

    struct Metaspace: Sendable {
        var replacement: [UInt8]
        var prependScheme: PrependScheme
        var split: Bool
    }

    struct AddedToken: Sendable {
        var content: [UInt8]
        var id: Int32
        var special: Bool
    }

    var steps: [Step] = []
    var whitespaceSplit = false
    var metaspace: Metaspace?
    /// The decoder's Metaspace settings; `nil` when tokenizer.json has no decoder.
    var decoder: Metaspace?
    /// Added tokens, longest first (set through ``setAddedTokens(_:)``).
    private(set) var addedTokens: [AddedToken] = []
    /// For each first byte, the indices in `addedTokens` of the tokens starting with it.
    private var addedTokensByFirstByte: [[Int]] = Array(repeating: [], count: 256)

    // MARK: Added tokens

    mutating func setAddedTokens(_ tokens: [AddedToken]) {
        addedTokens = tokens.filter { !$0.content.isEmpty }.sorted {
            $0.content.count > $1.content.count
        }
        addedTokensByFirstByte = Array(repeating: [], count: 256)
        for (index, token) in addedTokens.enumerated() {
            addedTokensByFirstByte[Int(token.content[0])].append(index)
        }
    }

    /// Splits `text` into plain segments and added tokens (leftmost, then longest, match).
    func splitAddedTokens(
        _ text: UnsafeBufferPointer<UInt8>, _ body: (_ plain: Range<Int>?, _ token: Int32?) -> Void
    ) {
        guard !addedTokens.isEmpty else {
            body(0..<text.count, nil)
            return
        }
        var start = 0
        var i = 0
        while i < text.count {
            var matched: AddedToken?
            for index in addedTokensByFirstByte[Int(text[i])] {
                // Longest first, so the first match is the longest.
                let token = addedTokens[index]
                let length = token.content.count
                if i + length <= text.count,
                    token.content.withUnsafeBufferPointer({
                        memcmp($0.baseAddress!, text.baseAddress! + i, length) == 0
                    })
                {
                    matched = token
                    break
                }
            }
            if let matched {
                if start < i { body(start..<i, nil) }
                body(nil, matched.id)
                i += matched.content.count
                start = i
            } else {
                i += 1
            }
        }
        if start < text.count { body(start..<text.count, nil) }
    }

    // MARK: Normalisation

    func normalize(_ input: [UInt8]) -> [UInt8] {
        var text = input
        for step in steps {
            switch step {
            case .precompiled(let charsmap): text = Self.applyPrecompiled(charsmap, to: text)
            case .nfkc:
                text = Array(
                    String(decoding: text, as: UTF8.self).precomposedStringWithCompatibilityMapping
                        .utf8)
            case .nfc:
                text = Array(
                    String(decoding: text, as: UTF8.self).precomposedStringWithCanonicalMapping.utf8
                )
            case .strip(let left, let right): text = Self.strip(text, left: left, right: right)
            case .replace(let pattern, let content):
                text = Self.replace(text, pattern: pattern, with: content)
            case .replaceSpaceRuns(let content): text = Self.replaceSpaceRuns(text, with: content)
            }
        }
        return text
    }

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

    static func replace(_ input: [UInt8], pattern: [UInt8], with content: [UInt8]) -> [UInt8] {
        guard !pattern.isEmpty, input.count >= pattern.count else { return input }
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            if i + pattern.count <= input.count,
                input[i..<(i + pattern.count)].elementsEqual(pattern)
            {
                output.append(contentsOf: content)
                i += pattern.count
            } else {
                output.append(input[i])
                i += 1
            }
        }
        return output
    }

    static func replaceSpaceRuns(_ input: [UInt8], with content: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            if input[i] == 0x20, i + 1 < input.count, input[i + 1] == 0x20 {
                while i < input.count, input[i] == 0x20 { i += 1 }
                output.append(contentsOf: content)
            } else {
                output.append(input[i])
                i += 1
            }
        }
        return output
    }

    // MARK: Pre-tokenisation

    /// Appends the pre-tokens of normalised `text` to `buffer`, their ranges to `ranges`.
    /// `isFirstSegment` is whether `text` starts the input (for `prepend_scheme: first`).
    func preTokenize(
        _ text: [UInt8], isFirstSegment: Bool, buffer: inout [UInt8], ranges: inout [Range<Int>]
    ) {
        guard !text.isEmpty else { return }
        text.withUnsafeBufferPointer { bytes in
            let n = bytes.count
            var wordIndex = 0
            var i = 0
            while i < n {
                var wordStart = i
                var wordEnd = n
                if whitespaceSplit {
                    while wordStart < n {
                        let length = UTF8Scanning.whitespaceLength(bytes, at: wordStart, end: n)
                        if length == 0 { break }
                        wordStart += length
                    }
                    if wordStart == n { break }
                    wordEnd = wordStart
                    while wordEnd < n,
                        UTF8Scanning.whitespaceLength(bytes, at: wordEnd, end: n) == 0
                    {
                        wordEnd += UTF8Scanning.sequenceLength(bytes[wordEnd])
                    }
                    wordEnd = min(wordEnd, n)
                }
                appendWord(
                    bytes, wordStart..<wordEnd,
                    isFirst: isFirstSegment && wordIndex == 0 && wordStart == 0,
                    buffer: &buffer, ranges: &ranges)
                wordIndex += 1
                i = wordEnd
            }
        }
    }

    private func appendWord(
        _ bytes: UnsafeBufferPointer<UInt8>, _ word: Range<Int>, isFirst: Bool,
        buffer: inout [UInt8], ranges: inout [Range<Int>]
    ) {
        guard let metaspace else {
            let start = buffer.count
            buffer.append(contentsOf: bytes[word])
            ranges.append(start..<buffer.count)
            return
        }
        let replacement = metaspace.replacement
        let start = buffer.count
        // HF replaces spaces first, then checks for a leading replacement character.
        let startsWithReplacement =
            (!word.isEmpty && bytes[word.lowerBound] == 0x20)
            || (word.count >= replacement.count
                && bytes[word.lowerBound..<(word.lowerBound + replacement.count)].elementsEqual(
                    replacement))
        let prepend =
            switch metaspace.prependScheme {
            case .always: !startsWithReplacement
            case .first: isFirst && !startsWithReplacement
            case .never: false
            }
        if prepend { buffer.append(contentsOf: replacement) }
        for i in word {
            if bytes[i] == 0x20 {
                buffer.append(contentsOf: replacement)
            } else {
                buffer.append(bytes[i])
            }
        }
        let end = buffer.count
        guard metaspace.split, !replacement.isEmpty else {
            if start < end { ranges.append(start..<end) }
            return
        }
        // Split before every replacement character (HF `MergedWithNext`).
        var pieceStart = start
        var i = start
        while i < end {
            if i > pieceStart, i + replacement.count <= end,
                buffer[i..<(i + replacement.count)].elementsEqual(replacement)
            {
                ranges.append(pieceStart..<i)
                pieceStart = i
            }
            i += 1
        }
        if pieceStart < end { ranges.append(pieceStart..<end) }
    }
}
