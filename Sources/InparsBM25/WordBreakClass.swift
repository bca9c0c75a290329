/// The Unicode word-break classes (UAX #29) that Lucene's `StandardTokenizer` distinguishes,
/// plus the token kinds it emits on their own (ideographs, hiragana, South-East Asian runs,
/// emoji).
///
/// Classification is exact for ASCII (a table) and follows the Unicode properties Swift exposes
/// for other scalars: `Mn`/`Me`/`Mc` → Extend, `Cf` → Format, decimal digits → Numeric,
/// other alphabetic scalars → ALetter, with the Hebrew, Katakana, Hiragana and Thai/Lao/
/// Myanmar/Khmer blocks given their own classes by code-point range.
@usableFromInline
enum WordBreakClass: UInt8, Sendable {
    case other = 0
    case aLetter
    case hebrewLetter
    case numeric
    case katakana
    case extendNumLet
    case midLetter
    case midNum
    case midNumLet
    case singleQuote
    case doubleQuote
    /// Extend, Format and ZWJ: attach to the preceding character (rule WB4).
    case extend
    /// CR, LF, Newline and spaces: always a boundary, never part of a token.
    case separator
    /// Han ideographs: each one is a token (`<IDEOGRAPHIC>`).
    case ideographic
    /// Hiragana: each one is a token (`<HIRAGANA>`).
    case hiragana
    /// Thai, Lao, Myanmar, Khmer: a run is one token (`<SOUTHEAST_ASIAN>`).
    case southEastAsian
    /// Emoji presentation characters: each is a token (`<EMOJI>`).
    case emoji

    /// ALetter or Hebrew_Letter.
    @inline(__always) var isAHLetter: Bool { self == .aLetter || self == .hebrewLetter }
    /// MidNumLet or Single_Quote.
    @inline(__always) var isMidNumLetQ: Bool { self == .midNumLet || self == .singleQuote }
    /// Whether a segment containing this class becomes a token.
    @inline(__always) var makesToken: Bool {
        switch self {
        case .aLetter, .hebrewLetter, .numeric, .katakana, .ideographic, .hiragana,
            .southEastAsian, .emoji:
            return true
        default: return false
        }
    }

    /// Classes of the 128 ASCII characters.
    static let ascii: [WordBreakClass] = {
        var table = [WordBreakClass](repeating: .other, count: 128)
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(c)] = .aLetter }
        for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(c)] = .aLetter }
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(c)] = .numeric }
        table[Int(UInt8(ascii: "_"))] = .extendNumLet
        table[Int(UInt8(ascii: ":"))] = .midLetter
        table[Int(UInt8(ascii: ","))] = .midNum
        table[Int(UInt8(ascii: ";"))] = .midNum
        table[Int(UInt8(ascii: "."))] = .midNumLet
        table[Int(UInt8(ascii: "'"))] = .singleQuote
        table[Int(UInt8(ascii: "\""))] = .doubleQuote
        for c: UInt8 in [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20] { table[Int(c)] = .separator }
        return table
    }()

    /// The class of a non-ASCII scalar.
    static func classify(_ value: UInt32) -> WordBreakClass {
        switch value {
        case 0x2018, 0x2019, 0x2024, 0xFE52, 0xFF07, 0xFF0E: return .midNumLet
        case 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2027, 0xFE13, 0xFE55, 0xFF1A: return .midLetter
        case 0x037E, 0x0589, 0x060C, 0x060D, 0x066C, 0x07F8, 0x2044, 0xFE10, 0xFE14, 0xFE50,
            0xFE54, 0xFF0C, 0xFF1B:
            return .midNum
        case 0x202F, 0x203F, 0x2040, 0x2054, 0xFE33, 0xFE34, 0xFE4D...0xFE4F, 0xFF3F:
            return .extendNumLet
        case 0x0085, 0x00A0, 0x1680, 0x2000...0x2006, 0x2008...0x200A, 0x2028, 0x2029, 0x205F,
            0x3000:
            return .separator
        case 0x200C, 0x200D: return .extend
        case 0x05D0...0x05EA, 0x05EF...0x05F2, 0xFB1D, 0xFB1F...0xFB28, 0xFB2A...0xFB4F:
            return .hebrewLetter
        case 0x3040...0x309F: return .hiragana
        case 0x30A0...0x30FF, 0x31F0...0x31FF, 0x32D0...0x32FE, 0x3300...0x3357, 0xFF66...0xFF9D:
            return .katakana
        case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF, 0x19E0...0x19FF, 0x1980...0x19DF,
            0xAA60...0xAA7F:
            // Thai, Lao, Myanmar, Khmer (and symbols), New Tai Lue, Myanmar Extended-A.
            let scalar = Unicode.Scalar(value)!
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark: return .southEastAsian
            default: return scalar.properties.isAlphabetic ? .southEastAsian : .other
            }
        default: break
        }
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let properties = scalar.properties
        switch properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .spacingMark: return .extend
        case .format: return value == 0x200B ? .other : .extend
        case .decimalNumber: return .numeric
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: return .separator
        default: break
        }
        if properties.isIdeographic { return .ideographic }
        if properties.isAlphabetic { return .aLetter }
        if properties.isEmojiPresentation { return .emoji }
        return .other
    }
}
