import Foundation
import InparsCore

/// A BM25 index opened from disk (memory-mapped, read-only, shareable across threads).
///
/// Open with ``open(_:verifyChecksums:)``; search with a ``BM25Searcher`` (one per thread, it
/// owns the score accumulators), or with the convenience ``search(_:k:parameters:)``.
public final class BM25Index: @unchecked Sendable {
    // Invariant: every stored property is immutable after init, and the buffers point into a
    // read-only memory map owned by `file`, which lives as long as the index.
    /// The index directory.
    public let url: URL
    /// Documents in the index (including empty ones).
    public let documentCount: Int
    /// Documents with at least one term: BM25's N (Lucene `docCount`).
    public let documentsWithTerms: Int
    /// Distinct terms.
    public let termCount: Int
    /// Total term occurrences (Lucene `sumTotalTermFreq`).
    public let sumTotalTermFreq: Int
    /// BM25's avgdl, `Float(Double(sumTotalTermFreq) / N)` (1 when no document has a term).
    public var averageLength: Float {
        documentsWithTerms > 0 ? Float(Double(sumTotalTermFreq) / Double(documentsWithTerms)) : 1
    }

    let file: MappedFile
    let norms: UnsafeBufferPointer<UInt8>
    let docIdOffsets: UnsafeBufferPointer<UInt64>
    let docIdBytes: UnsafeBufferPointer<UInt8>
    let docIdRanks: UnsafeBufferPointer<UInt32>
    let termOffsets: UnsafeBufferPointer<UInt64>
    let termBytes: UnsafeBufferPointer<UInt8>
    let docFreqs: UnsafeBufferPointer<UInt32>
    let postingsOffsets: UnsafeBufferPointer<UInt64>
    /// First block-table entry of each term (terms + 1 entries).
    let termBlocks: UnsafeBufferPointer<UInt64>
    /// Per term: best tf, largest tf, `bestNorm | minNorm << 8` over the whole list.
    let termBounds: UnsafeBufferPointer<UInt32>
    /// ``PostingBlocks/entryWords`` UInt32 per block (``BlockEntry``).
    let blocks: UnsafeBufferPointer<UInt32>
    /// The bit-packed blocks, followed by ``PostingBlocks/tailPadding`` zero bytes.
    let postings: UnsafeBufferPointer<UInt8>
    /// The terms with range bounds (ascending) and their bounds, ``IndexFormat/rangeCount(documents:)``
    /// bytes per term (``IndexFormat``).
    let denseTerms: UnsafeBufferPointer<UInt32>
    let rangeBounds: UnsafeBufferPointer<UInt8>
    /// The `b` the blocks' best postings were chosen for (``IndexFormat/boundB``).
    let boundB: Float
    /// Inverse of `docIdRanks`: the document whose id has a given byte-wise rank.
    let rankToDocument: [Int32]

