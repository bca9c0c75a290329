internal import CKernels

/// Posting lists in blocks of ``size`` postings, bit-packed, each block with an entry in the
/// block table that lets a search skip it unread (see ``IndexFormat``).
///
/// A block of `n` postings (`n` = ``size`` except for a term's last block) is three
/// bit-packed arrays, one after the other, each starting on a byte boundary:
/// - `n` document offsets `doc[i] − base`, `docBits` bits each, where `base` is the last
///   document of the term's previous block plus one (0 for its first block): frame of
///   reference rather than gaps, so a probe can binary-search a block and decoding has no
///   chain of additions;
/// - `n` values `tf − 1`, `tfBits` bits each;
/// - `n` values `norm − minNorm`, `normBits` bits each: each document's length byte, kept
///   beside its posting so scoring a posting never reads the index-wide norms at random.
/// Values are packed least-significant bit first into a little-endian bit stream; a width of 0
/// stores nothing (all values 0: every tf = 1, or equal norms).
enum PostingBlocks {
    /// Postings per block.
    static let size = 128

    /// UInt32 fields of one block-table entry (``BlockEntry``).
    static let entryWords = 6

    /// Bytes of zero padding after the postings so a decoder may always load 8 bytes.
    static let tailPadding = 8

    /// Bits needed to store `value` (0 for 0).
    @inline(__always)
    static func bitWidth(_ value: UInt32) -> Int { 32 - value.leadingZeroBitCount }

    /// Bytes taken by `count` values of `bits` bits.
    @inline(__always)
    static func packedBytes(count: Int, bits: Int) -> Int { (count &* bits &+ 7) >> 3 }

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

    /// Value `i` of a bit-packed array of `bits`-bit values (`mask` = 2^bits − 1). Reads 8
    /// bytes, which the postings' tail padding makes safe.
    @inline(__always)
    static func extract(_ base: UnsafePointer<UInt8>, _ i: Int, bits: Int, mask: UInt64) -> UInt32
    {
        let bit = i &* bits
        let word = UInt64(
            littleEndian: UnsafeRawPointer(base).loadUnaligned(
                fromByteOffset: bit >> 3, as: UInt64.self))
        return UInt32(truncatingIfNeeded: (word >> UInt64(bit & 7)) & mask)
    }
}

/// One decoded block header: where its three arrays are and how wide their values are.
struct BlockLayout {
    let count: Int
    /// The first document the block may hold (its offsets are relative to it).
    let base: UInt32
    let docs: UnsafePointer<UInt8>
    let tfs: UnsafePointer<UInt8>
    let norms: UnsafePointer<UInt8>
    let docBits: Int
    let tfBits: Int
    let normBits: Int
    let docMask: UInt64
    let tfMask: UInt64
    let normMask: UInt64
    let minNorm: UInt32

    /// Block `block` of the term whose postings start at `data` and whose first block is
    /// `firstBlock`; `count` postings.
    @inline(__always)
    init(
        entries: UnsafePointer<UInt32>, block: Int, firstBlock: Int, count: Int,
        data: UnsafePointer<UInt8>
    ) {
        let entry = entries + PostingBlocks.entryWords &* block
        self.count = count
        base = block == firstBlock ? 0 : (entry - PostingBlocks.entryWords)[0] &+ 1
        let packed = entry[4]
        minNorm = (packed >> 8) & 0xFF
        docBits = Int((packed >> 16) & 0xFF)
        tfBits = Int(packed >> 24)
        normBits = Int(entry[5] & 0xFF)
        docMask = (1 << UInt64(docBits)) &- 1
        tfMask = (1 << UInt64(tfBits)) &- 1
        normMask = (1 << UInt64(normBits)) &- 1
        docs = data + Int(entry[1])
        tfs = docs + PostingBlocks.packedBytes(count: count, bits: docBits)
        norms = tfs + PostingBlocks.packedBytes(count: count, bits: tfBits)
    }

    /// The block as the C decoder (`inpars_decode_block`) takes it.
    @inline(__always)
    var packed: inpars_posting_block {
        inpars_posting_block(
            docs: docs, tfs: tfs, norms: norms, count: UInt32(count), base: base,
            min_norm: minNorm, doc_bits: UInt32(docBits), tf_bits: UInt32(tfBits),
            norm_bits: UInt32(normBits))
    }

    @inline(__always)
    func doc(_ i: Int) -> UInt32 {
        base &+ PostingBlocks.extract(docs, i, bits: docBits, mask: docMask)
    }

    @inline(__always)
    func tf(_ i: Int) -> UInt32 { PostingBlocks.extract(tfs, i, bits: tfBits, mask: tfMask) &+ 1 }

    @inline(__always)
    func norm(_ i: Int) -> Int {
        Int(minNorm &+ PostingBlocks.extract(norms, i, bits: normBits, mask: normMask))
    }

    /// The first position at or after `from` whose document is ≥ `target` (which must be at
    /// most the block's last document). Offsets in a block are close to evenly spread, so
    /// the search starts where linear interpolation between `from` and the block's last
    /// posting puts `target` and walks from there (usually a step or two; on the MS MARCO-like
    /// benchmark's common-word queries 3–6 % faster than a branch-free binary search).
    @inline(__always)
    func position(of target: UInt32, from: Int) -> Int {
        let offset = target &- base
        let last = count &- 1
        if from >= last { return last }
        let low = PostingBlocks.extract(docs, from, bits: docBits, mask: docMask)
        if low >= offset { return from }
        let high = PostingBlocks.extract(docs, last, bits: docBits, mask: docMask)
        // low < offset ≤ high, so the span is positive and the guess lies in from + 1 ... last.
        var p = from &+ 1 &+ Int(
            UInt64(offset &- low &- 1) &* UInt64(last &- from &- 1) / UInt64(high &- low))
        while p > from &+ 1
            && PostingBlocks.extract(docs, p &- 1, bits: docBits, mask: docMask) >= offset
        {
            p &-= 1
        }
        while PostingBlocks.extract(docs, p, bits: docBits, mask: docMask) < offset { p &+= 1 }
        return p
    }
}

/// One entry of the block table (six little-endian UInt32 words in the file).
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
    var normBits: UInt8

    var words: [UInt32] {
        [
            lastDocument, dataOffset, bestTf, maxTf,
            UInt32(bestNorm) | UInt32(minNorm) << 8 | UInt32(docBits) << 16
                | UInt32(tfBits) << 24,
            UInt32(normBits),
        ]
    }
}
