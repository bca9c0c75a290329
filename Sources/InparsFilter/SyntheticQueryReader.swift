import Foundation
import InparsCore

/// Reads synthetic-query JSONL files (plain or gzip) into ``SyntheticQuery`` rows.
///
/// Accepted field names (the first present wins):
/// - document id: `doc_id`, `docid` (string or number; numbers kept as written);
/// - query: `query` (inpars, InPars toolkit), `question` (InPars-v1);
/// - document text: `text` (inpars, toolkit), `doc_text` (v1); optional;
/// - log-probs: `log_probs`, an array of numbers; optional unless
///   ``Options/requireLogProbs`` is set;
/// - query id: `query_id`, `qid`; optional (default: the 0-based line index).
///
/// Other fields (`prompt_text`, `fewshot_examples`, `model`, `backend`, `bad_question`, ...)
/// are ignored but kept in ``SyntheticQuery/rawLine``. Blank lines are skipped. A malformed
/// line throws `InparsCoreError.malformedLine` naming file, line and field, or is counted and
/// skipped with ``Options/skipBadLines``.
public enum SyntheticQueryReader {
    /// What to read and how strictly.
    public struct Options: Sendable, Equatable {
        /// Count and skip malformed lines instead of throwing.
        public var skipBadLines: Bool
        /// Treat a row without `log_probs` as malformed.
        public var requireLogProbs: Bool
        /// Keep each row's original line (needed to write filtered rows).
        public var keepRawLine: Bool
        /// Keep each row's document text.
        public var keepDocumentText: Bool
        /// The flag named in a malformed line's error as the way to skip it (see
        /// `ReadOptions.skipFlag`).
        public var skipFlag: String?

        public init(
            skipBadLines: Bool = false, requireLogProbs: Bool = false, keepRawLine: Bool = true,
            keepDocumentText: Bool = true, skipFlag: String? = nil
        ) {
            self.skipBadLines = skipBadLines
            self.skipFlag = skipFlag
            self.requireLogProbs = requireLogProbs
            self.keepRawLine = keepRawLine
            self.keepDocumentText = keepDocumentText
        }
    }

    /// Reads every row of `url`.
    ///
    /// - Throws: `InparsCoreError` for unreadable files and malformed lines (unless skipped),
    ///   ``FilterError/emptyInput(path:skippedLines:)`` when no row is usable.
    public static func read(_ url: URL, options: Options = Options()) throws
        -> (rows: [SyntheticQuery], statistics: ReadStatistics)
    {
        let reader = try LineReader(url: url)
        var statistics = ReadStatistics()
        var rows: [SyntheticQuery] = []
        let path = url.path
        try reader.forEachLine { bytes, lineNumber in
            statistics.lines += 1
            if isBlank(bytes) { return }
            do {
                let line = reader.string(from: bytes)
                rows.append(try parse(line, path: path, lineNumber: lineNumber, options: options))
            } catch let error as InparsCoreError {
                if !options.skipBadLines { throw error.suggestingSkip(options.skipFlag) }
                statistics.skippedBadLines += 1
                if statistics.firstSkippedError == nil { statistics.firstSkippedError = error }
            }
        }
        statistics.invalidUTF8Lines = reader.invalidUTF8Lines
        statistics.records = rows.count
        if rows.isEmpty {
            throw FilterError.emptyInput(path: path, skippedLines: statistics.skippedBadLines)
        }
        return (rows, statistics)
    }

