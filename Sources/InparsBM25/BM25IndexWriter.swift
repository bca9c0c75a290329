import Foundation
import InparsCore

/// Writes `index.bin` (``IndexFormat``) from a builder's in-memory data: sorts the terms and the
/// document ids, re-encodes each term's LEB128 postings into bit-packed blocks with their
/// bounds, and streams everything to disk. The header, which holds every section's offset,
/// length and CRC-32, is written last over a placeholder.
final class BM25IndexWriter {
    let norms: [UInt8]
    let docIdBytes: [UInt8]
    let docIdOffsets: [UInt64]
    let documentsWithTerms: Int
    let sumTotalTermFreq: Int
    let vocabulary: TermTable
    let docFreqs: [UInt32]

    private var sections = [(offset: Int, length: Int, crc: UInt32)](
        repeating: (0, 0, 0), count: IndexFormat.sectionCount)

    init(
        norms: [UInt8], docIdBytes: [UInt8], docIdOffsets: [UInt64], documentsWithTerms: Int,
        sumTotalTermFreq: Int, vocabulary: TermTable, docFreqs: [UInt32]
    ) {
        self.norms = norms
        self.docIdBytes = docIdBytes
        self.docIdOffsets = docIdOffsets
        self.documentsWithTerms = documentsWithTerms
        self.sumTotalTermFreq = sumTotalTermFreq
        self.vocabulary = vocabulary
        self.docFreqs = docFreqs
    }

    /// Writes the index file; each term's entry of `postings` is emptied once encoded.
    /// - Returns: the file size in bytes.
    func write(to url: URL, takingPostings postings: inout [[UInt8]]) throws -> Int {
        let ranks = try documentIdRanks()
        let order = vocabulary.idsInByteOrder()
        let output = try SectionOutput(url: url)
        try output.write(bytes: [UInt8](repeating: 0, count: IndexFormat.headerSize))

        try section(.norms, output) { try norms.withUnsafeBytes(output.write(raw:)) }
        try section(.docIdOffsets, output) { try docIdOffsets.withUnsafeBytes(output.write(raw:)) }
        try section(.docIdBytes, output) { try docIdBytes.withUnsafeBytes(output.write(raw:)) }
        try section(.docIdRanks, output) { try ranks.withUnsafeBytes(output.write(raw:)) }
        var termOffsets: [UInt64] = [0]
        termOffsets.reserveCapacity(order.count + 1)
        try section(.termBytes, output) {
            var total = 0
            for t in order {
                try vocabulary.withBytes(Int(t)) { bytes in
                    try output.write(raw: UnsafeRawBufferPointer(bytes))
                    total += bytes.count
                }
                termOffsets.append(UInt64(total))
            }
        }
        try section(.termOffsets, output) { try termOffsets.withUnsafeBytes(output.write(raw:)) }
        termOffsets = []
        let sortedFreqs = order.map { docFreqs[Int($0)] }
        try section(.docFreqs, output) { try sortedFreqs.withUnsafeBytes(output.write(raw:)) }

        var encoder = BlockEncoder(norms: norms, avgdl: averageLength)
        var postingsOffsets: [UInt64] = [0]
        postingsOffsets.reserveCapacity(order.count + 1)
        var termBlocks: [UInt64] = [0]
        termBlocks.reserveCapacity(order.count + 1)
        var termBounds: [UInt32] = []
        termBounds.reserveCapacity(3 * order.count)
        var blocks: [UInt32] = []
        let documents = norms.count
        let rangeCount = IndexFormat.rangeCount(documents: documents)
        var denseTerms: [UInt32] = []
        var rangeBounds: [UInt8] = []
        try section(.postings, output) {
            var written = 0
            var bytes: [UInt8] = []
            for (n, t) in order.enumerated() {
                bytes.removeAll(keepingCapacity: true)
                let bound = try encoder.encode(
                    postings[Int(t)], count: Int(docFreqs[Int(t)]), into: &bytes, blocks: &blocks)
                postings[Int(t)] = []
                let frequency = Int(docFreqs[Int(t)])
                if IndexFormat.isDense(documentFrequency: frequency, documents: documents) {
                    denseTerms.append(UInt32(n))
                    encoder.appendRangeBounds(
                        count: frequency, best: bound, rangeCount: rangeCount, to: &rangeBounds)
                }
                try bytes.withUnsafeBytes(output.write(raw:))
                written += bytes.count
                postingsOffsets.append(UInt64(written))
                termBlocks.append(UInt64(blocks.count / PostingBlocks.entryWords))
                termBounds.append(bound.bestTf)
                termBounds.append(bound.maxTf)
                termBounds.append(UInt32(bound.bestNorm) | UInt32(bound.minNorm) << 8)
            }
            try output.write(bytes: [UInt8](repeating: 0, count: PostingBlocks.tailPadding))
        }
        try section(.postingsOffsets, output) {
            try postingsOffsets.withUnsafeBytes(output.write(raw:))
        }
        try section(.termBlocks, output) { try termBlocks.withUnsafeBytes(output.write(raw:)) }
        try section(.termBounds, output) { try termBounds.withUnsafeBytes(output.write(raw:)) }
        try section(.blocks, output) { try blocks.withUnsafeBytes(output.write(raw:)) }
        blocks = []
        try section(.denseTerms, output) { try denseTerms.withUnsafeBytes(output.write(raw:)) }
        try section(.rangeBounds, output) { try rangeBounds.withUnsafeBytes(output.write(raw:)) }
        let size = output.offset
        try output.close()
        try patchHeader(url, termCount: order.count)
        return size
    }

