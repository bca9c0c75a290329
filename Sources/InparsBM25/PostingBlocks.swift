/// Posting lists in blocks of ``size`` postings, bit-packed, each block with an entry in the
/// block table that lets a search skip it unread (see ``IndexFormat``).
///
/// A block of `n` postings (`n` = ``size`` except for a term's last block) is two bit-packed
/// arrays, one after the other, each starting on a byte boundary:
/// - `n` document gaps, `doc[i] - doc[i-1] - 1` (for `i = 0` the previous document is the last
///   one of the term's previous block, or -1), `docBits` bits each;
/// - `n` values `tf - 1`, `tfBits` bits each.
/// Values are packed least-significant bit first into a little-endian bit stream; a width of 0
/// stores nothing (all values 0: consecutive documents, or every tf = 1).
enum PostingBlocks {
    /// Postings per block.
    static let size = 128

    /// UInt32 fields of one block-table entry.
    static let entryWords = 5

    /// Bytes of zero padding after the postings so a decoder may always load 8 bytes.
    static let tailPadding = 8

    /// Bits needed to store `value` (0 for 0).
    @inline(__always)
    static func bitWidth(_ value: UInt32) -> Int { 32 - value.leadingZeroBitCount }

    /// Bytes taken by `count` values of `bits` bits.
    @inline(__always)
    static func packedBytes(count: Int, bits: Int) -> Int { (count * bits + 7) >> 3 }

    /// Appends `count` values of `bits` bits (each must fit) to `output`.
    static func pack(
        _ values: UnsafePointer<UInt32>, count: Int, bits: Int, into output: inout [UInt8]
    ) {
        guard bits > 0 else { return }
        var buffer: UInt64 = 0
        var filled = 0
        for i in 0..<count {
            buffer |= UInt64(values[i]) << UInt64(filled)
            filled += bits
            while filled >= 8 {
                output.append(UInt8(truncatingIfNeeded: buffer))
                buffer >>= 8
                filled -= 8
            }
        }
        if filled > 0 { output.append(UInt8(truncatingIfNeeded: buffer)) }
    }

    /// Decodes block `block` of a term into document numbers and tfs.
    ///
    /// - Parameters:
    ///   - entries: the index's block table.
    ///   - count: the block's postings (``size``, or fewer for a term's last block).
    ///   - data: the term's first postings byte.
    ///   - previous: the last document of the term's previous block, or `UInt32.max` (−1)
    ///     for its first block.
    @inline(__always)
    static func decode(
        _ entries: UnsafePointer<UInt32>, block: Int, count: Int, data: UnsafePointer<UInt8>,
        previous: UInt32, docs: UnsafeMutablePointer<UInt32>, tfs: UnsafeMutablePointer<UInt32>
    ) {
        let entry = entries + entryWords * block
        let packed = entry[4]
        let docBits = Int((packed >> 16) & 0xFF)
        let tfBits = Int(packed >> 24)
        let start = data + Int(entry[1])
        unpack(start, count: count, bits: docBits, into: docs)
        unpack(start + packedBytes(count: count, bits: docBits), count: count, bits: tfBits, into: tfs)
        var doc = previous
        for i in 0..<count {
            doc = doc &+ docs[i] &+ 1
            docs[i] = doc
            tfs[i] &+= 1
        }
    }

    /// Decodes `count` values of `bits` bits starting at `source` into `output`.
    ///
    /// Reads up to 8 bytes past the last packed byte (the postings section is padded for
    /// that).
    @inline(__always)
    static func unpack(
        _ source: UnsafePointer<UInt8>, count: Int, bits: Int,
        into output: UnsafeMutablePointer<UInt32>
    ) {
        if bits == 0 {
            output.update(repeating: 0, count: count)
            return
        }
        let mask: UInt64 = (1 << UInt64(bits)) &- 1
        let raw = UnsafeRawPointer(source)
        var bit = 0
        for i in 0..<count {
            let word = UInt64(
                littleEndian: raw.loadUnaligned(fromByteOffset: bit >> 3, as: UInt64.self))
            output[i] = UInt32(truncatingIfNeeded: (word >> UInt64(bit & 7)) & mask)
            bit += bits
        }
    }
}

/// One entry of the block table (five little-endian UInt32 words in the file).
///
/// `bestTf`/`bestNorm` is the posting of the block with the largest BM25 term score for the
/// index's bound parameter `b` (``IndexFormat``'s header field; the score's maximiser does not
/// depend on k1, idf or the query boost), and `maxTf`/`minNorm` bound the block for any `b`.
struct BlockEntry: Equatable {
    /// The block's last document number.
    var lastDocument: UInt32
    /// Byte offset of the block's data from the start of its term's postings.
    var dataOffset: UInt32
    var bestTf: UInt32
    var maxTf: UInt32
    var bestNorm: UInt8
    var minNorm: UInt8
    var docBits: UInt8
    var tfBits: UInt8

    var words: (UInt32, UInt32, UInt32, UInt32, UInt32) {
        (
            lastDocument, dataOffset, bestTf, maxTf,
            UInt32(bestNorm) | UInt32(minNorm) << 8 | UInt32(docBits) << 16
                | UInt32(tfBits) << 24
        )
    }
}
