/// Lucene's `EnglishAnalyzer` as Anserini's `DefaultEnglishAnalyzer` configures it:
/// `StandardTokenizer` (UAX #29 word boundaries, tokens of at most 255 UTF-16 units) →
/// `EnglishPossessiveFilter` → `LowerCaseFilter` → `StopFilter` (the 33 English stopwords) →
/// `PorterStemFilter` (original Porter).
///
/// Documents and queries go through the same chain. An analyzer keeps scratch buffers, so it
/// is a value you own: make one per thread and call it many times.
///
/// What the tokenizer does (Lucene's `StandardTokenizer`, *not* `UAX29URLEmailTokenizer`):
/// letters and digits join (`b12`, `h2o`); `.` `’` `'` join letters (`U.S.A`, `don't`,
/// `DDC's`) and `.` `,` `;` join digits (`1.8`, `1,000`); `:` joins letters (`a:b`); `_` joins
/// anything wordy (`snake_case`); hyphens, slashes, `@` and other punctuation split, so URLs
/// and e-mail addresses come out in pieces (`user@example.com` → `user`, `example.com`).
/// Han ideographs and hiragana are one token per character; Thai, Lao, Myanmar and Khmer runs
/// are one token each; emoji-presentation characters are tokens.
public struct EnglishAnalyzer: Sendable {
    /// Lucene `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`.
    public static let stopwords: [String] = [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
        "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
        "these", "they", "this", "to", "was", "will", "with",
    ]

    /// Lucene's default `maxTokenLength`; longer tokens are split into pieces of this size.
    public static let maxTokenLength = 255

    /// Stopwords packed as little-endian ASCII in a `UInt64` (all are ≤ 8 letters).
    private static let packedStopwords: Set<UInt64> = Set(
        stopwords.map { word in
            var key: UInt64 = 0
            for (n, byte) in word.utf8.enumerated() { key |= UInt64(byte) << (8 * UInt64(n)) }
            return key
        })

    private var scalars: [UInt32] = []
    private var unitStart: [Int32] = []
    private var unitClass: [WordBreakClass] = []
    private var tokenUnits: [UInt16] = []
    private var tokenEnds: [Int] = []
    private var term: [UInt16] = []
    private var classCache: [UInt32: WordBreakClass] = [:]
    private var lowerCache: [UInt32: UInt32] = [:]
    /// Whether stopwords are removed and terms stemmed (false: tokenizer + possessive + lowercase).
    private let fullChain: Bool

    /// An analyzer with the full chain.
    public init() { fullChain = true }

    init(fullChain: Bool) { self.fullChain = fullChain }

    /// The analyzed terms of `text`, in order.
    public mutating func analyze(_ text: String) -> [String] {
        var terms: [String] = []
        forEachTerm(in: text) { terms.append(String(decoding: $0, as: UTF16.self)) }
        return terms
    }

    /// The raw `StandardTokenizer` tokens of `text` (no filters), for tests and debugging.
    public static func standardTokens(_ text: String) -> [String] {
        var analyzer = EnglishAnalyzer(fullChain: false)
        analyzer.tokenize(text)
        var tokens: [String] = []
        var start = 0
        for end in analyzer.tokenEnds {
            tokens.append(String(decoding: analyzer.tokenUnits[start..<end], as: UTF16.self))
            start = end
        }
        return tokens
    }