    /// `avgdl` exactly as the searcher computes it.
    private var averageLength: Float {
        documentsWithTerms > 0 ? Float(Double(sumTotalTermFreq) / Double(documentsWithTerms)) : 1
    }

    /// Writes one section at the next 8-byte boundary and records its offset, length and CRC.
    private func section(
        _ which: IndexFormat.Section, _ output: SectionOutput, _ body: () throws -> Void
    ) throws {
        try output.pad()
        let start = output.offset
        output.crc = 0
        try body()
        sections[which.rawValue] = (start, output.offset - start, output.crc)
    }

    /// Each document's rank in byte-wise id order; throws on a repeated id.
    private func documentIdRanks() throws -> [UInt32] {
        let count = norms.count
        var order = (0..<UInt32(count)).map { $0 }
        var duplicate: (UInt32, UInt32)?
        docIdBytes.withUnsafeBufferPointer { bytes in
            docIdOffsets.withUnsafeBufferPointer { offsets in
                func id(_ d: UInt32) -> UnsafeBufferPointer<UInt8> {
                    UnsafeBufferPointer(
                        rebasing: bytes[Int(offsets[Int(d)])..<Int(offsets[Int(d) + 1])])
                }
                order.sort { compareBytes(id($0), id($1)) < 0 }
                for i in order.indices.dropFirst() where compareBytes(id(order[i - 1]), id(order[i])) == 0 {
                    duplicate = (min(order[i - 1], order[i]), max(order[i - 1], order[i]))
                    break
                }
            }
        }
        if let (first, second) = duplicate {
            let from = Int(docIdOffsets[Int(first)])
            let to = Int(docIdOffsets[Int(first) + 1])
            throw BM25Error.duplicateDocumentId(
                id: String(decoding: docIdBytes[from..<to], as: UTF8.self), first: Int(first),
                second: Int(second))
        }
        var ranks = [UInt32](repeating: 0, count: count)
        for (rank, doc) in order.enumerated() { ranks[Int(doc)] = UInt32(rank) }
        return ranks
    }

