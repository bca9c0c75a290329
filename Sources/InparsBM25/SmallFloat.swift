/// Lucene's `SmallFloat` one-byte encoding of document lengths (the BM25 norm).
///
/// Port of `org.apache.lucene.util.SmallFloat.intToByte4` / `byte4ToInt` (Lucene ≥ 7): lengths
/// below 24 are stored exactly; larger ones keep their top 4 significant bits, rounding down.
public enum SmallFloat {
    /// `longToInt4`: 3 stored mantissa bits plus an implicit one, and the shift.
    static func longToInt4(_ value: Int64) -> Int32 {
        precondition(value >= 0, "only non-negative values can be encoded")
        let numBits = 64 - value.leadingZeroBitCount
        if numBits < 4 { return Int32(value) }
        let shift = numBits - 4
        var encoded = Int32(truncatingIfNeeded: value >> Int64(shift)) & 0x07
        encoded |= Int32(shift + 1) << 3
        return encoded
    }

    /// `int4ToLong`, the inverse of ``longToInt4(_:)`` (up to the rounding).
    static func int4ToLong(_ encoded: Int32) -> Int64 {
        let bits = Int64(encoded & 0x07)
        let shift = Int64(encoded >> 3) - 1
        return shift == -1 ? bits : (bits | 0x08) << shift
    }

    /// 231, the code of `Int32.max`; 255 − 231 = 24 values are stored exactly.
    static let maxInt4 = longToInt4(Int64(Int32.max))
    static let numFreeValues = 255 - Int(maxInt4)

    /// Encodes a document length (token count) into one byte, rounding down.
    public static func intToByte4(_ value: Int) -> UInt8 {
        precondition(value >= 0, "lengths are non-negative")
        if value < numFreeValues { return UInt8(value) }
        return UInt8(numFreeValues + Int(longToInt4(Int64(value - numFreeValues))))
    }

    /// Decodes a norm byte into the (rounded-down) length Lucene scores with.
    public static func byte4ToInt(_ byte: UInt8) -> Int {
        let value = Int(byte)
        if value < numFreeValues { return value }
        return numFreeValues + Int(int4ToLong(Int32(value - numFreeValues)))
    }
}
