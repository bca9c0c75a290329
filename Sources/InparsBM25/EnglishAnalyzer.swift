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

    /// Stopwords packed as little-endian ASCII in a `UInt64` (all are ≤ 5 letters).
    private static let packedStopwords: [UInt64] = stopwords.map { word in
        var key: UInt64 = 0
        for (n, byte) in word.utf8.enumerated() { key |= UInt64(byte) << (8 * UInt64(n)) }
        return key
    }

    private var scalars: [UInt32] = []
    private var unitStart: [Int32] = []
    private var unitClass: [WordBreakClass] = []
    private var tokenUnits: [UInt16] = []
    private var tokenEnds: [Int32] = []
    private var tokenCount = 0
    private var term16: [UInt16] = []
    private var term8: [UInt8] = []
    private var classCache: [UInt32: WordBreakClass] = [:]
    private var lowerCache: [UInt32: UInt32] = [:]
    private let asciiClasses: [WordBreakClass] = WordBreakClass.ascii
    private let stopKeys: [UInt64] = EnglishAnalyzer.packedStopwords
    /// Whether stopwords are removed and terms stemmed (false: tokenizer + possessive + lowercase).
    private let fullChain: Bool

    /// An analyzer with the full chain.
    public init() { fullChain = true }

    init(fullChain: Bool) { self.fullChain = fullChain }

    /// The analyzed terms of `text`, in order.
    public mutating func analyze(_ text: String) -> [String] {
        var terms: [String] = []
        forEachTerm(in: text) { terms.append(String(decoding: $0, as: UTF8.self)) }
        return terms
    }

    /// The raw `StandardTokenizer` tokens of `text` (no filters), for tests and debugging.
    public static func standardTokens(_ text: String) -> [String] {
        var analyzer = EnglishAnalyzer(fullChain: false)
        analyzer.tokenize(text)
        var tokens: [String] = []
        var start = 0
        for t in 0..<analyzer.tokenCount {
            let end = Int(analyzer.tokenEnds[t])
            tokens.append(String(decoding: analyzer.tokenUnits[start..<end], as: UTF16.self))
            start = end
        }
        return tokens
    }

    /// Calls `body` with each analyzed term as UTF-8 bytes (valid only during the call).
    public mutating func forEachTerm(
        in text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        tokenize(text)
        if tokenCount == 0 { return }
        let full = fullChain
        if term16.count < Self.maxTokenLength * 2 + 4 {
            term16 = [UInt16](repeating: 0, count: Self.maxTokenLength * 2 + 4)
            term8 = [UInt8](repeating: 0, count: Self.maxTokenLength * 6 + 8)
        }
        var lowerCache = self.lowerCache
        self.lowerCache = [:]
        defer { self.lowerCache = lowerCache }
        let count = tokenCount
        let stopKeys = self.stopKeys
        tokenUnits.withUnsafeBufferPointer { all in
        tokenEnds.withUnsafeBufferPointer { ends in
        term16.withUnsafeMutableBufferPointer { term in
        term8.withUnsafeMutableBufferPointer { utf8 in
        stopKeys.withUnsafeBufferPointer { stops in
            var tokenStart = 0
            for t in 0..<count {
                let tokenEnd = Int(ends[t])
                let token = UnsafeBufferPointer(rebasing: all[tokenStart..<tokenEnd])
                tokenStart = tokenEnd
                // EnglishPossessiveFilter.
                var length = token.count
                if length >= 2 {
                    let apostrophe = token[length - 2]
                    let s = token[length - 1]
                    if (apostrophe == 0x27 || apostrophe == 0x2019 || apostrophe == 0xFF07)
                        && (s == 0x73 || s == 0x53)
                    {
                        length -= 2
                    }
                }
                // LowerCaseFilter (code point by code point, as Character.toLowerCase).
                var n = 0
                var ascii = true
                var index = 0
                while index < length {
                    let unit = token[index]
                    if unit < 0x80 {
                        term[n] = unit >= 0x41 && unit <= 0x5A ? unit | 0x20 : unit
                        n += 1
                        index += 1
                        continue
                    }
                    ascii = false
                    var value = UInt32(unit)
                    var width = 1
                    if unit >= 0xD800 && unit < 0xDC00 && index + 1 < length {
                        let low = token[index + 1]
                        if low >= 0xDC00 && low < 0xE000 {
                            value = 0x10000 + ((UInt32(unit) - 0xD800) << 10)
                                + (UInt32(low) - 0xDC00)
                            width = 2
                        }
                    }
                    let lower = Self.lowercase(value, cache: &lowerCache)
                    if lower != value, let scalar = Unicode.Scalar(lower) {
                        for u in UTF16.encode(scalar)! {
                            term[n] = u
                            n += 1
                        }
                    } else {
                        for w in 0..<width {
                            term[n] = token[index + w]
                            n += 1
                        }
                    }
                    index += width
                }
                if n == 0 { continue }
                if full {
                    // StopFilter.
                    if ascii && n <= 5 {
                        var key: UInt64 = 0
                        for i in 0..<n { key |= UInt64(term[i]) << (8 * UInt64(i)) }
                        var stop = false
                        for candidate in stops where candidate == key {
                            stop = true
                            break
                        }
                        if stop { continue }
                    }
                    // PorterStemFilter.
                    n = PorterStemmer.stem(term, count: n)
                }
                // UTF-16 → UTF-8.
                var m = 0
                if ascii {
                    for i in 0..<n { utf8[i] = UInt8(truncatingIfNeeded: term[i]) }
                    m = n
                } else {
                    var i = 0
                    while i < n {
                        var value = UInt32(term[i])
                        if value >= 0xD800 && value < 0xDC00 && i + 1 < n
                            && term[i + 1] >= 0xDC00 && term[i + 1] < 0xE000
                        {
                            value = 0x10000 + ((value - 0xD800) << 10) + (UInt32(term[i + 1]) - 0xDC00)
                            i += 1
                        }
                        i += 1
                        let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
                        for byte in UTF8.encode(scalar)! {
                            utf8[m] = byte
                            m += 1
                        }
                    }
                }
                body(UnsafeBufferPointer(rebasing: utf8[0..<m]))
            }
        }
        }
        }
        }
        }
    }

    private static func lowercase(_ value: UInt32, cache lowerCache: inout [UInt32: UInt32])
        -> UInt32
    {
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


    /// Whether there is no word boundary between unit `u - 1` and unit `u` (UAX #29 WB5-WB13b,
    /// after WB4 has folded Extend/Format/ZWJ into the unit before them; plus Lucene's
    /// South-East Asian runs).
    @inline(__always)
    private static func noBreak(_ u: Int, _ classes: UnsafeBufferPointer<WordBreakClass>) -> Bool {
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

    /// Splits `text` into `StandardTokenizer` tokens: UTF-16 units in `tokenUnits`, token `t`
    /// ending at `tokenEnds[t]`, `tokenCount` tokens.
    mutating func tokenize(_ text: String) {
        tokenCount = 0
        var text = text
        let n = text.utf8.count
        if n == 0 { return }
        if scalars.count < n + 1 {
            let size = max(n + 1, scalars.count * 2)
            scalars = [UInt32](repeating: 0, count: size)
            unitStart = [Int32](repeating: 0, count: size + 1)
            unitClass = [WordBreakClass](repeating: .other, count: size)
            tokenUnits = [UInt16](repeating: 0, count: size * 2)
            tokenEnds = [Int32](repeating: 0, count: size)
        }
        var classCache = self.classCache
        self.classCache = [:]
        var tokens = 0
        text.withUTF8 { bytes in
        asciiClasses.withUnsafeBufferPointer { asciiTable in
        scalars.withUnsafeMutableBufferPointer { scalars in
        unitStart.withUnsafeMutableBufferPointer { unitStart in
        unitClass.withUnsafeMutableBufferPointer { unitClass in
        tokenUnits.withUnsafeMutableBufferPointer { tokenUnits in
        tokenEnds.withUnsafeMutableBufferPointer { tokenEnds in
            // Decode UTF-8 and classify; fold Extend/Format/ZWJ into the unit before (WB4).
            var scalarCount = 0
            var unitCount = 0
            var i = 0
            while i < n {
                let c0 = bytes[i]
                var value: UInt32
                var cls: WordBreakClass
                if c0 < 0x80 {
                    value = UInt32(c0)
                    cls = asciiTable[Int(c0)]
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
                    if let cached = classCache[value] {
                        cls = cached
                    } else {
                        cls = WordBreakClass.classify(value)
                        classCache[value] = cls
                    }
                    if cls == .extend {
                        if unitCount > 0 && unitClass[unitCount - 1] != .separator {
                            // Keycap sequences (#️⃣, *️⃣) are emoji tokens in Lucene.
                            if value == 0x20E3 {
                                let base = scalars[Int(unitStart[unitCount - 1])]
                                if base == 0x23 || base == 0x2A { unitClass[unitCount - 1] = .emoji }
                            }
                            scalars[scalarCount] = value
                            scalarCount += 1
                            continue
                        }
                        // A mark with nothing to attach to: Lucene keeps South-East Asian ones
                        // (except U+1A7F, not Line_Break=SA) and lone skin-tone modifiers.
                        if WordBreakClass.isSouthEastAsian(value) && value != 0x1A7F {
                            cls = .southEastAsian
                        } else if (0x1F3FB...0x1F3FF).contains(value) {
                            cls = .emoji
                        } else {
                            cls = .other
                        }
                    }
                }
                unitStart[unitCount] = Int32(scalarCount)
                unitClass[unitCount] = cls
                unitCount += 1
                scalars[scalarCount] = value
                scalarCount += 1
            }
            guard unitCount > 0 else { return }
            unitStart[unitCount] = Int32(scalarCount)
            let classes = UnsafeBufferPointer(rebasing: unitClass[0..<unitCount])
            var unitsWritten = 0
            func emit(_ fromUnit: Int, _ toUnit: Int) {
                let tokenBegin = unitsWritten
                for s in Int(unitStart[fromUnit])..<Int(unitStart[toUnit]) {
                    let value = scalars[s]
                    if value < 0x10000 {
                        tokenUnits[unitsWritten] = UInt16(value)
                        unitsWritten += 1
                    } else {
                        let v = value - 0x10000
                        tokenUnits[unitsWritten] = UInt16(0xD800 + (v >> 10))
                        tokenUnits[unitsWritten + 1] = UInt16(0xDC00 + (v & 0x3FF))
                        unitsWritten += 2
                    }
                }
                var start = tokenBegin
                while start < unitsWritten {
                    let end = min(start + Self.maxTokenLength, unitsWritten)
                    tokenEnds[tokens] = Int32(end)
                    tokens += 1
                    start = end
                }
            }
            var segmentStart = 0
            var makesToken = classes[0].makesToken
            var regionalRun = classes[0] == .regionalIndicator ? 1 : 0
            for u in 1..<unitCount {
                var joined = Self.noBreak(u, classes)
                let cls = classes[u]
                if cls == .regionalIndicator {
                    // WB15/16: regional indicators pair up (flags).
                    if classes[u - 1] == .regionalIndicator && regionalRun % 2 == 1 {
                        joined = true
                        makesToken = true  // a flag
                    }
                    regionalRun = classes[u - 1] == .regionalIndicator ? regionalRun + 1 : 1
                } else {
                    regionalRun = 0
                }
                // WB3c: ZWJ × Extended_Pictographic (emoji ZWJ sequences).
                if !joined && cls == .emoji && scalars[Int(unitStart[u]) - 1] == 0x200D {
                    joined = true
                }
                if joined {
                    if !makesToken { makesToken = classes[u].makesToken }
                } else {
                    if makesToken { emit(segmentStart, u) }
                    segmentStart = u
                    makesToken = classes[u].makesToken
                }
            }
            if makesToken { emit(segmentStart, unitCount) }
        }
        }
        }
        }
        }
        }
        }
        self.classCache = classCache
        tokenCount = tokens
    }
}
