import Foundation
import InparsCore

/// Hand-built gzip files for truncation tests: the deflate data is a series of *stored* blocks
/// (RFC 1951 §3.2.4), so the byte offsets of block boundaries, of the final block and of the
/// trailer are known exactly. A cut after a non-final block is a "flush boundary": what comes
/// before it inflates cleanly to a shorter, valid-looking text.
public struct GzipBytes: Sendable {
    /// The whole file.
    public let bytes: [UInt8]
    /// Offsets just after each block (the last one is where the 8-byte trailer starts).
    public let blockEnds: [Int]

    /// `blocks` of text, each a stored block; the trailer holds the CRC-32 and length of
    /// their concatenation.
    public init(blocks: [String]) {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        var ends: [Int] = []
        var all: [UInt8] = []
        for (index, block) in blocks.enumerated() {
            let data = Array(block.utf8)
            precondition(data.count <= 0xFFFF, "a stored block holds at most 65535 bytes")
            out.append(index == blocks.count - 1 ? 1 : 0)  // BFINAL, BTYPE = 00
            let length = UInt16(data.count)
            out += [UInt8(length & 0xFF), UInt8(length >> 8)]
            out += [UInt8(~length & 0xFF), UInt8(~length >> 8)]
            out += data
            all += data
            ends.append(out.count)
        }
        for value in [CRC32.checksum(all), UInt32(truncatingIfNeeded: all.count)] {
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8((value >> shift) & 0xFF)) }
        }
        bytes = out
        blockEnds = ends
    }

    /// Ways a gzip file goes wrong, each paired with a name for messages.
    public var damaged: [(name: String, bytes: [UInt8])] {
        let trailer = blockEnds.last!
        var badCRC = bytes
        badCRC[trailer] ^= 0xFF
        var badLength = bytes
        badLength[trailer + 4] ^= 0x01
        return [
            ("cut on a block boundary (a flush point)", Array(bytes[..<blockEnds[0]])),
            ("cut inside a block", Array(bytes[..<(blockEnds[0] + 7)])),
            ("cut before the trailer", Array(bytes[..<trailer])),
            ("cut inside the trailer", Array(bytes[..<(trailer + 5)])),
            ("a wrong CRC-32", badCRC),
            ("a wrong length", badLength),
        ]
    }
}
