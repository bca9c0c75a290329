/// An HF `tokenizers` pre-tokenizer (`tokenizer.json` `"pre_tokenizer"`): it cuts normalised
/// text into pieces that the model encodes one by one, and may rewrite them (`Metaspace`
/// turns spaces into `▁`, `ByteLevel` maps every byte to a printable character). A
/// `Sequence` is its steps in order; each step works on every piece of the previous one.
///
/// | step | used by |
/// | --- | --- |
/// | `Split` (regex, `Isolated`) + `ByteLevel` (`use_regex: false`) | Llama 3, Qwen2/2.5/3 |
/// | `ByteLevel` (`use_regex: true`, the GPT-2 pattern), `Digits` | GPT-2, SmolLM |
/// | `Metaspace` (`prepend_scheme`, `split`) | Llama 2 / Mistral (newer files), XLM-R, T5 |
/// | `WhitespaceSplit` | T5 |
/// | `BertPreTokenizer` (whitespace, then punctuation isolated) | BERT, MiniLM, ELECTRA |
/// | `Whitespace`, `Punctuation` | |
struct PreTokenizer: Sendable {
    /// How a split treats the matched delimiters (HF `SplitDelimiterBehavior`).
    enum SplitBehavior: String, Sendable {
        case removed = "Removed"
        case isolated = "Isolated"
        case mergedWithPrevious = "MergedWithPrevious"
        case mergedWithNext = "MergedWithNext"
        case contiguous = "Contiguous"
    }

    /// HF `PrependScheme`.
    enum PrependScheme: String, Sendable {
        case always, first, never
    }

    /// The `Metaspace` pre-tokenizer's settings.
    struct Metaspace: Sendable {
        var replacement: [UInt8]
        var prependScheme: PrependScheme
        var split: Bool
    }

    enum Step: Sendable {
        case split(TokenizerRegex, SplitBehavior, invert: Bool)
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
        case metaspace(Metaspace)
        /// Splits on Unicode whitespace, which is removed.
        case whitespaceSplit
        /// Runs of word characters and runs of other non-space characters (`\w+|[^\w\s]+`).
        case whitespace
        /// Whitespace removed, then every punctuation character isolated.
        case bert
        case punctuation(SplitBehavior)
        /// Digits isolated one by one, or runs of digits together.
        case digits(individual: Bool)
    }

    /// Pre-tokens: byte ranges into a buffer.
    struct Pieces {
        var bytes: [UInt8]
        var ranges: [Range<Int>]
        /// Whether the first range starts at the first byte of the encoded text (HF checks the
        /// original offset 0 for `prepend_scheme: first`).
        var firstStartsText: Bool
    }

    var steps: [Step] = []

    /// The pieces of normalised `text`; `startsText`: it begins the encoded text.
    func preTokenize(_ text: [UInt8], startsText: Bool) -> Pieces {
        var pieces = Pieces(
            bytes: text, ranges: text.isEmpty ? [] : [0..<text.count], firstStartsText: startsText)
        for step in steps where !pieces.ranges.isEmpty {
            switch step {
            case .split(let regex, let behavior, let invert):
                Self.split(&pieces, behavior: behavior, invert: invert) { bytes, range, found in
                    regex.forEachMatch(in: bytes, range, found)
                }
            case .byteLevel(let addPrefixSpace, let useRegex):
                Self.byteLevel(&pieces, addPrefixSpace: addPrefixSpace, useRegex: useRegex)
            case .metaspace(let metaspace): Self.metaspace(&pieces, metaspace)
            case .whitespaceSplit:
                Self.split(&pieces, behavior: .removed, invert: false) { bytes, range, found in
                    Self.eachScalar(bytes, range, where: UnicodeClasses.isWhitespace, found)
                }
            case .whitespace:
                Self.split(&pieces, behavior: .removed, invert: true) { bytes, range, found in
                    Self.wordRuns(bytes, range, found)
                }
            case .bert:
                Self.split(&pieces, behavior: .removed, invert: false) { bytes, range, found in
                    Self.eachScalar(bytes, range, where: UnicodeClasses.isWhitespace, found)
                }
                Self.split(&pieces, behavior: .isolated, invert: false) { bytes, range, found in
                    Self.eachScalar(bytes, range, where: UnicodeClasses.isBertPunctuation, found)
                }
            case .punctuation(let behavior):
                Self.split(&pieces, behavior: behavior, invert: false) { bytes, range, found in
                    Self.eachScalar(bytes, range, where: UnicodeClasses.isBertPunctuation, found)
                }
            case .digits(let individual):
                Self.split(&pieces, behavior: individual ? .isolated : .contiguous, invert: false) {
                    bytes, range, found in
                    Self.eachScalar(bytes, range, where: UnicodeClasses.isNumeric, found)
                }
            }
        }
        return pieces
    }

