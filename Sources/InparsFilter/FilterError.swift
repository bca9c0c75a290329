import Foundation

/// Errors from reading synthetic-query files, filtering them and building triples.
///
/// Line-level parse problems are reported as ``InparsCore/InparsCoreError/malformedLine(path:line:field:reason:)``
/// (file, line, field); this type covers what is wrong beyond the syntax of one line.
public enum FilterError: Error, LocalizedError, Sendable, Equatable {
    /// The input holds no usable rows (empty file, or every line was skipped).
    case emptyInput(path: String, skippedLines: Int)
    /// A row names a document id that the corpus does not hold.
    case unknownDocument(path: String, line: Int, docId: String, corpus: String)
    /// A rule needs the document text, but the row has none and no corpus was given.
    case missingDocumentText(path: String, line: Int, rule: String)
    /// A scorer returned a wrong number of scores, or a non-finite one.
    case invalidScores(reason: String)
    /// The options do not fit together.
    case invalidConfiguration(String)

    public var errorDescription: String? {
        switch self {
        case .emptyInput(let path, let skipped):
            if skipped > 0 {
                return "No usable rows in '\(path)': all \(skipped) non-blank lines were skipped"
                    + " as malformed."
            }
            return "No rows in '\(path)': the file is empty; pass the output of 'inpars generate'."
        case .unknownDocument(let path, let line, let docId, let corpus):
            return "Unknown document id '\(docId)' in '\(path)' at line \(line), field 'doc_id':"
                + " the corpus '\(corpus)' has no such document (use --skip-bad-lines to count"
                + " and skip such rows)."
        case .missingDocumentText(let path, let line, let rule):
            return "Row at line \(line) of '\(path)' has no document text (field 'text' or"
                + " 'doc_text'), which \(rule) needs; pass --corpus FILE."
        case .invalidScores(let reason):
            return "The scorer returned unusable scores: \(reason)."
        case .invalidConfiguration(let message):
            return message
        }
    }
}