    /// Calls `body` with each analyzed term (UTF-16 code units, valid only during the call).
    public mutating func forEachTerm(
        in text: String, _ body: (UnsafeBufferPointer<UInt16>) -> Void
    ) {
        let full = fullChain
        tokenize(text)
        let units = tokenUnits
        let ends = tokenEnds
        units.withUnsafeBufferPointer { all in
          var tokenStart = 0
          for tokenEnd in ends {
            let token = UnsafeBufferPointer(rebasing: all[tokenStart..<tokenEnd])
            tokenStart = tokenEnd
            // EnglishPossessiveFilter.
            var count = token.count
            if count >= 2 {
                let apostrophe = token[count - 2]
                let s = token[count - 1]
                if (apostrophe == 0x27 || apostrophe == 0x2019 || apostrophe == 0xFF07)
                    && (s == 0x73 || s == 0x53)
                {
                    count -= 2
                }
            }
            // LowerCaseFilter (code point by code point, as Character.toLowerCase).
            term.removeAll(keepingCapacity: true)
            var index = 0
            while index < count {
                let unit = token[index]
                if unit < 0x80 {
                    term.append(unit >= 0x41 && unit <= 0x5A ? unit | 0x20 : unit)
                    index += 1
                    continue
                }
                var value = UInt32(unit)
                var width = 1
                if unit >= 0xD800 && unit < 0xDC00 && index + 1 < count {
                    let low = token[index + 1]
                    if low >= 0xDC00 && low < 0xE000 {
                        value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                        width = 2
                    }
                }
                let lower = lowercase(value)
                if let scalar = Unicode.Scalar(lower) {
                    for u in UTF16.encode(scalar)! { term.append(u) }
                } else {
                    for n in 0..<width { term.append(token[index + n]) }
                }
                index += width
            }
            if !full {
                term.withUnsafeBufferPointer { body($0) }
                continue
            }
            if term.count == 0 { continue }
            // StopFilter.
            if term.count <= 8 {
                var key: UInt64 = 0
                var ascii = true
                for (n, unit) in term.enumerated() {
                    if unit >= 0x80 {
                        ascii = false
                        break
                    }
                    key |= UInt64(unit) << (8 * UInt64(n))
                }
                if ascii && Self.packedStopwords.contains(key) { continue }
            }
            // PorterStemFilter.
            let n = term.count
            let length = term.withUnsafeMutableBufferPointer { PorterStemmer.stem($0, count: n) }
            term.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<length])) }
          }
        }
    }

    private mutating func lowercase(_ value: UInt32) -> UInt32 {
        if let cached = lowerCache[value] { return cached }
        var result = value
        if value == 0x130 {
            result = 0x69  // Java: Character.toLowerCase('İ') == 'i'
        } else if let scalar = Unicode.Scalar(value) {
            let mapping = scalar.properties.lowercaseMapping.unicodeScalars
            if mapping.count == 1 { result = mapping.first!.value }
        }
        lowerCache[value] = result
        return result
    }

    private mutating func classify(_ value: UInt32) -> WordBreakClass {
        if let cached = classCache[value] { return cached }
        let result = WordBreakClass.classify(value)
        classCache[value] = result
        return result
    }

    /// Whether there is no word boundary between unit `u - 1` and unit `u` (UAX #29 WB5-WB13b,
    /// after WB4 has folded Extend/Format/ZWJ into the unit before them; plus Lucene's
    /// South-East Asian runs).
    @inline(__always)
    private func noBreak(_ u: Int, _ classes: UnsafeBufferPointer<WordBreakClass>) -> Bool {
        let a = classes[u - 1]
        let b = classes[u]
        let n = classes.count
        if a.isAHLetter {
            if b.isAHLetter || b == .numeric || b == .extendNumLet { return true }  // WB5, 9, 13a
            if (b == .midLetter || b.isMidNumLetQ) && u + 1 < n && classes[u + 1].isAHLetter {
                return true  // WB6
            }
            if a == .hebrewLetter {
                if b == .singleQuote { return true }  // WB7a
                if b == .doubleQuote && u + 1 < n && classes[u + 1] == .hebrewLetter {
                    return true  // WB7b
                }
            }
            return false
        }
        if a == .numeric {
            if b == .numeric || b.isAHLetter || b == .extendNumLet { return true }  // WB8, 10, 13a
            if (b == .midNum || b.isMidNumLetQ) && u + 1 < n && classes[u + 1] == .numeric {
                return true  // WB12
            }
            return false
        }
        if b.isAHLetter && (a == .midLetter || a.isMidNumLetQ) && u >= 2
            && classes[u - 2].isAHLetter
        {
            return true  // WB7
        }
        if b == .hebrewLetter && a == .doubleQuote && u >= 2 && classes[u - 2] == .hebrewLetter {
            return true  // WB7c
        }
        if b == .numeric && (a == .midNum || a.isMidNumLetQ) && u >= 2
            && classes[u - 2] == .numeric
        {
            return true  // WB11
        }
        if a == .katakana && (b == .katakana || b == .extendNumLet) { return true }  // WB13, 13a
        if a == .extendNumLet {
            if b == .extendNumLet || b.isAHLetter || b == .numeric || b == .katakana {
                return true  // WB13a, 13b
            }
        }
        if a == .southEastAsian && b == .southEastAsian { return true }
        return false
    }

    /// Splits `text` into `StandardTokenizer` tokens: UTF-16 units in `tokenUnits`, token `i`
    /// ending at `tokenEnds[i]`.
    mutating func tokenize(_ text: String) {
        tokenUnits.removeAll(keepingCapacity: true)
        tokenEnds.removeAll(keepingCapacity: true)
        var text = text
        scalars.removeAll(keepingCapacity: true)
        unitStart.removeAll(keepingCapacity: true)
        unitClass.removeAll(keepingCapacity: true)
        // Decode UTF-8 and classify; fold Extend/Format/ZWJ into the preceding unit (WB4).
        text.withUTF8 { bytes in
            let n = bytes.count
            var i = 0
            while i < n {
                let c0 = bytes[i]
                var value: UInt32
                var cls: WordBreakClass
                if c0 < 0x80 {
                    value = UInt32(c0)
                    cls = WordBreakClass.ascii[Int(c0)]
                    i += 1
                } else {
                    if c0 < 0xE0 {
                        value = UInt32(c0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F)
                        i += 2
                    } else if c0 < 0xF0 {
                        value =
                            UInt32(c0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6
                            | UInt32(bytes[i + 2] & 0x3F)
                        i += 3
                    } else {
                        value =
                            UInt32(c0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12
                            | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F)
                        i += 4
                    }
                    cls = classify(value)
                    if cls == .extend {
                        if let last = unitClass.last, last != .separator {
                            scalars.append(value)
                            continue
                        }
                        cls = .other
                    }
                }
                unitStart.append(Int32(scalars.count))
                unitClass.append(cls)
                scalars.append(value)
            }
        }
        let unitCount = unitClass.count
        guard unitCount > 0 else { return }
        unitStart.append(Int32(scalars.count))
        var segmentStart = 0
        var makesToken = unitClass[0].makesToken
        let boundaries: [Int] = unitClass.withUnsafeBufferPointer { classes in
            var result: [Int] = []
            for u in 1..<unitCount {
                if noBreak(u, classes) {
                    makesToken = makesToken || classes[u].makesToken
                } else {
                    if makesToken {
                        result.append(segmentStart)
                        result.append(u)
                    }
                    segmentStart = u
                    makesToken = classes[u].makesToken
                }
            }
            if makesToken {
                result.append(segmentStart)
                result.append(unitCount)
            }
            return result
        }
        var pair = 0
        while pair < boundaries.count {
            let from = Int(unitStart[boundaries[pair]])
            let to = Int(unitStart[boundaries[pair + 1]])
            pair += 2
            let tokenBegin = tokenUnits.count
            for s in from..<to {
                let value = scalars[s]
                if value < 0x10000 {
                    tokenUnits.append(UInt16(value))
                } else {
                    let v = value - 0x10000
                    tokenUnits.append(UInt16(0xD800 + (v >> 10)))
                    tokenUnits.append(UInt16(0xDC00 + (v & 0x3FF)))
                }
            }
            var start = tokenBegin
            while start < tokenUnits.count {
                let end = min(start + Self.maxTokenLength, tokenUnits.count)
                tokenEnds.append(end)
                start = end
            }
        }
    }
}
