import Foundation
import InparsCore

/// Builds an on-disk BM25 index from documents (see ``IndexFormat`` for the layout).
///
/// Documents are analysed with ``EnglishAnalyzer`` on ``Document/flatContents``
/// (`title + "\n" + text`). Analysis runs on `threads` threads in batches while the next batch
/// is read; postings are merged in corpus order, so the index is identical for any thread count.
///
/// Memory: while documents are added, postings are kept compressed (LEB128 gaps, about 1.3–2
/// bytes per posting) in one growable array per term, plus the document ids in one byte arena
/// (8 bytes of offset + the id's bytes per document), one norm byte per document and the
/// vocabulary in a byte-keyed hash table. Writing re-encodes each term's list into blocks and
/// frees it, so the peak is reached just before writing. Measured peaks are in `Docs/bm25.md`
/// (about 330 MB per million 56-word passages).
public final class BM25IndexBuilder {
    private let threads: Int
    private let batchSize: Int
    private var batch: [Document] = []
    private var workers: [AnalysisWorker]
    /// The batch being analysed on the worker threads while the next one is read.
    private var pending: (documents: [Document], group: DispatchGroup, count: Int)?

    private var docIdBytes: [UInt8] = []
    private var docIdOffsets: [UInt64] = [0]
    private var norms: [UInt8] = []
    private var documentsWithTerms = 0
    private var sumTotalTermFreq = 0
    private var vocabulary = TermTable(capacity: 1 << 16)
    private var postings: [[UInt8]] = []
    private var lastDoc: [Int32] = []
    private var docFreqs: [UInt32] = []
    private var localToGlobal: [[Int32]]

    /// - Parameters:
    ///   - threads: analysis threads (≥ 1).
    ///   - batchSize: documents analysed together (split over the threads).
    public init(threads: Int = 1, batchSize: Int = 4096) {
        self.threads = max(1, threads)
        self.batchSize = max(1, batchSize)
        workers = (0..<max(1, threads)).map { _ in AnalysisWorker() }
        localToGlobal = Array(repeating: [], count: max(1, threads))
        batch.reserveCapacity(batchSize)
    }

    /// Documents added so far.
    public var documentCount: Int { norms.count + (pending?.documents.count ?? 0) + batch.count }

    /// Adds one document (analysed when the current batch is full).
    public func add(_ document: Document) {
        batch.append(document)
        if batch.count >= batchSize { flushBatch() }
    }

    /// Starts analysing the current batch on the workers (after merging the one before), so
    /// the caller reads the next batch meanwhile.
    private func flushBatch() {
        mergePending()
        guard !batch.isEmpty else { return }
        let documents = batch
        batch = []
        batch.reserveCapacity(batchSize)
        let workerCount = min(threads, documents.count)
        let per = (documents.count + workerCount - 1) / workerCount
        let group = DispatchGroup()
        for w in 0..<workerCount {
            let worker = workers[w]
            let from = w * per
            let to = min(documents.count, from + per)
            DispatchQueue.global().async(group: group) {
                worker.process(documents[from..<max(from, to)])
            }
        }
        pending = (documents, group, workerCount)
    }

    /// Waits for the batch in flight and merges its postings (in corpus order).
    private func mergePending() {
        guard let (documents, group, workerCount) = pending else { return }
        pending = nil
        group.wait()
        // Work on locals: stored properties of a class would pay an exclusivity check per access.
        var postings = self.postings
        var lastDoc = self.lastDoc
        var docFreqs = self.docFreqs
        var norms = self.norms
        var vocabulary = self.vocabulary
        self.postings = []
        self.lastDoc = []
        self.docFreqs = []
        self.norms = []
        self.vocabulary = TermTable(capacity: 1)
        var index = 0
        for w in 0..<workerCount {
            let worker = workers[w]
            // Map the worker's new local term ids to global ids.
            var mapping = localToGlobal[w]
            localToGlobal[w] = []
            while mapping.count < worker.termCount {
                let global = worker.vocabulary.withBytes(mapping.count) { vocabulary.id(for: $0) }
                if Int(global) == postings.count {
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
                let doc = Int32(norms.count)
                var id = documents[index].id
                index += 1
                id.withUTF8 { docIdBytes.append(contentsOf: $0) }
                docIdOffsets.append(UInt64(docIdBytes.count))
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
        self.vocabulary = vocabulary
    }

    /// Analyses any buffered documents and writes the index directory atomically (a temporary
    /// sibling directory renamed at the end, so a crash never leaves a valid-looking index).
    ///
    /// The builder is consumed: its postings are freed while they are written.
    ///
    /// - Parameters:
    ///   - directory: the index directory to create (replaced if it exists).
    ///   - metadata: extra key/values recorded in `meta.json`.
    /// - Returns: counts for the report.
    /// - Throws: ``BM25Error/duplicateDocumentId(id:first:second:)`` when two documents share
    ///   an id (``build(corpus:index:threads:options:progress:)`` reports the line earlier);
    ///   file errors.
    public func write(to directory: URL, metadata: [String: String] = [:]) throws
        -> BM25BuildReport
    {
        flushBatch()
        mergePending()
        let documents = norms.count
        let termCount = postings.count
        let tokens = sumTotalTermFreq
        let withTerms = documentsWithTerms
        let bytes = try AtomicFile.writeDirectory(at: directory) { temporary -> Int in
            let writer = BM25IndexWriter(
                norms: norms, docIdBytes: docIdBytes, docIdOffsets: docIdOffsets,
                documentsWithTerms: documentsWithTerms, sumTotalTermFreq: sumTotalTermFreq,
                vocabulary: vocabulary, docFreqs: docFreqs)
            vocabulary = TermTable(capacity: 1)
            docIdBytes = []
            let size = try writer.write(
                to: temporary.appendingPathComponent(IndexFormat.fileName),
                takingPostings: &postings)
            var meta = metadata
            meta["format"] = "inpars-bm25"
            meta["formatVersion"] = "\(IndexFormat.version)"
            meta["analyzer"] = "lucene-english-porter"
            meta["documents"] = "\(documents)"
            meta["documentsWithTerms"] = "\(withTerms)"
            meta["terms"] = "\(termCount)"
            meta["sumTotalTermFreq"] = "\(tokens)"
            meta["blockBoundB"] = "\(IndexFormat.boundB)"
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(meta).write(
                to: temporary.appendingPathComponent(IndexFormat.metaFileName))
            return size
        }
        return BM25BuildReport(
            documents: documents, documentsWithTerms: withTerms, terms: termCount,
            tokens: tokens, readStatistics: ReadStatistics(), indexBytes: bytes)
    }

    /// Reads a corpus file and writes its index; the common path of `inpars index`.
    public static func build(
        corpus: URL, index: URL, threads: Int = 1, options: ReadOptions = ReadOptions(),
        progress: ProgressReporter? = nil
    ) throws -> BM25BuildReport {
        let reader = try CorpusReader(url: corpus, options: options)
        let builder = BM25IndexBuilder(threads: threads)
        while let document = try reader.next() {
            builder.add(document)
            progress?.advance()
        }
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
