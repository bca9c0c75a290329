import Foundation

/// Errors from reading and writing the project's data files (corpora, queries, qrels, runs).
///
/// Every case names the file; line-level cases name the 1-based line number and, where one
/// applies, the field, so a user can open the file at the right place.
public enum InparsCoreError: Error, LocalizedError, Sendable, Equatable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be opened (permissions, not a regular file, ...).
    case cannotOpen(path: String, reason: String)
    /// Reading failed part-way (I/O error, truncated or corrupt gzip stream).
    case readFailed(path: String, reason: String)
    /// Writing, flushing or renaming an output failed.
    case writeFailed(path: String, reason: String)
    /// A line could not be parsed; `field` is the JSON key or column at fault, if known.
    case malformedLine(path: String, line: Int, field: String?, reason: String)
    /// An identifier occurs twice where identifiers must be unique.
    case duplicateID(path: String, line: Int, id: String, firstLine: Int)
    /// The file's format could not be recognised.
    case unknownFormat(path: String, reason: String)
    /// An output path holds something inpars did not write (or one of the command's inputs).
    case refusingToReplace(path: String, reason: String)
    /// A file holds no record (`what`: "documents", "queries", ...), possibly after skipping
    /// malformed lines.
    case noRecords(path: String, what: String, skippedLines: Int)
    /// An existing output (or its manifest) was made with other settings or inputs.
    case outputMismatch(path: String, differences: [String])
    /// An interrupted or finished output is not in the state its manifest records.
    case cannotResume(path: String, reason: String)
    /// `inpars merge` was given shards that do not make one whole run.
    case badShards(reason: String)

    public var errorDescription: String? {
        switch self {
        case .fileNotFound(let path):
            return "File '\(path)' does not exist; check the path."
        case .cannotOpen(let path, let reason):
            return "Cannot open '\(path)': \(reason)."
        case .readFailed(let path, let reason):
            return "Reading '\(path)' failed: \(reason)."
        case .writeFailed(let path, let reason):
            return "Writing '\(path)' failed: \(reason)."
        case .malformedLine(let path, let line, let field, let reason):
            let fieldPart = field.map { ", field '\($0)'" } ?? ""
            return "Malformed line in '\(path)' at line \(line)\(fieldPart): \(reason)."
        case .duplicateID(let path, let line, let id, let firstLine):
            return "Duplicate id '\(id)' in '\(path)' at line \(line) (first seen at line"
                + " \(firstLine)); ids must be unique."
        case .unknownFormat(let path, let reason):
            return "Unrecognised format in '\(path)': \(reason)."
        case .noRecords(let path, let what, let skipped):
            let detail = skipped > 0 ? " (\(skipped) malformed lines were skipped)" : ""
            return "'\(path)' holds no \(what)\(detail); check that it is the right file."
        case .refusingToReplace(let path, let reason):
            return "Refusing to replace '\(path)': \(reason). inpars only replaces files and"
                + " folders it wrote; move it away or choose another output path."
        case .outputMismatch(let path, let differences):
            return "'\(path)' was made by another command, settings or inputs ("
                + differences.joined(separator: "; ")
                + "); use another --output, or --overwrite to discard it and start again."
        case .cannotResume(let path, let reason):
            return "Cannot continue '\(path)': \(reason)."
        case .badShards(let reason):
            return "Cannot merge: \(reason)."
        }
    }
}

extension InparsCoreError {
    /// A malformed-line error that names `flag` as the way to skip such lines (itself when
    /// `flag` is `nil` or the error is another kind).
    public func suggestingSkip(_ flag: String?) -> InparsCoreError {
        guard let flag, case .malformedLine(let path, let line, let field, let reason) = self
        else { return self }
        return .malformedLine(
            path: path, line: line, field: field,
            reason: reason + " (use \(flag) to count and skip such lines)")
    }
}
