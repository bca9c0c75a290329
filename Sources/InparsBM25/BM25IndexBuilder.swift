import Foundation
import InparsCore

/// Builds an on-disk BM25 index from documents (see ``IndexFormat`` for the layout).
///
/// Documents are analysed with ``EnglishAnalyzer`` on ``Document/flatContents``
/// (`title + "\n" + text`). Analysis runs on `threads` threads in batches; postings are merged
/// in corpus order, so the index is identical for any thread count.
///
/// Memory: postings are kept compressed (about 2–3 bytes per posting) plus one id string per
/// document and one entry per distinct term; the budget is roughly
/// `1.5 × (index size) + 100 bytes × documents`, e.g. ~1 GB for 1M passages of ~60 words.
public final class BM25IndexBuilder {
    private let threads: Int
    private let batchSize: Int
    private var batch: [Document] = []
    private var workers: [AnalysisWorker]

    private var docIds: [String] = []
    private var norms: [UInt8] = []
    private var documentsWithTerms = 0
    private var sumTotalTermFreq = 0
    private var globalIds: [String: Int32] = [:]
    private var terms: [String] = []
    private var postings: [[UInt8]] = []
    private var lastDoc: [Int32] = []
    private var docFreqs: [UInt32] = []
    private var localToGlobal: [[Int32]]

    /// - Parameter threads: analysis threads (≥ 1).
    public init(threads: Int = 1, batchSize: Int = 4096) {
        let threads = min(max(1, threads), Limits.threads)
        self.threads = threads
        self.batchSize = max(1, batchSize)
        workers = (0..<max(1, threads)).map { _ in AnalysisWorker() }
        localToGlobal = Array(repeating: [], count: max(1, threads))
        batch.reserveCapacity(batchSize)
    }

    /// Documents added so far.
    public var documentCount: Int { docIds.count + batch.count }

    /// Adds one document (analysed when the current batch is full).
    public func add(_ document: Document) {
        batch.append(document)
        if batch.count >= batchSize { flushBatch() }
    }

    private func flushBatch() {
        guard !batch.isEmpty else { return }
        let documents = batch
        let workerCount = min(threads, documents.count)
        let per = (documents.count + workerCount - 1) / workerCount
        let workers = self.workers
        if workerCount == 1 {
            workers[0].process(documents[...])
        } else {
            DispatchQueue.concurrentPerform(iterations: workerCount) { w in
                let from = w * per
                let to = min(documents.count, from + per)
                workers[w].process(documents[from..<max(from, to)])
            }
        }
        // Work on locals: stored properties of a class would pay an exclusivity check per access.
        var postings = self.postings
        var lastDoc = self.lastDoc
        var docFreqs = self.docFreqs
        var norms = self.norms
        var docIds = self.docIds
        self.postings = []
        self.lastDoc = []
        self.docFreqs = []
        self.norms = []
        self.docIds = []
        var index = 0
        for w in 0..<workerCount {
            let worker = workers[w]
            // Map the worker's new local term ids to global ids.
            var mapping = localToGlobal[w]
            localToGlobal[w] = []
            while mapping.count < worker.termCount {
                let term = worker.term(mapping.count)
                let global: Int32
                if let existing = globalIds[term] {
                    global = existing
                } else {
                    global = Int32(terms.count)
                    globalIds[term] = global
                    terms.append(term)
                    postings.append([])
                    lastDoc.append(-1)
                    docFreqs.append(0)
                }
                mapping.append(global)
            }
            localToGlobal[w] = mapping
            let lengths = worker.lengths
            let starts = worker.starts
            let termIds = worker.termIds
            let tfs = worker.tfs
            for d in 0..<lengths.count {
                let doc = Int32(docIds.count)
                docIds.append(documents[index].id)
                index += 1
                let length = Int(lengths[d])
                norms.append(SmallFloat.intToByte4(length))
                if length > 0 { documentsWithTerms += 1 }
                sumTotalTermFreq += length
                for p in Int(starts[d])..<Int(starts[d + 1]) {
                    let term = Int(mapping[Int(termIds[p])])
                    let tf = tfs[p]
                    let delta = UInt64(doc - lastDoc[term])
                    lastDoc[term] = doc
                    docFreqs[term] += 1
                    appendVarint(&postings[term], delta << 1 | (tf == 1 ? 1 : 0))
                    if tf != 1 { appendVarint(&postings[term], UInt64(tf)) }
                }
            }
        }
        self.postings = postings
        self.lastDoc = lastDoc
        self.docFreqs = docFreqs
        self.norms = norms
        self.docIds = docIds
        batch.removeAll(keepingCapacity: true)
    }