    /// What `inpars index` may replace: a folder holding only `index.bin` (starting with the
    /// index magic) and `meta.json`, as ``BM25IndexBuilder`` writes it.
    public static let outputKind = OutputKind.directory(
        "a BM25 index folder", entries: [IndexFormat.fileName, IndexFormat.metaFileName]
    ) { folder in
        let url = folder.appendingPathComponent(IndexFormat.fileName)
        guard let handle = try? FileHandle(forReadingFrom: url) else { return true }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: IndexFormat.magic.count)) ?? Data()
        return Array(head) == IndexFormat.magic
    }

    /// The identity of the index folder `directory` in a manifest (``InputIdentity``), without
    /// reading the index: `index.bin` is named by the SHA-256 of its header, every other file
    /// (`meta.json`) as any folder's file is (``InputIdentity/of(folder:scheme:digest:)``).
    ///
    /// Why the header is a sound identity of the file: it holds the counts (documents, terms,
    /// tokens), the format version, and each section's offset, length and CRC-32, and
    /// ``open(_:verifyChecksums:)`` checks every section against its CRC-32 (and the header
    /// against its own) before anything is searched. So an index rebuilt from other documents
    /// or with another analysis keeps its header only if every section that changed kept its
    /// length and its CRC-32 by chance (about 2⁻³² for each, independently), and its counts
    /// too; the header is 400 bytes whatever the index's size (1.77 GB for 8.8M passages).
    /// The sampled fingerprint of other folders (first and last MiB of each file) relies on
    /// the same header for everything between, and reads 2 MiB to do so.
    ///
    /// A file that is not a current-version index with a well-formed header (which
    /// ``open(_:verifyChecksums:)`` would refuse anyway) is sampled like any other file. The
    /// scheme, `sha256-bm25-header`, keeps these identities apart from other folders'.
    ///
    /// - Throws: ``InparsCore/InparsCoreError/fileNotFound(path:)`` or `readFailed`.
    public static func identity(of directory: URL) throws -> InputIdentity {
        try InputIdentity.of(folder: directory, scheme: "sha256-bm25-header") { name, file in
            name == IndexFormat.fileName ? try headerDigest(of: file) : nil
        }
    }

    /// `header:<SHA-256 of the header bytes>` for a current-version `index.bin` whose header
    /// passes its own CRC-32; `nil` for anything else.
    static func headerDigest(of file: URL) throws -> String? {
        let descriptor = Foundation.open(file.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw InparsCoreError.cannotOpen(path: file.path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var header = [UInt8](repeating: 0, count: IndexFormat.headerSize)
        let done = try header.withUnsafeMutableBytes {
            try FileBytes.read(descriptor, into: $0, at: 0, path: file.path)
        }
        if done < header.count { return nil }  // shorter than a header: not an index
        func read(_ offset: Int) -> UInt32 {
            header.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        }
        guard Array(header[0..<8]) == IndexFormat.magic, read(8) == IndexFormat.version,
            Int(read(12)) == IndexFormat.headerSize,
            Int(read(IndexFormat.sectionCountOffset)) == IndexFormat.sectionCount,
            CRC32.checksum(Array(header[0..<IndexFormat.headerCRCOffset]))
                == read(IndexFormat.headerCRCOffset)
        else { return nil }
        var digest = SHA256()
        header.withUnsafeBytes { digest.update($0) }
        return "header:" + digest.finalizeHex()
    }

    /// Opens the index in `directory`.
    ///
    /// - Parameter verifyChecksums: check every section's CRC-32 (reads the whole file once;
    ///   the header is always checked).
    /// - Throws: ``BM25Error/indexNotFound(path:)``, ``BM25Error/notAnIndex(path:)``,
    ///   ``BM25Error/unsupportedVersion(path:found:supported:)``, ``BM25Error/corrupted(path:detail:)``.
    public static func open(_ directory: URL, verifyChecksums: Bool = true) throws -> BM25Index {
        try BM25Index(directory: directory, verifyChecksums: verifyChecksums)
    }

    private init(directory: URL, verifyChecksums: Bool) throws {
        url = directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
            isDirectory.boolValue
        else { throw BM25Error.indexNotFound(path: directory.path) }
        let path = directory.appendingPathComponent(IndexFormat.fileName).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw BM25Error.indexNotFound(path: directory.path)
        }
        do {
            file = try MappedFile(path: path)
        } catch {
            switch error {
            case .notFound: throw BM25Error.indexNotFound(path: directory.path)
            case .notRegularFile:
                throw BM25Error.corrupted(path: path, detail: "not a regular file")
            case .system(let operation, let reason):
                throw BM25Error.corrupted(path: path, detail: "cannot \(operation): \(reason)")
            }
        }
        let raw = file.bytes
        guard raw.count >= 16, Array(raw[0..<8]) == IndexFormat.magic else {
            throw BM25Error.notAnIndex(path: path)
        }
        func read<T: FixedWidthInteger>(_ type: T.Type, _ offset: Int) -> T {
            T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        let version = read(UInt32.self, 8)
        guard version == IndexFormat.version else {
            throw BM25Error.unsupportedVersion(
                path: path, found: version, supported: IndexFormat.version)
        }
        guard raw.count >= IndexFormat.headerSize,
            Int(read(UInt32.self, 12)) == IndexFormat.headerSize,
            Int(read(UInt32.self, IndexFormat.sectionCountOffset)) == IndexFormat.sectionCount
        else { throw BM25Error.corrupted(path: path, detail: "truncated or malformed header") }
        let headerCRC = CRC32.checksum(
            UnsafeRawBufferPointer(rebasing: raw[0..<IndexFormat.headerCRCOffset]))
        guard headerCRC == read(UInt32.self, IndexFormat.headerCRCOffset) else {
            throw BM25Error.corrupted(path: path, detail: "header checksum mismatch")
        }
        documentCount = Int(read(UInt64.self, 16))
        documentsWithTerms = Int(read(UInt64.self, 24))
        termCount = Int(read(UInt64.self, 32))
        sumTotalTermFreq = Int(read(UInt64.self, 40))
        boundB = Float(bitPattern: read(UInt32.self, IndexFormat.boundBOffset))

        var sections: [UnsafeRawBufferPointer] = []
        for n in 0..<IndexFormat.sectionCount {
            let entry = IndexFormat.sectionTableOffset + 24 * n
            let offset = Int(read(UInt64.self, entry))
            let length = Int(read(UInt64.self, entry + 8))
            guard offset >= IndexFormat.headerSize, offset % 8 == 0, length >= 0,
                offset + length <= raw.count
            else {
                throw BM25Error.corrupted(
                    path: path, detail: "section \(n) lies outside the file (truncated?)")
            }
            let section = UnsafeRawBufferPointer(rebasing: raw[offset..<offset + length])
            if verifyChecksums && CRC32.checksum(section) != read(UInt32.self, entry + 16) {
                throw BM25Error.corrupted(path: path, detail: "checksum mismatch in section \(n)")
            }
            sections.append(section)
        }
        func typed<T>(_ section: IndexFormat.Section, _ type: T.Type, count: Int) throws
            -> UnsafeBufferPointer<T>
        {
            let raw = sections[section.rawValue]
            guard raw.count == count * MemoryLayout<T>.stride else {
                throw BM25Error.corrupted(
                    path: path, detail: "section \(section) has \(raw.count) bytes, expected"
                        + " \(count * MemoryLayout<T>.stride)")
            }
            if count == 0 { return UnsafeBufferPointer(start: nil, count: 0) }
            return raw.bindMemory(to: T.self)
        }
        norms = try typed(.norms, UInt8.self, count: documentCount)
        docIdOffsets = try typed(.docIdOffsets, UInt64.self, count: documentCount + 1)
        docIdBytes = sections[IndexFormat.Section.docIdBytes.rawValue].bindMemory(to: UInt8.self)
        docIdRanks = try typed(.docIdRanks, UInt32.self, count: documentCount)
        termOffsets = try typed(.termOffsets, UInt64.self, count: termCount + 1)
        termBytes = sections[IndexFormat.Section.termBytes.rawValue].bindMemory(to: UInt8.self)
        docFreqs = try typed(.docFreqs, UInt32.self, count: termCount)
        postingsOffsets = try typed(.postingsOffsets, UInt64.self, count: termCount + 1)
        termBlocks = try typed(.termBlocks, UInt64.self, count: termCount + 1)
        termBounds = try typed(.termBounds, UInt32.self, count: 3 * termCount)
        let blockCount = Int(termBlocks[termCount])
        blocks = try typed(.blocks, UInt32.self, count: PostingBlocks.entryWords * blockCount)
        postings = sections[IndexFormat.Section.postings.rawValue].bindMemory(to: UInt8.self)
        let denseBytes = sections[IndexFormat.Section.denseTerms.rawValue].count
        guard denseBytes % 4 == 0 else {
            throw BM25Error.corrupted(path: path, detail: "section denseTerms has \(denseBytes) bytes")
        }
        denseTerms = try typed(.denseTerms, UInt32.self, count: denseBytes / 4)
        rangeBounds = try typed(
            .rangeBounds, UInt8.self,
            count: denseTerms.count * IndexFormat.rangeCount(documents: documentCount))
        for (n, term) in denseTerms.enumerated()
        where Int(term) >= termCount || (n > 0 && denseTerms[n - 1] >= term) || documentCount == 0 {
            throw BM25Error.corrupted(
                path: path, detail: "the dense term table does not match the terms and documents")
        }
        var inverse = [Int32](repeating: -1, count: documentCount)
        for doc in 0..<documentCount {
            let rank = Int(docIdRanks[doc])
            guard rank < documentCount, inverse[rank] < 0 else {
                throw BM25Error.corrupted(path: path, detail: "document id ranks are not a permutation")
            }
            inverse[rank] = Int32(doc)
        }
        rankToDocument = inverse
        guard Int(docIdOffsets[documentCount]) == docIdBytes.count,
            Int(termOffsets[termCount]) == termBytes.count,
            Int(postingsOffsets[termCount]) + PostingBlocks.tailPadding == postings.count
        else { throw BM25Error.corrupted(path: path, detail: "offset tables do not match") }
    }

    /// The corpus id of internal document number `document` (0-based, corpus order).
    public func documentId(_ document: Int) -> String {
        let from = Int(docIdOffsets[document])
        let to = Int(docIdOffsets[document + 1])
        return String(decoding: UnsafeBufferPointer(rebasing: docIdBytes[from..<to]), as: UTF8.self)
    }

    /// Calls `body` with the UTF-8 bytes of document `document`'s id (no `String` made).
    @inline(__always)
    func withDocumentId<R>(_ document: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows
        -> R
    {
        let from = Int(docIdOffsets[document])
        let to = Int(docIdOffsets[document + 1])
        return try body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(docIdBytes)[from..<to]))
    }

    /// The range bounds of term `term` (``IndexFormat/rangeCount(documents:)`` bytes), or nil
    /// when it has none (a term in fewer than one document in
    /// ``IndexFormat/rangeBoundDensity``).
    func rangeBounds(ofTerm term: Int) -> UnsafePointer<UInt8>? {
        var low = 0
        var high = denseTerms.count
        while low < high {
            let mid = (low + high) >> 1
            if Int(denseTerms[mid]) < term { low = mid + 1 } else { high = mid }
        }
        guard low < denseTerms.count, Int(denseTerms[low]) == term else { return nil }
        return rangeBounds.baseAddress! + low * IndexFormat.rangeCount(documents: documentCount)
    }

    /// The decoded (SmallFloat-rounded) length BM25 uses for `document`.
    public func documentLength(_ document: Int) -> Int { SmallFloat.byte4ToInt(norms[document]) }

    /// The term number of `term` (binary search over the sorted term table), or `nil`.
    func termNumber(_ term: UnsafeBufferPointer<UInt8>) -> Int? {
        var low = 0
        var high = termCount - 1
        while low <= high {
            let mid = (low + high) >> 1
            let from = Int(termOffsets[mid])
            let to = Int(termOffsets[mid + 1])
            let order = compareBytes(
                UnsafeBufferPointer(rebasing: termBytes[from..<to]), term)
            if order == 0 { return mid }
            if order < 0 { low = mid + 1 } else { high = mid - 1 }
        }
        return nil
    }

    /// The document frequency of an analysed term (0 when absent).
    public func documentFrequency(ofTerm term: String) -> Int {
        var copy = term
        return copy.withUTF8 { termNumber($0).map { Int(docFreqs[$0]) } ?? 0 }
    }

    /// Searches one query: the simple API for callers that search now and then (the triples
    /// stage). Thread-safe; reuses pooled search buffers, so repeated calls do not
    /// reallocate. Hits are ranked by score descending, then
    /// document id ascending.
    public func search(_ text: String, k: Int, parameters: BM25Parameters = BM25Parameters())
        -> [(docId: String, score: Float)]
    {
        let buffers = bufferPool.take() ?? SearchBuffers(count: documentCount)
        defer { bufferPool.give(buffers) }
        let searcher = BM25Searcher(
            index: self, parameters: parameters, strategy: .automatic, buffers: buffers)
        return searcher.search(text, k: k).map { (documentId(Int($0.document)), $0.score) }
    }

    private let bufferPool = SearchBufferPool()
}

/// Idle search buffers of one index, for ``BM25Index/search(_:k:parameters:)``. Buffers hold
/// no reference to the index, so pooling them creates no retain cycle.
final class SearchBufferPool: @unchecked Sendable {
    // Invariant: `idle` is only touched with `lock` held; buffers taken from the pool are used
    // by one thread until given back (with all accumulators zero again).
    private let lock = NSLock()
    private var idle: [SearchBuffers] = []

    func take() -> SearchBuffers? {
        lock.lock()
        defer { lock.unlock() }
        return idle.popLast()
    }

    func give(_ buffers: SearchBuffers) {
        lock.lock()
        defer { lock.unlock() }
        if idle.count < 8 { idle.append(buffers) }
    }
}

@inline(__always)
func compareBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}
