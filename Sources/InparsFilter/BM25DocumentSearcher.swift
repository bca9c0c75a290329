import Foundation
import InparsBM25

/// A thread-safe ``DocumentSearcher`` over a ``InparsBM25/BM25Index``: a pool of
/// ``InparsBM25/BM25Searcher``s (each holds per-query accumulators and must not be shared),
/// one taken per search and returned afterwards, so at most one searcher per concurrent
/// caller is ever allocated.
public final class BM25DocumentSearcher: NumberedDocumentSearcher, @unchecked Sendable {
    // Invariant: `idle` is only touched with `lock` held; a searcher taken from `idle` is
    // used by exactly one thread until it is put back.
    private let lock = NSLock()
    private var idle: [BM25Searcher] = []
    /// The index searched.
    public let index: BM25Index
    /// k1 and b.
    public let parameters: BM25Parameters

    public init(index: BM25Index, parameters: BM25Parameters = BM25Parameters()) {
        self.index = index
        self.parameters = parameters
    }

    /// Opens the index at `directory` (see ``InparsBM25/BM25Index/open(_:verifyChecksums:)``).
    public convenience init(directory: URL, parameters: BM25Parameters = BM25Parameters()) throws {
        self.init(index: try BM25Index.open(directory), parameters: parameters)
    }

    public func search(_ query: String, k: Int) throws -> [String] {
        try searchNumbers(query, k: k).map { index.documentId(Int($0)) }
    }

    public var documentCount: Int { index.documentCount }

    public func documentId(_ number: Int) -> String { index.documentId(number) }

    public func searchNumbers(_ query: String, k: Int) throws -> [Int32] {
        lock.lock()
        let searcher = idle.popLast() ?? BM25Searcher(index: index, parameters: parameters)
        lock.unlock()
        let hits = searcher.search(query, k: k)
        lock.lock()
        idle.append(searcher)
        lock.unlock()
        return hits.map(\.document)
    }
}
