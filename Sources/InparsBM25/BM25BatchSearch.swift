import Foundation
import InparsCore

/// Batch retrieval: many queries, several threads, a TREC run out.
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
        progress: ProgressReporter? = nil
    ) -> Run {
        // No query has more hits than the index has documents (and k + 1 must not overflow).
        let k = min(max(k, 0), index.documentCount)
        let results = ResultSlots(count: queries.count)
        let workers = max(1, min(threads, queries.count))
        let chunk = 64
        let next = AtomicCounter()
        let work: @Sendable (Int) -> Void = { _ in
            let searcher = BM25Searcher(index: index, parameters: parameters)
            while true {
                let start = next.add(chunk)
                if start >= queries.count { break }
                for q in start..<min(start + chunk, queries.count) {
                    let query = queries[q]
                    var hits = searcher.search(query.text, k: removeQuery ? k + 1 : k)
                        .map { (docId: index.documentId(Int($0.document)), score: $0.score) }
                    if removeQuery {
                        hits.removeAll { $0.docId == query.id }
                        if hits.count > k { hits.removeLast(hits.count - k) }
                    }
                    results.set(q, entries(for: query.id, hits: hits, style: scoreStyle))
                    progress?.advance()
                }
            }
        }
        if workers == 1 {
            work(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers, execute: work)
        }
        var run = Run()
        for (q, query) in queries.enumerated() { run.set(queryId: query.id, results.get(q)) }
        return run
    }

    /// Run entries for one query's hits (already ranked score desc, doc id asc: required).
    public static func entries(
        for queryId: String, hits: [(docId: String, score: Float)], style: ScoreStyle
    ) -> [RunEntry] {
        switch style {
        case .raw:
            return hits.enumerated().map { i, hit in
                RunEntry(queryId: queryId, docId: hit.docId, rank: i + 1, score: Double(hit.score))
            }
        case .anserini:
            // Anserini's ScoreTiesAdjusterReranker: keep the searcher's order, round each score
            // to 4 decimals (Math.round(s * 1e4f) / 1e4f), and lower the j-th score in a row
            // that is within 1e-4 of the previous one by j·1e-6.
            var entries: [RunEntry] = []
            entries.reserveCapacity(hits.count)
            var previous: Float = 0
            var duplicates = 0
            for (i, hit) in hits.enumerated() {
                let x: Float = hit.score * 1e4
                var score = (x + 0.5).rounded(.down) / 1e4
                if i == 0 || previous - score > 1e-4 {
                    duplicates = 0
                } else {
                    duplicates += 1
                    score -= 1e-6 * Float(duplicates)
                }
                previous = score
                entries.append(
                    RunEntry(queryId: queryId, docId: hit.docId, rank: i + 1, score: Double(score)))
            }
            return entries
        }
    }
}

/// Per-query result slots written by worker threads (each slot by exactly one worker).
final class ResultSlots: @unchecked Sendable {
    // Invariant: slot q is written once, by the worker that claimed q, and read after all
    // workers have finished (concurrentPerform returns only then).
    private var slots: [[RunEntry]]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: [], count: count) }

    func set(_ index: Int, _ value: [RunEntry]) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    func get(_ index: Int) -> [RunEntry] {
        lock.lock()
        defer { lock.unlock() }
        return slots[index]
    }
}

/// A shared counter for handing out work.
final class AtomicCounter: @unchecked Sendable {
    // Invariant: `value` is only touched with `lock` held.
    private var value = 0
    private let lock = NSLock()

    /// Returns the old value and adds `n`.
    func add(_ n: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        let old = value
        value += n
        return old
    }
}