    private func patchHeader(_ url: URL, termCount: Int) throws {
        var header = [UInt8](repeating: 0, count: IndexFormat.headerSize)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { raw in
                for (n, byte) in raw.enumerated() { header[offset + n] = byte }
            }
        }
        for (n, byte) in IndexFormat.magic.enumerated() { header[n] = byte }
        put(IndexFormat.version, at: 8)
        put(UInt32(IndexFormat.headerSize), at: 12)
        put(UInt64(norms.count), at: 16)
        put(UInt64(documentsWithTerms), at: 24)
        put(UInt64(termCount), at: 32)
        put(UInt64(sumTotalTermFreq), at: 40)
        put(UInt32(IndexFormat.sectionCount), at: IndexFormat.sectionCountOffset)
        put(IndexFormat.boundB.bitPattern, at: IndexFormat.boundBOffset)
        for (n, section) in sections.enumerated() {
            let entry = IndexFormat.sectionTableOffset + 24 * n
            put(UInt64(section.offset), at: entry)
            put(UInt64(section.length), at: entry + 8)
            put(section.crc, at: entry + 16)
        }
        put(
            CRC32.checksum(Array(header[0..<IndexFormat.headerCRCOffset])),
            at: IndexFormat.headerCRCOffset)
        guard let handle = fopen(url.path, "r+b") else {
            throw InparsCoreError.cannotOpen(path: url.path, reason: String(cString: strerror(errno)))
        }
        let ok = header.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, handle) } == header.count
        if fclose(handle) != 0 || !ok {
            throw InparsCoreError.writeFailed(path: url.path, reason: "cannot write the header")
        }
    }
}

/// An ``OutputFile`` that counts bytes and keeps a running CRC-32 of what it wrote.
private final class SectionOutput {
    let file: OutputFile
    var offset = 0
    var crc: UInt32 = 0

    init(url: URL) throws { file = try OutputFile(url: url, compressed: false) }

    func write(raw: UnsafeRawBufferPointer) throws {
        guard raw.count > 0 else { return }
        crc = CRC32.checksum(raw, initial: crc)
        try file.write(raw: raw)
        offset += raw.count
    }

    func write(bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write(raw: $0) } }

    /// Zero bytes up to the next multiple of 8 (not part of any section's CRC).
    func pad() throws {
        let aligned = (offset + 7) & ~7
        if aligned > offset {
            try file.write(bytes: [UInt8](repeating: 0, count: aligned - offset))
            offset = aligned
        }
    }

    func close() throws { try file.close() }
}

/// Re-encodes one term's in-memory LEB128 postings into ``PostingBlocks`` and their entries.
struct BlockEncoder {
    let norms: [UInt8]
    /// ``IndexFormat/unitImpact(norm:avgdl:)`` per norm byte: a posting's score increases
    /// with `tf` times this, whatever k1 and idf.
    private let ratio: [Double]
    private var docs: [UInt32] = []
    private var tfs: [UInt32] = []
    private var values = [UInt32](repeating: 0, count: 3 * PostingBlocks.size)

    init(norms: [UInt8], avgdl: Float) {
        self.norms = norms
        ratio = (0..<256).map { IndexFormat.unitImpact(norm: UInt8($0), avgdl: avgdl) }
    }