    // MARK: Splitting

    /// Replaces every range by its parts: the matches `findMatches` reports and the gaps
    /// between them, flagged as matches or not (swapped when `invert`), combined as
    /// `behavior` says (HF `NormalizedString::split`); empty parts are dropped.
    static func split(
        _ pieces: inout Pieces, behavior: SplitBehavior, invert: Bool,
        _ findMatches: (UnsafeBufferPointer<UInt8>, Range<Int>, (Range<Int>) -> Void) -> Void
    ) {
        var result: [Range<Int>] = []
        result.reserveCapacity(pieces.ranges.count * 2)
        var marks: [(range: Range<Int>, isMatch: Bool)] = []
        pieces.bytes.withUnsafeBufferPointer { bytes in
            for range in pieces.ranges {
                marks.removeAll(keepingCapacity: true)
                var previous = range.lowerBound
                findMatches(bytes, range) { match in
                    if match.lowerBound > previous {
                        marks.append((previous..<match.lowerBound, invert))
                    }
                    marks.append((match, !invert))
                    previous = match.upperBound
                }
                if previous < range.upperBound { marks.append((previous..<range.upperBound, invert)) }
                combine(marks, behavior, into: &result)
            }
        }
        pieces.firstStartsText =
            pieces.firstStartsText && result.first?.lowerBound == pieces.ranges.first?.lowerBound
        pieces.ranges = result
    }