    /// Parses one JSON line (`lineNumber` is 1-based and used for the default query id).
    public static func parse(
        _ line: String, path: String, lineNumber: Int, options: Options = Options()
    ) throws -> SyntheticQuery {
        let object = try JSONLine.parseRecord(line, path: path, line: lineNumber)
        func malformed(_ field: String, _ reason: String) -> InparsCoreError {
            .malformedLine(path: path, line: lineNumber, field: field, reason: reason)
        }
        func string(_ keys: [String], required: Bool, allowNumber: Bool) throws -> (String, String)?
        {
            for key in keys {
                guard let value = object[key] else { continue }
                switch value {
                case .string(let s): return (key, s)
                case .number(let n) where allowNumber: return (key, n)
                case .null: continue
                default:
                    throw malformed(key, "expected a string\(allowNumber ? " or a number" : "")")
                }
            }
            if required {
                throw malformed(
                    keys[0],
                    "missing (expected one of \(keys.map { "'\($0)'" }.joined(separator: ", ")))")
            }
            return nil
        }
        // `required: true` never returns nil.
        let docId = try string(["doc_id", "docid"], required: true, allowNumber: true)!.1
        if docId.isEmpty { throw malformed("doc_id", "empty document id") }
        let (queryKey, query) = try string(
            ["query", "question"], required: true, allowNumber: false)!
        let text = try string(["text", "doc_text"], required: false, allowNumber: false)?.1
        let ownId = try string(["query_id", "qid"], required: false, allowNumber: true)?.1

        var logProbs: [Double]?
        if let value = object["log_probs"], value != .null {
            guard value == .nested else {
                throw malformed("log_probs", "expected an array of numbers")
            }
            logProbs = try parseLogProbs(line, path: path, lineNumber: lineNumber)
        } else if options.requireLogProbs {
            throw malformed(
                "log_probs", "missing (the 'scores' strategy needs per-token log-probs)")
        }
        return SyntheticQuery(
            lineNumber: lineNumber, queryId: ownId ?? String(lineNumber - 1), docId: docId,
            query: query, documentText: options.keepDocumentText ? text : nil,
            logProbs: logProbs, rawLine: options.keepRawLine ? line : "",
            convention: queryKey == "query" ? .toolkit : .legacyV1)
    }

    /// Reads the `log_probs` array of `line` (already validated as JSON) as numbers.
    static func parseLogProbs(_ line: String, path: String, lineNumber: Int) throws -> [Double] {
        var copy = line
        return try copy.withUTF8 { bytes -> [Double] in
            let spans = JSONObjectSpans(bytes)
            guard let range = spans.range(of: "log_probs"), !range.isEmpty,
                bytes[range.lowerBound] == UInt8(ascii: "[")
            else {
                throw InparsCoreError.malformedLine(
                    path: path, line: lineNumber, field: "log_probs",
                    reason: "expected an array of numbers")
            }
            var values: [Double] = []
            var i = range.lowerBound + 1
            let end = range.upperBound - 1  // the closing ']'
            var index = 0
            func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
            while i < end {
                while i < end && isSpace(bytes[i]) { i += 1 }
                if i == end && index == 0 { break }  // "[]"
                let start = i
                while i < end && bytes[i] != UInt8(ascii: ",") && !isSpace(bytes[i]) { i += 1 }
                let token = UnsafeBufferPointer(rebasing: bytes[start..<i])
                guard let value = number(token) else {
                    let shown = String(decoding: token.prefix(20), as: UTF8.self)
                    throw InparsCoreError.malformedLine(
                        path: path, line: lineNumber, field: "log_probs[\(index)]",
                        reason: "expected a number, found '\(shown)'")
                }
                values.append(value)
                index += 1
                while i < end && isSpace(bytes[i]) { i += 1 }
                if i < end {
                    // Must be a comma (the JSON was validated, so anything else cannot occur).
                    i += 1
                    if i >= end {
                        throw InparsCoreError.malformedLine(
                            path: path, line: lineNumber, field: "log_probs",
                            reason: "trailing comma")
                    }
                }
            }
            return values
        }
    }

    /// A JSON number token as a finite `Double`, or nil (strings, null, NaN, nested values).
    private static func number(_ token: UnsafeBufferPointer<UInt8>) -> Double? {
        guard let first = token.first,
            first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39)
        else { return nil }
        for c in token {
            let ok =
                (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: ".") || c == UInt8(ascii: "e")
                || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
            if !ok { return nil }
        }
        guard let value = Double(String(decoding: token, as: UTF8.self)), value.isFinite else {
            return nil
        }
        return value
    }

    private static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for c in bytes where !(c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A) { return false }
        return true
    }
}
