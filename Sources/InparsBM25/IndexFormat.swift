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
/// | section count | UInt32, then 4 bytes padding |
/// | per section: offset, length (UInt64 each), CRC-32, padding (UInt32 each) | 24 bytes |
/// | CRC-32 of all header bytes before it | UInt32, then padding to 8 bytes |
///
/// Sections (``Section``): one-byte SmallFloat norms per document; document-id offsets
/// (UInt64 × (documents + 1)) and UTF-8 bytes; each document's rank in byte-wise sorted id
/// order (UInt32, for tie-breaking); term offsets (UInt64 × (terms + 1)) and UTF-8 bytes,
/// terms sorted byte-wise (binary search); postings offsets (UInt64 × (terms + 1)); document
/// frequencies (UInt32 × terms); postings bytes.
///
/// A posting list is a sequence of (document, tf) pairs in increasing document order, each
/// written as the LEB128 varint of `(docDelta << 1) | (tf == 1 ? 1 : 0)`, followed by the varint
/// of `tf` when `tf > 1`; `docDelta` is the difference to the previous document number (the
/// first is `document + 1`).
enum IndexFormat {
    static let magic: [UInt8] = Array("INPBM25".utf8) + [0]
    /// Bump whenever the layout or the analysis changes.
    static let version: UInt32 = 1
    static let fileName = "index.bin"
    static let metaFileName = "meta.json"

    enum Section: Int, CaseIterable {
        case norms = 0
        case docIdOffsets
        case docIdBytes
        case docIdRanks
        case termOffsets
        case termBytes
        case postingsOffsets
        case docFreqs
        case postings
    }

    static let sectionCount = Section.allCases.count
    static let sectionTableOffset = 56
    static var headerCRCOffset: Int { sectionTableOffset + 24 * sectionCount }
    static var headerSize: Int { (headerCRCOffset + 4 + 7) & ~7 }
}