    /// Analyses any buffered documents and writes the index directory atomically (a temporary
    /// sibling directory renamed at the end, so a crash never leaves a valid-looking index).
    ///
    /// - Parameters:
    ///   - directory: the index directory to create; an existing index (or empty folder) is
    ///     replaced, anything else is refused (``BM25Index/outputKind``).
    ///   - metadata: extra key/values recorded in `meta.json`.
    /// - Returns: counts for the report.
    public func write(to directory: URL, metadata: [String: String] = [:]) throws
        -> BM25BuildReport
    {
        flushBatch()
        guard documentsWithTerms > 0 else {
            throw BM25Error.nothingToIndex(
                path: metadata["corpus"] ?? directory.path, documents: docIds.count)
        }
        let bytes = try AtomicFile.writeDirectory(at: directory, replacing: BM25Index.outputKind) {
            temporary -> Int in
            let size = try writeIndexFile(
                temporary.appendingPathComponent(IndexFormat.fileName))
            var meta = metadata
            meta["format"] = "inpars-bm25"
            meta["formatVersion"] = "\(IndexFormat.version)"
            meta["analyzer"] = "lucene-english-porter"
            meta["documents"] = "\(docIds.count)"
            meta["documentsWithTerms"] = "\(documentsWithTerms)"
            meta["terms"] = "\(terms.count)"
            meta["sumTotalTermFreq"] = "\(sumTotalTermFreq)"
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(meta).write(
                to: temporary.appendingPathComponent(IndexFormat.metaFileName))
            return size
        }
        return BM25BuildReport(
            documents: docIds.count, documentsWithTerms: documentsWithTerms, terms: terms.count,
            tokens: sumTotalTermFreq, readStatistics: ReadStatistics(), indexBytes: bytes)
    }

