import Foundation
import InparsCore
internal import CKernels

/// Batch retrieval: many queries, several threads, a TREC run out.
///
/// Queries are split over `threads` workers, each with its own ``BM25Searcher`` (pruned
/// search needs only per-query-term buffers, so workers do not compete for cache); results
/// come back in query order whatever the thread count, and every query's hits are the same
/// for any thread count (`BatchSearchTests`).
public enum BM25BatchSearch {
    /// How scores are written to the run.
    public enum ScoreStyle: String, Sendable, CaseIterable {
        /// Anserini's `ScoreTiesAdjusterReranker`, which Pyserini applies: the ranking is kept,
        /// scores are rounded to 4 decimals (`Math.round(s * 1e4f) / 1e4f`) and the j-th score
        /// in a row within 1e-4 of the previous one is lowered by j·1e-6, so trec_eval (which
        /// breaks ties by doc id *descending*) keeps the file's order. Default: Pyserini's
        /// numbers.
        case anserini
        /// The raw float scores, ranked by (score desc, doc id asc).
        case raw
    }

    /// What every batch search shares.
    public struct Options: Sendable {
        public var k: Int
        public var parameters: BM25Parameters
        public var threads: Int
        /// Drop a hit whose doc id equals the query id (Pyserini `--remove-query`); k + 1 hits
        /// are retrieved so k remain.
        public var removeQuery: Bool
        public var scoreStyle: ScoreStyle
        public var strategy: BM25SearchStrategy

        public init(
            k: Int, parameters: BM25Parameters = BM25Parameters(), threads: Int = 1,
            removeQuery: Bool = false, scoreStyle: ScoreStyle = .anserini,
            strategy: BM25SearchStrategy = .automatic
        ) {
            self.k = k
            self.parameters = parameters
            self.threads = threads
            self.removeQuery = removeQuery
            self.scoreStyle = scoreStyle
            self.strategy = strategy
        }
    }

    /// Searches every query and returns the run (query order = `queries` order).
    ///
    /// - Parameters:
    ///   - k: hits per query.
    ///   - threads: worker threads (one ``BM25Searcher`` each).
    ///   - removeQuery: drop a hit whose doc id equals the query id (Pyserini
    ///     `--remove-query`); k + 1 hits are retrieved so k remain.
    ///   - progress: advanced once per query.
    public static func run(
        index: BM25Index, queries: [Query], k: Int, parameters: BM25Parameters = BM25Parameters(),
        threads: Int = 1, removeQuery: Bool = false, scoreStyle: ScoreStyle = .anserini,
        strategy: BM25SearchStrategy = .automatic, progress: ProgressReporter? = nil
    ) -> Run {
        let options = Options(
            k: k, parameters: parameters, threads: threads, removeQuery: removeQuery,
            scoreStyle: scoreStyle, strategy: strategy)
        var run = Run()
        // Neither closure throws, so neither can this call.
        try! forEachResult(
            index: index, queries: queries, options: options,
            transform: { query, hits, scores in
                hits.indices.map { i in
                    RunEntry(
                        queryId: query.id, docId: index.documentId(Int(hits[i].document)),
                        rank: i + 1, score: Double(scores[i]))
                }
            },
            consume: { q, entries in
                run.set(queryId: queries[q].id, entries)
                progress?.advance()
            })
        return run
    }

    /// Searches every query and writes the TREC run to `output` as it goes, in query order
    /// (scores with 6 decimals, as Pyserini writes). Lines are formatted on the worker
    /// threads; memory stays bounded however many queries there are.
    ///
    /// - Returns: the number of lines written.
    @discardableResult
    public static func write(
        index: BM25Index, queries: [Query], options: Options, tag: String, to output: OutputFile,
        progress: ProgressReporter? = nil
    ) throws -> Int {
        var lines = 0
        try write(index: index, queries: queries, options: options, tag: tag) { _, count, bytes in
            lines += count
            try output.write(raw: bytes)
            progress?.advance()
        }
        return lines
    }

