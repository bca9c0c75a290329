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
    /// Extended_Pictographic: a token each, with attached modifiers/VS16/ZWJ sequences (`<EMOJI>`).
    case emoji
    /// Regional indicators: a pair (a flag) is one token; a lone one is dropped.
    case regionalIndicator

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

    /// The Unicode version of Lucene's StandardTokenizer tables (JFlex 1.8): scalars assigned
    /// later are unknown to it and behave as "Other" (verified against Lucene on every code
    /// point; see TokenizerSweepTests).
    static let luceneUnicodeVersion = (major: 12, minor: 1)

    /// Extended_Pictographic (Unicode emoji-data.txt; includes reserved code points in the
    /// emoji blocks), which Lucene's grammar turns into `<EMOJI>` tokens.
    static func isExtendedPictographic(_ v: UInt32) -> Bool {
        switch v {
        case 0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x2194...0x2199, 0x21A9...0x21AA,
            0x231A...0x231B, 0x2328, 0x2388, 0x23CF, 0x23E9...0x23F3, 0x23F8...0x23FA, 0x24C2,
            0x25AA...0x25AB, 0x25B6, 0x25C0, 0x25FB...0x25FE, 0x2600...0x2605, 0x2607...0x2612,
            0x2614...0x2685, 0x2690...0x2705, 0x2708...0x2712, 0x2714, 0x2716, 0x271D, 0x2721,
            0x2728, 0x2733...0x2734, 0x2744, 0x2747, 0x274C, 0x274E, 0x2753...0x2755, 0x2757,
            0x2763...0x2767, 0x2795...0x2797, 0x27A1, 0x27B0, 0x27BF, 0x2934...0x2935,
            0x2B05...0x2B07, 0x2B1B...0x2B1C, 0x2B50, 0x2B55, 0x3030, 0x303D, 0x3297, 0x3299,
            0x1F000...0x1F0FF, 0x1F10D...0x1F10F, 0x1F12F, 0x1F16C...0x1F171, 0x1F17E...0x1F17F,
            0x1F18E, 0x1F191...0x1F19A, 0x1F1AD...0x1F1E5, 0x1F201...0x1F20F, 0x1F21A, 0x1F22F,
            0x1F232...0x1F23A, 0x1F23C...0x1F23F, 0x1F249...0x1F3FA, 0x1F400...0x1F53D,
            0x1F546...0x1F64F, 0x1F680...0x1F6FF, 0x1F774...0x1F77F, 0x1F7D5...0x1F7FF,
            0x1F80C...0x1F80F, 0x1F848...0x1F84F, 0x1F85A...0x1F85F, 0x1F888...0x1F88F,
            0x1F8AE...0x1F8FF, 0x1F90C...0x1F93A, 0x1F93C...0x1F945, 0x1F947...0x1FAFF,
            0x1FB00...0x1FBFF,  // reserved (pictographic) in Lucene's Unicode 12.1 data
            0x1FC00...0x1FFFD:
            return true
        default:
            return false
        }
    }

    /// Han script (Lucene's `<IDEOGRAPHIC>` tokens are Han characters, one each).
    static func isHan(_ v: UInt32) -> Bool {
        switch v {
        case 0x2E80...0x2E99, 0x2E9B...0x2EF3, 0x2F00...0x2FD5, 0x3007, 0x3021...0x3029,
            0x3038...0x303A, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFA6D, 0xFA70...0xFAD9,
            0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return true
        default:
            return false
        }
    }

    /// Thai, Lao, Myanmar, Khmer and related blocks (Lucene's `<SOUTHEAST_ASIAN>` runs).
    static func isSouthEastAsian(_ v: UInt32) -> Bool {
        switch v {
        case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF, 0x1950...0x197F, 0x1980...0x19DF,
            0x19E0...0x19FF, 0x1A20...0x1AAF, 0xA9E0...0xA9FF, 0xAA60...0xAA7F, 0xAA80...0xAADF,
            0x11700...0x1173F:
            // Thai, Lao, Myanmar (+ Extended-A/B), Khmer (+ symbols), Tai Le, New Tai Lue,
            // Tai Tham, Tai Viet, Ahom: the Line_Break=SA scripts.
            return true
        default:
            return false
        }
    }

    /// The class of a non-ASCII scalar.
    static func classify(_ value: UInt32) -> WordBreakClass {
        if isExtendedPictographic(value) {
            // Letter-like pictographs (ℹ, Ⓜ) stay ALetter, as in UAX #29.
            if let scalar = Unicode.Scalar(value), scalar.properties.age != nil,
                scalar.properties.isAlphabetic
            {
                return .aLetter
            }
            return .emoji
        }
        guard let scalar = Unicode.Scalar(value), let age = scalar.properties.age,
            (age.major, age.minor) <= luceneUnicodeVersion
        else { return .other }
        switch value {
        case 0x1F3FB...0x1F3FF, 0xFF9E...0xFF9F: return .extend  // skin tones, kana voicing
        case 0x0E3F, 0x0E4F, 0x0E5A...0x0E5B, 0x104A...0x104F, 0x17D4...0x17D6, 0x17D8...0x17DB,
            0x17F0...0x17F9, 0x19E0...0x19FF, 0x1173C...0x1173E:
            return .other  // punctuation and symbols in SA blocks that are not Line_Break=SA
        case 0x1F1E6...0x1F1FF: return .regionalIndicator
        case 0x2018, 0x2019, 0x2024, 0xFE52, 0xFF07, 0xFF0E: return .midNumLet
        case 0x00B7, 0x0387, 0x05F4, 0x2027, 0xFE13, 0xFE55, 0xFF1A: return .midLetter
        case 0x037E, 0x0589, 0x060C, 0x060D, 0x066C, 0x07F8, 0x2044, 0xFE10, 0xFE14, 0xFE50,
            0xFE54, 0xFF0C, 0xFF1B:
            return .midNum
        case 0x202F, 0x203F, 0x2040, 0x2054, 0xFE33, 0xFE34, 0xFE4D...0xFE4F, 0xFF3F:
            return .extendNumLet
        case 0x0085, 0x00A0, 0x1680, 0x2000...0x2006, 0x2008...0x200A, 0x2028, 0x2029, 0x205F,
            0x3000:
            return .separator
        case 0x200C, 0x200D: return .extend
        case 0x02C2...0x02C5, 0x02D2...0x02D7, 0x02DE...0x02DF, 0x02ED, 0x02EF...0x02FF,
            0x055B...0x055C, 0x055E, 0x05F3, 0xA720...0xA721, 0xA789...0xA78A, 0xAB5B, 0x3005,
            0x303B:
            return .aLetter  // modifier letters and marks that UAX #29 lists as ALetter
        case 0x066B: return .numeric
        case 0x05D0...0x05EA, 0x05EF...0x05F2, 0xFB1D, 0xFB1F...0xFB28, 0xFB2A...0xFB4F:
            return .hebrewLetter
        case 0x3031...0x3035, 0x309B...0x309C, 0x30A0...0x30FA, 0x30FC...0x30FF, 0x31F0...0x31FF,
            0x32D0...0x32FE, 0x3300...0x3357, 0xFF66...0xFF9D, 0x1B000, 0x1B164...0x1B167:
            return .katakana
        case 0x3041...0x3096, 0x309D...0x309F, 0x1B001...0x1B11E, 0x1B150...0x1B152, 0x1F200:
            return .hiragana
        default: break
        }
        let properties = scalar.properties
        let category = properties.generalCategory
        if isSouthEastAsian(value) {
            switch category {
            case .nonspacingMark, .spacingMark, .enclosingMark: return .extend
            case .decimalNumber: return .numeric
            default: return .southEastAsian
            }
        }
        switch category {
        case .nonspacingMark, .enclosingMark, .spacingMark: return .extend
        case .format: return value == 0x200B ? .other : .extend
        case .decimalNumber: return .numeric
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: return .separator
        default: break
        }
        if isHan(value) { return .ideographic }
        if properties.isIdeographic { return .other }
        if properties.isAlphabetic { return .aLetter }
        return .other
    }
}