    private func writeIndexFile(_ url: URL) throws -> Int {
        // Terms in byte-wise order.
        let termUTF8: [[UInt8]] = terms.map { Array($0.utf8) }
        let order = (0..<terms.count).sorted {
            termUTF8[$0].lexicographicallyPrecedes(termUTF8[$1])
        }
        var termOffsets: [UInt64] = [0]
        termOffsets.reserveCapacity(terms.count + 1)
        var termBytes: [UInt8] = []
        var postingsOffsets: [UInt64] = [0]
        postingsOffsets.reserveCapacity(terms.count + 1)
        var sortedDocFreqs: [UInt32] = []
        sortedDocFreqs.reserveCapacity(terms.count)
        var postingsSize = 0
        for t in order {
            termBytes.append(contentsOf: termUTF8[t])
            termOffsets.append(UInt64(termBytes.count))
            postingsSize += postings[t].count
            postingsOffsets.append(UInt64(postingsSize))
            sortedDocFreqs.append(docFreqs[t])
        }
        // Document ids and their byte-wise rank (for tie-breaking).
        var docIdOffsets: [UInt64] = [0]
        docIdOffsets.reserveCapacity(docIds.count + 1)
        var docIdBytes: [UInt8] = []
        let docUTF8: [[UInt8]] = docIds.map { Array($0.utf8) }
        for id in docUTF8 {
            docIdBytes.append(contentsOf: id)
            docIdOffsets.append(UInt64(docIdBytes.count))
        }
        let docOrder = (0..<docIds.count).sorted {
            docUTF8[$0].lexicographicallyPrecedes(docUTF8[$1])
        }
        var ranks = [UInt32](repeating: 0, count: docIds.count)
        for (rank, doc) in docOrder.enumerated() { ranks[doc] = UInt32(rank) }

        // Section payloads, in Section order.
        var sections: [(length: Int, crc: UInt32)] = []
        func describe(_ raw: UnsafeRawBufferPointer) {
            sections.append((raw.count, CRC32.checksum(raw)))
        }
        norms.withUnsafeBytes(describe)
        docIdOffsets.withUnsafeBytes(describe)
        docIdBytes.withUnsafeBytes(describe)
        ranks.withUnsafeBytes(describe)
        termOffsets.withUnsafeBytes(describe)
        termBytes.withUnsafeBytes(describe)
        postingsOffsets.withUnsafeBytes(describe)
        sortedDocFreqs.withUnsafeBytes(describe)
        var postingsCRC: UInt32 = 0
        for t in order { postingsCRC = CRC32.checksum(postings[t], initial: postingsCRC) }
        sections.append((postingsSize, postingsCRC))

        var header = [UInt8](repeating: 0, count: IndexFormat.headerSize)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { raw in
                for (n, byte) in raw.enumerated() { header[offset + n] = byte }
            }
        }
        for (n, byte) in IndexFormat.magic.enumerated() { header[n] = byte }
        put(IndexFormat.version, at: 8)
        put(UInt32(IndexFormat.headerSize), at: 12)
        put(UInt64(docIds.count), at: 16)
        put(UInt64(documentsWithTerms), at: 24)
        put(UInt64(terms.count), at: 32)
        put(UInt64(sumTotalTermFreq), at: 40)
        put(UInt32(IndexFormat.sectionCount), at: 48)
        var offset = IndexFormat.headerSize
        var offsets: [Int] = []
        for (n, section) in sections.enumerated() {
            offsets.append(offset)
            let entry = IndexFormat.sectionTableOffset + 24 * n
            put(UInt64(offset), at: entry)
            put(UInt64(section.length), at: entry + 8)
            put(section.crc, at: entry + 16)
            offset = (offset + section.length + 7) & ~7
        }
        put(CRC32.checksum(Array(header[0..<IndexFormat.headerCRCOffset])),
            at: IndexFormat.headerCRCOffset)

        let output = try OutputFile(url: url, compressed: false)
        var written = 0
        func emit(_ raw: UnsafeRawBufferPointer) throws {
            try output.write(raw: raw)
            written += raw.count
        }
        func pad() throws {
            let aligned = (written + 7) & ~7
            if aligned > written {
                try output.write(bytes: [UInt8](repeating: 0, count: aligned - written))
                written = aligned
            }
        }
        try header.withUnsafeBytes(emit)
        try norms.withUnsafeBytes(emit)
        try pad()
        try docIdOffsets.withUnsafeBytes(emit)
        try pad()
        try docIdBytes.withUnsafeBytes(emit)
        try pad()
        try ranks.withUnsafeBytes(emit)
        try pad()
        try termOffsets.withUnsafeBytes(emit)
        try pad()
        try termBytes.withUnsafeBytes(emit)
        try pad()
        try postingsOffsets.withUnsafeBytes(emit)
        try pad()
        try sortedDocFreqs.withUnsafeBytes(emit)
        try pad()
        precondition(written == offsets[IndexFormat.Section.postings.rawValue])
        for t in order { try postings[t].withUnsafeBytes(emit) }
        try pad()
        try output.close()
        return written
    }

    /// Reads a corpus file and writes its index; the common path of `inpars index`.
    public static func build(
        corpus: URL, index: URL, threads: Int = 1, options: ReadOptions = ReadOptions(),
        progress: ProgressReporter? = nil
    ) throws -> BM25BuildReport {
        try BM25Index.outputKind.check(index, inputs: [corpus])
        let reader = try CorpusReader(url: corpus, options: options)
        let builder = BM25IndexBuilder(threads: threads)
        while let document = try reader.next() {
            builder.add(document)
            progress?.advance()
        }
        try reader.requireDocuments()
        var report = try builder.write(to: index, metadata: ["corpus": corpus.path])
        report.readStatistics = reader.statistics
        progress?.finish()
        return report
    }
}

@inline(__always)
func appendVarint(_ bytes: inout [UInt8], _ value: UInt64) {
    var v = value
    while v >= 0x80 {
        bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
        v >>= 7
    }
    bytes.append(UInt8(v))
}