    private static func combine(
        _ marks: [(range: Range<Int>, isMatch: Bool)], _ behavior: SplitBehavior,
        into result: inout [Range<Int>]
    ) {
        let start = result.count
        switch behavior {
        case .isolated:
            for mark in marks { result.append(mark.range) }
        case .removed:
            for mark in marks where !mark.isMatch { result.append(mark.range) }
        case .contiguous, .mergedWithPrevious:
            var previousMatch = false
            for mark in marks {
                let merge =
                    behavior == .contiguous
                    ? mark.isMatch == previousMatch : mark.isMatch && !previousMatch
                if merge, result.count > start {
                    result[result.count - 1] = result[result.count - 1].lowerBound..<mark.range.upperBound
                } else {
                    result.append(mark.range)
                }
                previousMatch = mark.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for mark in marks.reversed() {
                if mark.isMatch && !previousMatch, result.count > start {
                    result[result.count - 1] = mark.range.lowerBound..<result[result.count - 1].upperBound
                } else {
                    result.append(mark.range)
                }
                previousMatch = mark.isMatch
            }
            result[start...].reverse()
        }
        var kept = start
        for index in start..<result.count where !result[index].isEmpty {
            result[kept] = result[index]
            kept += 1
        }
        result.removeSubrange(kept...)
    }

    /// Each scalar of `range` satisfying `predicate`, as a match of its own.
    static func eachScalar(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
        where predicate: (Unicode.Scalar) -> Bool, _ found: (Range<Int>) -> Void
    ) {
        var i = range.lowerBound
        while i < range.upperBound {
            let (value, length) = UTF8Scanning.decode(bytes, at: i, end: range.upperBound)
            if predicate(Unicode.Scalar(value) ?? "\u{FFFD}") { found(i..<(i + length)) }
            i += length
        }
    }

    /// The matches of `\w+|[^\w\s]+` (Rust `regex` classes): runs of word characters, and runs
    /// of characters that are neither word characters nor whitespace.
    private static func wordRuns(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ found: (Range<Int>) -> Void
    ) {
        var runStart = -1
        var runIsWord = false
        var i = range.lowerBound
        while i < range.upperBound {
            let (value, length) = UTF8Scanning.decode(bytes, at: i, end: range.upperBound)
            let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
            let kind: Int =
                UnicodeClasses.isWordCharacter(scalar) ? 1 : UnicodeClasses.isWhitespace(scalar) ? 0 : 2
            if runStart >= 0, kind == 0 || (kind == 1) != runIsWord {
                found(runStart..<i)
                runStart = -1
            }
            if kind != 0, runStart < 0 {
                runStart = i
                runIsWord = kind == 1
            }
            i += length
        }
        if runStart >= 0 { found(runStart..<range.upperBound) }
    }

    // MARK: Rewriting steps

    /// The GPT-2 pattern `ByteLevel` splits with when `use_regex` is on.
    static let gpt2Pattern =
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    // The constant pattern is in the supported subset (tests compile it), so this cannot fail.
    private static let gpt2Regex = try! TokenizerRegex(gpt2Pattern)

    /// GPT-2's byte-to-character map: printable Latin-1 bytes map to themselves, the other 68
    /// to U+0100 onwards; as UTF-8 (one or two bytes each).
    static let byteToCharacter: [[UInt8]] = {
        var printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var codes = printable
        var next = 256
        for byte in 0...255 where !printable.contains(byte) {
            printable.append(byte)
            codes.append(next)
            next += 1
        }
        var table = [[UInt8]](repeating: [], count: 256)
        for (byte, code) in zip(printable, codes) {
            table[byte] = Array(String(Unicode.Scalar(UInt32(code))!).utf8)
        }
        return table
    }()

    /// `ByteLevel`: optionally a space in front of each piece that lacks one, optionally the
    /// GPT-2 split, then every byte replaced by its character.
    private static func byteLevel(_ pieces: inout Pieces, addPrefixSpace: Bool, useRegex: Bool) {
        var source = pieces
        if addPrefixSpace {
            var bytes: [UInt8] = []
            var ranges: [Range<Int>] = []
            bytes.reserveCapacity(source.bytes.count + source.ranges.count)
            for range in source.ranges {
                let start = bytes.count
                if source.bytes[range.lowerBound] != 0x20 { bytes.append(0x20) }
                bytes.append(contentsOf: source.bytes[range])
                ranges.append(start..<bytes.count)
            }
            source.bytes = bytes
            source.ranges = ranges
        }
        if useRegex {
            split(&source, behavior: .isolated, invert: false) { bytes, range, found in
                gpt2Regex.forEachMatch(in: bytes, range, found)
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(source.bytes.count * 2)
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(source.ranges.count)
        for range in source.ranges {
            let start = bytes.count
            for byte in source.bytes[range] { bytes.append(contentsOf: byteToCharacter[Int(byte)]) }
            ranges.append(start..<bytes.count)
        }
        pieces = Pieces(bytes: bytes, ranges: ranges, firstStartsText: source.firstStartsText)
    }

    /// `Metaspace`: spaces become the replacement, which is put in front of a piece that does
    /// not start with it (per `prepend_scheme`), and with `split` each replacement starts a
    /// new piece.
    private static func metaspace(_ pieces: inout Pieces, _ metaspace: Metaspace) {
        let replacement = metaspace.replacement
        var bytes: [UInt8] = []
        bytes.reserveCapacity(pieces.bytes.count + pieces.bytes.count / 4 + 8)
        var ranges: [Range<Int>] = []
        for (index, range) in pieces.ranges.enumerated() {
            let start = bytes.count
            for byte in pieces.bytes[range] {
                if byte == 0x20 { bytes.append(contentsOf: replacement) } else { bytes.append(byte) }
            }
            let startsWithReplacement = bytes[start...].starts(with: replacement)
            let prepend =
                switch metaspace.prependScheme {
                case .always: !startsWithReplacement
                case .first: index == 0 && pieces.firstStartsText && !startsWithReplacement
                case .never: false
                }
            if prepend { bytes.insert(contentsOf: replacement, at: start) }
            ranges.append(start..<bytes.count)
        }
        pieces = Pieces(bytes: bytes, ranges: ranges, firstStartsText: pieces.firstStartsText)
        guard metaspace.split, !replacement.isEmpty else { return }
        split(&pieces, behavior: .mergedWithNext, invert: false) { bytes, range, found in
            var i = range.lowerBound
            while i + replacement.count <= range.upperBound {
                if bytes[i..<(i + replacement.count)].elementsEqual(replacement) {
                    found(i..<(i + replacement.count))
                    i += replacement.count
                } else {
                    i += 1
                }
            }
        }
    }
}