    /// Searches every query and hands each query's TREC lines to `emit` on the calling thread,
    /// in query order: `emit(query number, lines, bytes)`, the bytes valid during the call.
    /// Lines are formatted on the calling thread, into one buffer, from the hits the workers
    /// hand over: the lines are then written from the core that formatted them (a worker's
    /// lines, copied out for the hand-over, cost SciFact's 300 top-1000 queries at 2 threads
    /// 3 ms of copying into memory last touched by the other core).
    public static func write(
        index: BM25Index, queries: [Query], options: Options, tag: String,
        emit: (_ query: Int, _ lines: Int, _ bytes: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let buffer = RunLineBuffer(tag: tag)
        try forEachResult(
            index: index, queries: queries, options: options,
            transform: { _, hits, scores in (hits, scores) },
            consume: { q, result in
                buffer.removeAll()
                format(query: queries[q], hits: result.0, scores: result.1, index: index, into: buffer)
                try emit(q, result.0.count, buffer.bytes)
            })
    }

    /// Searches every query and hands each query's hits (document numbers and raw scores,
    /// after `removeQuery`) to `consume` on the calling thread, in query order.
    public static func forEachHits(
        index: BM25Index, queries: [Query], options: Options,
        _ consume: (_ query: Int, _ hits: [BM25Hit]) throws -> Void
    ) throws {
        var raw = options
        raw.scoreStyle = .raw
        try forEachResult(
            index: index, queries: queries, options: raw, transform: { _, hits, _ in hits },
            consume: consume)
    }

    private static func format(
        query: Query, hits: [BM25Hit], scores: [Float], index: BM25Index, into buffer: RunLineBuffer
    ) {
        var queryId = query.id
        queryId.withUTF8 { q in
            hits.withUnsafeBufferPointer { hits in
                scores.withUnsafeBufferPointer { scores in
                    // Empty hits have no base address; an index's id sections always have one.
                    guard let first = hits.baseAddress, let firstScore = scores.baseAddress,
                        let idOffsets = index.docIdOffsets.baseAddress,
                        let idBytes = index.docIdBytes.baseAddress
                    else { return }
                    // BM25Hit is (Int32 document, Float score): documents two Int32 apart.
                    UnsafeRawPointer(first).withMemoryRebound(to: Int32.self, capacity: 2 * hits.count) {
                        buffer.append(
                            queryId: UnsafeRawBufferPointer(q), documents: $0,
                            stride: MemoryLayout<BM25Hit>.stride / MemoryLayout<Int32>.stride,
                            scores: firstScore, count: hits.count, firstRank: 1,
                            idOffsets: idOffsets, idBytes: idBytes)
                    }
                }
            }
        }
    }

    /// The searching shared by ``run`` and ``write``: `transform(query, hits, written scores)`
    /// runs on the workers, `consume(query number, result)` on the calling thread in order.
    static func forEachResult<T>(
        index: BM25Index, queries: [Query], options: Options,
        transform: @escaping @Sendable (Query, [BM25Hit], [Float]) -> T,
        consume: (Int, T) throws -> Void
    ) throws {
        try forEachResult(
            index: index, queries: queries, options: options,
            transform: { _, query, hits, scores in transform(query, hits, scores) },
            consume: consume)
    }

    static func forEachResult<T>(
        index: BM25Index, queries: [Query], options: Options,
        transform: @escaping @Sendable (Int, Query, [BM25Hit], [Float]) -> T,
        consume: (Int, T) throws -> Void
    ) throws {
        let workers = max(1, options.threads)
        let searchers = PerWorker(
            (0..<workers).map { _ in
                BM25Searcher(
                    index: index, parameters: options.parameters, strategy: options.strategy)
            })
        // Workers run at most 32 queries each (64 to 512 in all) ahead of the in-order
        // consumer (the calling thread, itself one of the workers): enough for a slow query
        // not to stall them, while the consumer (which, for `write`, formats, writes and with
        // `--output` hashes every line) stays close behind, so results are consumed while in
        // cache and few wait in fresh memory (a window of 512 let all of SciFact's 300
        // top-1000 queries, 12 MB of lines, pile up on two workers; 64 is 1.5–2 ms faster
        // there with `--output`).
        try parallelForEachInOrder(
            count: queries.count, threads: workers, chunk: 8, window: min(512, max(64, 32 * workers)),
            transform: { worker, q in
                let query = queries[q]
                let hits = search(searchers[worker], query: query, options: options)
                return transform(worker, query, hits, writtenScores(hits, style: options.scoreStyle))
            },
            consume: consume)
    }

    /// Run entries for one query's hits (already ranked score desc, doc id asc: required).
    public static func entries(
        for queryId: String, hits: [(docId: String, score: Float)], style: ScoreStyle
    ) -> [RunEntry] {
        let scores = writtenScores(hits.map { BM25Hit(document: 0, score: $0.score) }, style: style)
        return hits.indices.map { i in
            RunEntry(queryId: queryId, docId: hits[i].docId, rank: i + 1, score: Double(scores[i]))
        }
    }

    /// The scores as written: raw, or Anserini's `ScoreTiesAdjusterReranker` (keep the order,
    /// round to 4 decimals with `Math.round(s * 1e4f) / 1e4f`, lower the j-th score in a row
    /// within 1e-4 of the previous one by j·1e-6).
    static func writtenScores(_ hits: [BM25Hit], style: ScoreStyle) -> [Float] {
        switch style {
        case .raw:
            return hits.map(\.score)
        case .anserini:
            return [Float](unsafeUninitializedCapacity: hits.count) { out, count in
                hits.withUnsafeBytes { raw in
                    // BM25Hit is (Int32 document, Float score): scores two floats apart.
                    guard let base = raw.baseAddress else { return }
                    inpars_anserini_scores(
                        (base + MemoryLayout<BM25Hit>.offset(of: \.score)!)
                            .assumingMemoryBound(to: Float.self),
                        MemoryLayout<BM25Hit>.stride / MemoryLayout<Float>.stride, hits.count,
                        out.baseAddress)
                }
                count = hits.count
            }
        }
    }
}

/// Per-worker-thread state (searchers).
///
/// `@unchecked Sendable`: worker `w` of ``parallelForEachInOrder`` is the only thread that
/// ever uses element `w` (with one worker, the calling thread uses element 0).
final class PerWorker<Value>: @unchecked Sendable {
    private let values: [Value]

    init(_ values: [Value]) { self.values = values }

    subscript(worker: Int) -> Value { values[worker] }
}

extension BM25BatchSearch {
    /// One query's hits, without the query's own document for `removeQuery`.
    static func search(_ searcher: BM25Searcher, query: Query, options: Options) -> [BM25Hit] {
        guard options.removeQuery else { return searcher.search(query.text, k: options.k) }
        var hits = searcher.search(query.text, k: options.k < Int.max ? options.k + 1 : options.k)
        var id = query.id
        id.withUTF8 { queryId in
            hits.removeAll { hit in
                searcher.index.withDocumentId(Int(hit.document)) {
                    $0.elementsEqual(UnsafeRawBufferPointer(queryId))
                }
            }
        }
        if hits.count > options.k { hits.removeLast(hits.count - options.k) }
        return hits
    }
}
