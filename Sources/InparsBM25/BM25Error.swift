import Foundation

/// Errors from building, opening and searching BM25 indexes.
public enum BM25Error: Error, LocalizedError, Sendable, Equatable {
    /// No index at the given directory.
    case indexNotFound(path: String)
    /// The file is not an inpars BM25 index (wrong magic bytes).
    case notAnIndex(path: String)
    /// The index was written by another format version.
    case unsupportedVersion(path: String, found: UInt32, supported: UInt32)
    /// A checksum or size check failed.
    case corrupted(path: String, detail: String)
    /// Two documents added to a builder have the same id (0-based positions in input order).
    case duplicateDocumentId(id: String, first: Int, second: Int)
    /// A parameter is out of range.
    case invalidParameter(name: String, value: String, reason: String)
    /// No query found any document.
    case noHits(index: String, queries: Int)
    /// The corpus gave nothing to index (no document has a term).
    case nothingToIndex(path: String, documents: Int)

    public var errorDescription: String? {
        switch self {
        case .indexNotFound(let path):
            return "No BM25 index found at '\(path)'; run 'inpars index' first."
        case .notAnIndex(let path):
            return "'\(path)' is not an inpars BM25 index (bad magic bytes); rebuild it with"
                + " 'inpars index'."
        case .unsupportedVersion(let path, let found, let supported):
            return "The index at '\(path)' has format version \(found), but this inpars reads"
                + " version \(supported) (version 2 added the per-block score bounds that pruned"
                + " search needs, version 3 bounds per 64 documents for frequent terms, version 4"
                + " per 16); rebuild it with 'inpars index'."
        case .corrupted(let path, let detail):
            return "The index at '\(path)' is corrupted (\(detail)); rebuild it with"
                + " 'inpars index'."
        case .duplicateDocumentId(let id, let first, let second):
            return "Documents \(first + 1) and \(second + 1) both have the id '\(id)'; document"
                + " ids must be unique."
        case .invalidParameter(let name, let value, let reason):
            return "Invalid \(name) '\(value)': \(reason)."
        case .noHits(let index, let queries):
            return "None of the \(queries) queries found a document in the index '\(index)', so"
                + " the run would be empty (no hits); check that the queries and the index are"
                + " the same collection."
        case .nothingToIndex(let path, let documents):
            return "None of the \(documents) documents of '\(path)' has a word to index (every"
                + " text is empty or stopwords); check the corpus."
        }
    }
}
