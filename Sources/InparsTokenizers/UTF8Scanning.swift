/// Small UTF-8 helpers shared by the normalisers, pre-tokeniser and the Viterbi search.
enum UTF8Scanning {
    /// `▁` (U+2581 LOWER ONE EIGHTH BLOCK), SentencePiece's whitespace symbol, in UTF-8.
    static let metaspace: [UInt8] = [0xE2, 0x96, 0x81]

    /// The length of the UTF-8 sequence that starts with `lead` (1 for a stray continuation
    /// byte, as SentencePiece's `OneCharLen` does).
    @inline(__always)
    static func sequenceLength(_ lead: UInt8) -> Int {
        if lead < 0xC0 { return 1 }
        if lead < 0xE0 { return 2 }
        if lead < 0xF0 { return 3 }
        return 4
    }

    /// Whether `bytes[at...]` starts with `▁`.
    @inline(__always)
    static func isMetaspace(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Bool {
        i + 2 < end && bytes[i] == 0xE2 && bytes[i + 1] == 0x96 && bytes[i + 2] == 0x81
    }

    /// The length of the whitespace character at `bytes[at...]`, or 0 when it is not one.
    /// Whitespace is Unicode's `White_Space` property (Rust's `char::is_whitespace`, which
    /// HF's `WhitespaceSplit` uses): U+0009–000D, U+0020, U+0085, U+00A0, U+1680,
    /// U+2000–200A, U+2028, U+2029, U+202F, U+205F, U+3000.
    @inline(__always)
    static func whitespaceLength(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Int {
        let b0 = bytes[i]
        if b0 < 0x80 { return (b0 == 0x20 || (b0 >= 0x09 && b0 <= 0x0D)) ? 1 : 0 }
        switch b0 {
        case 0xC2:
            guard i + 1 < end else { return 0 }
            let b1 = bytes[i + 1]
            return (b1 == 0x85 || b1 == 0xA0) ? 2 : 0
        case 0xE1:
            guard i + 2 < end else { return 0 }
            return (bytes[i + 1] == 0x9A && bytes[i + 2] == 0x80) ? 3 : 0
        case 0xE2:
            guard i + 2 < end else { return 0 }
            let b1 = bytes[i + 1]
            let b2 = bytes[i + 2]
            if b1 == 0x80 {
                return (b2 <= 0x8A || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF) ? 3 : 0
            }
            return (b1 == 0x81 && b2 == 0x9F) ? 3 : 0
        case 0xE3:
            guard i + 2 < end else { return 0 }
            return (bytes[i + 1] == 0x80 && bytes[i + 2] == 0x80) ? 3 : 0
        default:
            return 0
        }
    }
}

extension UTF8Scanning {
    /// The scalar starting at `bytes[i]` and its length in bytes; an invalid or truncated
    /// sequence reads as U+FFFD of length 1.
    @inline(__always)
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> (UInt32, Int) {
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 { return (b0, 1) }
        let length = sequenceLength(bytes[i])
        guard length > 1, i + length <= end else { return (0xFFFD, 1) }
        var value = b0 & (0xFF >> UInt32(length + 1))
        for k in 1..<length {
            let b = UInt32(bytes[i + k])
            guard b & 0xC0 == 0x80 else { return (0xFFFD, 1) }
            value = value << 6 | (b & 0x3F)
        }
        return (value, length)
    }
}
