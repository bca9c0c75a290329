import InparsCore
import InparsTestSupport
import Testing

/// `CRC32.checksum` (carry-less multiplication for long inputs, zlib for the rest) against a
/// bit-at-a-time CRC-32 written from the definition.
@Suite struct CRC32Tests {
    /// Reflected CRC-32, polynomial 0xEDB88320, inverted before and after (zlib's convention).
    func reference(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt32 {
        var crc = ~initial
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc >> 1 ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    @Test func checkValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
    }

    @Test func everyLengthOffsetAndStartEqualsTheDefinition() {
        var random = TestRandom(seed: 3)
        let bytes = (0..<70_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        var lengths = Array(0...300)
        lengths += [1_023, 1_024, 1_025, 4_099, 65_536 + 5]
        var mismatches: [String] = []
        for length in lengths {
            for offset in [0, 1, 7, 15] where offset + length <= bytes.count {
                for initial: UInt32 in [0, 0xDEAD_BEEF] {
                    let slice = bytes[offset..<offset + length]
                    let got = slice.withUnsafeBytes { CRC32.checksum($0, initial: initial) }
                    if got != reference(slice, initial: initial) {
                        mismatches.append("length \(length) offset \(offset) initial \(initial)")
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func continuingEqualsOnePass() {
        var random = TestRandom(seed: 4)
        let bytes = (0..<10_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let whole = CRC32.checksum(bytes)
        for split in [0, 1, 63, 64, 65, 5_000, 9_999] {
            let first = CRC32.checksum(Array(bytes[..<split]))
            #expect(CRC32.checksum(Array(bytes[split...]), initial: first) == whole, "split \(split)")
        }
    }
}
