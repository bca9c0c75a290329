/// 64-bit FNV-1a over strings (each followed by a 0xFF separator), for short fingerprints
/// of settings and data in manifests and checkpoints. Not cryptographic.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    /// Adds `string`'s UTF-8 bytes and a separator.
    public mutating func add(_ string: String) {
        for byte in string.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01B3
        }
        value ^= 0xFF
        value = value &* 0x100_0000_01B3
    }

    /// The value as 16 hex digits.
    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
