internal import CKernels

/// The on-disk layout of an inpars BM25 index (`<dir>/index.bin`, plus a human-readable
/// `<dir>/meta.json` that the reader does not need).
///
/// All integers are little-endian. The file is one header followed by sections, each starting
/// on an 8-byte boundary so it can be used in place from a memory map:
///
/// | header field | type |
/// |---|---|
/// | magic `INPBM25\0` | 8 bytes |
/// | format version (``version``) | UInt32 |
/// | header size in bytes | UInt32 |
/// | documents (all, including empty ones) | UInt64 |
/// | documents with at least one term (Lucene's `docCount`, BM25's N) | UInt64 |
/// | terms | UInt64 |
/// | total term occurrences (Lucene's `sumTotalTermFreq`) | UInt64 |
/// | section count | UInt32 |
/// | ``boundB``: the BM25 `b` for which the block table names each block's best posting | Float32 |
/// | per section: offset, length (UInt64 each), CRC-32, padding (UInt32 each) | 24 bytes |
/// | CRC-32 of all header bytes before it | UInt32, then padding to 8 bytes |
///
/// Sections (``Section``, in table order; their order in the file may differ):
/// - norms: one SmallFloat byte per document;
/// - docIdOffsets (UInt64 × (documents + 1)) and docIdBytes (UTF-8);
/// - docIdRanks: each document's rank in byte-wise sorted id order (UInt32, for tie-breaking);
/// - termOffsets (UInt64 × (terms + 1)) and termBytes: terms sorted byte-wise (binary search);
/// - docFreqs: UInt32 × terms;
/// - postingsOffsets: UInt64 × (terms + 1), each term's first byte in postings;
/// - termBlocks: UInt64 × (terms + 1), each term's first entry in blocks;
/// - termBounds: UInt32 × 3 × terms: over the whole list, the best posting's tf, the largest
///   tf, and `bestNorm | minNorm << 8` (as in a block entry);
/// - blocks: UInt32 × 6 per block (``BlockEntry``): last document, data offset within the
///   term's postings, best tf, largest tf, `bestNorm | minNorm << 8 | docBits << 16 |
///   tfBits << 24`, `normBits`;
/// - postings: the bit-packed blocks (``PostingBlocks``), then 8 zero bytes;
/// - denseTerms: UInt32 × D, ascending: the terms in at least one document in
///   ``rangeBoundDensity`` (those a windowed search can meet), which have range bounds;
/// - rangeBounds: D × ``rangeCount(documents:)`` bytes: per dense term (in `denseTerms`
///   order) and aligned range of ``rangeSize`` documents, the best posting there as a byte
///   `q` (0: no posting; else `q` / 255 of the term's best impact, `tf` ×
///   ``unitImpact(norm:avgdl:)``, rounded up: every posting of the range has at most that
///   impact, ``rangeByte(impact:best:)``).
///
/// The block bounds make pruned search exact for any k1: a term's score is increasing in
/// `tf / ((1 − b) + b · length / avgdl)` whatever k1, idf and the query boost, so the posting
/// maximising that ratio for ``boundB`` has the block's largest score when the query's `b` is
/// ``boundB``; for another `b`, `(largest tf, smallest norm)` still bounds every posting.
enum IndexFormat {
    static let magic: [UInt8] = Array("INPBM25".utf8) + [0]
    /// Bump whenever the layout or the analysis changes. Version 2: blocked, bit-packed
    /// postings with per-block bounds and inline norms (version 1 had one LEB128 stream per
    /// term). Version 3: range bounds for dense terms, per 64 documents. Version 4: per 16.
    static let version: UInt32 = 4
    static let fileName = "index.bin"
    static let metaFileName = "meta.json"
    /// The `b` the block table's best postings are chosen for: Anserini's default.
    static let boundB: Float = 0.4

    enum Section: Int, CaseIterable {
        case norms = 0
        case docIdOffsets
        case docIdBytes
        case docIdRanks
        case termOffsets
        case termBytes
        case docFreqs
        case postingsOffsets
        case termBlocks
        case termBounds
        case blocks
        case postings
        case denseTerms
        case rangeBounds
    }

    /// Documents per range bound, as a shift (aligned: range `r` is documents
    /// `16r ..< 16r + 16`; the C kernels read the same constant). On the common-word queries
    /// of the MS MARCO-like benchmark at 8.8M passages, ranges of 16 documents answer top-10
    /// 30–34 % faster than 64 (and 32 in between), for 22 % more index (session 14).
    static let rangeShift = Int(INPARS_RANGE_SHIFT)
    static let rangeSize = 1 << rangeShift
    /// Terms in at least one document in this many get range bounds (and only queries whose
    /// terms all do run the windowed search by default).
    static let rangeBoundDensity = 256

    /// Range bounds per dense term.
    static func rangeCount(documents: Int) -> Int { (documents + rangeSize - 1) >> rangeShift }

    /// Whether a term with `documentFrequency` gets range bounds in an index of `documents`.
    static func isDense(documentFrequency: Int, documents: Int) -> Bool {
        documentFrequency > 0 && documentFrequency * rangeBoundDensity >= documents
    }

    /// `1 / ((1 − b) + b · length / avgdl)` for ``boundB``, in double: a posting's score
    /// increases with its *impact* `tf` times this, whatever k1, idf and boost (the score is
    /// `w − w / (1 + impact / k1)`). The writer and the searcher compute range bounds from
    /// the same doubles.
    @inline(__always)
    static func unitImpact(norm: UInt8, avgdl: Float) -> Double {
        let b = Double(boundB)
        return 1 / ((1 - b) + b * Double(SmallFloat.byte4ToInt(norm)) / Double(avgdl))
    }

    /// The impact bound that range byte `q` (1 … 255) stands for, given the term's best
    /// impact `best`.
    @inline(__always)
    static func rangeImpact(_ q: UInt8, best: Double) -> Double { best * Double(q) / 255 }

    /// The smallest range byte whose ``rangeImpact(_:best:)`` is at least `impact` (255 at
    /// most; `impact` is at most `best` up to rounding).
    static func rangeByte(impact: Double, best: Double) -> UInt8 {
        var q = min(255, max(1, Int((impact / best * 255).rounded(.up))))
        while q > 1 && rangeImpact(UInt8(q - 1), best: best) >= impact { q -= 1 }
        while q < 255 && rangeImpact(UInt8(q), best: best) < impact { q += 1 }
        return UInt8(q)
    }

    static let sectionCount = Section.allCases.count
    static let sectionCountOffset = 48
    static let boundBOffset = 52
    static let sectionTableOffset = 56
    static var headerCRCOffset: Int { sectionTableOffset + 24 * sectionCount }
    static var headerSize: Int { (headerCRCOffset + 4 + 7) & ~7 }
}