    /// Appends the range bounds (``IndexFormat``, `rangeBounds`) of the list last encoded,
    /// of `count` postings with list bound `best`: `rangeCount` bytes.
    mutating func appendRangeBounds(
        count: Int, best: BlockEntry, rangeCount: Int, to output: inout [UInt8]
    ) {
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: rangeCount))
        let top = Double(best.bestTf) * ratio[Int(best.bestNorm)]
        var i = 0
        while i < count {
            // The largest impact among the postings of one range, then its byte.
            let range = Int(docs[i]) >> IndexFormat.rangeShift
            var largest = 0.0
            repeat {
                largest = max(largest, Double(tfs[i]) * ratio[Int(norms[Int(docs[i])])])
                i += 1
            } while i < count && Int(docs[i]) >> IndexFormat.rangeShift == range
            output[start + range] = IndexFormat.rangeByte(impact: largest, best: top)
        }
    }

    /// Appends the blocks of one posting list to `bytes` and their entries to `blocks`.
    /// - Returns: the bound of the whole list.
    mutating func encode(
        _ encoded: [UInt8], count: Int, into bytes: inout [UInt8], blocks: inout [UInt32]
    ) throws -> BlockEntry {
        decode(encoded, count: count)
        var whole = BlockEntry(
            lastDocument: 0, dataOffset: 0, bestTf: 0, maxTf: 0, bestNorm: 0, minNorm: 255,
            docBits: 0, tfBits: 0, normBits: 0)
        var base: UInt32 = 0
        var start = 0
        while start < count {
            let n = min(PostingBlocks.size, count - start)
            guard bytes.count <= Int(UInt32.max) else {
                throw BM25Error.invalidParameter(
                    name: "posting list", value: "\(count) postings",
                    reason: "a single term's postings exceed 4 GiB")
            }
            let last = docs[start + n - 1]
            var entry = BlockEntry(
                lastDocument: last, dataOffset: UInt32(bytes.count), bestTf: 0, maxTf: 0,
                bestNorm: 0, minNorm: 255, docBits: UInt8(PostingBlocks.bitWidth(last - base)),
                tfBits: 0, normBits: 0)
            var maxNorm: UInt8 = 0
            var best = -1.0
            for i in 0..<n {
                let doc = docs[start + i]
                let tf = tfs[start + i]
                let norm = norms[Int(doc)]
                values[i] = doc - base
                values[PostingBlocks.size + i] = tf - 1
                let key = Double(tf) * ratio[Int(norm)]
                if key > best {
                    best = key
                    entry.bestTf = tf
                    entry.bestNorm = norm
                }
                entry.maxTf = max(entry.maxTf, tf)
                entry.minNorm = min(entry.minNorm, norm)
                maxNorm = max(maxNorm, norm)
            }
            for i in 0..<n {
                values[2 * PostingBlocks.size + i] = UInt32(norms[Int(docs[start + i])] - entry.minNorm)
            }
            entry.tfBits = UInt8(PostingBlocks.bitWidth(entry.maxTf - 1))
            entry.normBits = UInt8(PostingBlocks.bitWidth(UInt32(maxNorm - entry.minNorm)))
            values.withUnsafeBufferPointer { v in
                let v = v.baseAddress!
                PostingBlocks.pack(v, count: n, bits: Int(entry.docBits), into: &bytes)
                PostingBlocks.pack(
                    v + PostingBlocks.size, count: n, bits: Int(entry.tfBits), into: &bytes)
                PostingBlocks.pack(
                    v + 2 * PostingBlocks.size, count: n, bits: Int(entry.normBits), into: &bytes)
            }
            blocks.append(contentsOf: entry.words)
            if Double(entry.bestTf) * ratio[Int(entry.bestNorm)]
                > Double(whole.bestTf) * ratio[Int(whole.bestNorm)]
            {
                whole.bestTf = entry.bestTf
                whole.bestNorm = entry.bestNorm
            }
            whole.maxTf = max(whole.maxTf, entry.maxTf)
            whole.minNorm = min(whole.minNorm, entry.minNorm)
            base = last &+ 1
            start += n
        }
        return whole
    }

    /// Decodes the builder's `(gap << 1 | tf == 1)` [, tf] varints into `docs` and `tfs`.
    private mutating func decode(_ encoded: [UInt8], count: Int) {
        if docs.count < count {
            docs = [UInt32](repeating: 0, count: count)
            tfs = [UInt32](repeating: 0, count: count)
        }
        var p = 0
        var doc: Int64 = -1
        for i in 0..<count {
            let value = readVarint(encoded, &p)
            doc += Int64(value >> 1)
            docs[i] = UInt32(doc)
            tfs[i] = value & 1 == 1 ? 1 : UInt32(readVarint(encoded, &p))
        }
    }
}

@inline(__always)
func readVarint(_ bytes: [UInt8], _ p: inout Int) -> UInt64 {
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while true {
        let byte = bytes[p]
        p += 1
        value |= UInt64(byte & 0x7F) << shift
        if byte < 0x80 { return value }
        shift += 7
    }
}
