import Foundation

/// The on-disk layout of a corpus or query file.
public enum RecordFormat: String, Sendable, Equatable {
    /// JSON Lines (BEIR `corpus.jsonl` / `queries.jsonl`).
    case jsonl
    /// Tab-separated values.
    case tsv

    /// The format implied by a file name (`.jsonl`, `.json`, `.tsv`, `.txt`, each optionally
    /// followed by `.gz`), or `nil` when the name says nothing.
    public static func fromExtension(_ url: URL) -> RecordFormat? {
        if hasExtension(url.path, ["jsonl", "json", "ndjson"]) { return .jsonl }
        if hasExtension(url.path, ["tsv", "txt", "tab"]) { return .tsv }
        return nil
    }

    /// Sniffs a first non-blank line: `{` means JSONL, anything else TSV.
    static func sniff(_ line: UnsafeBufferPointer<UInt8>) -> RecordFormat {
        for byte in line where byte != 0x20 && byte != 0x09 {
            return byte == UInt8(ascii: "{") ? .jsonl : .tsv
        }
        return .tsv
    }
}

/// Streams the documents of a corpus file.
///
/// Formats (optionally gzip-compressed; chosen by extension, else by the first line):
/// - BEIR JSONL: one object per line with `_id` (string or number), `text` (required, `null`
///   read as empty) and `title` (optional); other fields are ignored.
/// - TSV: `id<TAB>text`, or `id<TAB>title<TAB>text` when a line has three fields; any other
///   field count is malformed. A first line whose first field is `id`, `_id`, `docid` or
///   `doc_id` is a header and is skipped.
///
/// Blank lines are skipped. Duplicate ids throw ``InparsCoreError/duplicateID(path:line:id:firstLine:)``;
/// empty documents are kept.
public final class CorpusReader {
    /// The file being read.
    public var url: URL { reader.url }
    /// Counts so far.
    public var statistics: ReadStatistics {
        var s = stats
        s.invalidUTF8Lines = reader.invalidUTF8Lines
        s.lines = reader.lineNumber
        return s
    }

    private let reader: LineReader
    private let options: ReadOptions
    private var format: RecordFormat?
    private var stats = ReadStatistics()
    private var seen: [String: Int] = [:]
    private let checkDuplicates: Bool

    /// Opens a corpus file.
    ///
    /// - Parameters:
    ///   - format: force a format instead of detecting it.
    ///   - checkDuplicates: keep a set of ids and throw on a repeat (default true).
    public init(
        url: URL, options: ReadOptions = ReadOptions(), format: RecordFormat? = nil,
        checkDuplicates: Bool = true
    ) throws {
        reader = try LineReader(url: url)
        self.options = options
        self.format = format ?? RecordFormat.fromExtension(url)
        self.checkDuplicates = checkDuplicates
    }

    /// The next document, or `nil` at end of file.
    public func next() throws -> Document? {
        while true {
            var result: Document?
            var failure: InparsCoreError?
            let gotLine = try reader.withNextLine { bytes, line in
                if isBlank(bytes) { return }
                if format == nil { format = RecordFormat.sniff(bytes) }
                do {
                    result = try parse(bytes, line: line)
                } catch let error as InparsCoreError {
                    failure = error
                }
            }
            if !gotLine { return nil }
            if let failure {
                if case .duplicateID = failure { throw failure }
                try options.handle(failure, &stats)
                continue
            }
            if let document = result {
                stats.records += 1
                return document
            }
        }
    }

    /// Reads every remaining document.
    ///
    /// - Throws: ``InparsCoreError/noRecords(path:what:skippedLines:)`` when the file held none.
    public func readAll(progress: ProgressReporter? = nil) throws -> [Document] {
        var documents: [Document] = []
        while let document = try next() {
            documents.append(document)
            progress?.advance()
        }
        try requireDocuments()
        return documents
    }

    /// Throws ``InparsCoreError/noRecords(path:what:skippedLines:)`` when the whole file has
    /// been read and held no document (call after `next()` returned `nil`).
    public func requireDocuments() throws {
        if stats.records == 0 {
            throw InparsCoreError.noRecords(
                path: url.path, what: "documents", skippedLines: stats.skippedBadLines)
        }
    }

    /// Reads a whole corpus file.
    public static func read(
        _ url: URL, options: ReadOptions = ReadOptions(), progress: ProgressReporter? = nil
    ) throws -> (documents: [Document], statistics: ReadStatistics) {
        let reader = try CorpusReader(url: url, options: options)
        let documents = try reader.readAll(progress: progress)
        return (documents, reader.statistics)
    }

    /// The JSONL members read: `_id`, `text`, `title`.
    private static let members = ["_id", "text", "title"]

    private func parse(_ bytes: UnsafeBufferPointer<UInt8>, line: Int) throws -> Document? {
        let path = reader.url.path
        let document: Document
        switch format ?? .tsv {
        case .jsonl:
            // Only the three members a document needs, without a dictionary per line.
            let fields = try reader.withValidUTF8(bytes) {
                try JSONLine.parseRecordFields($0, Self.members, path: path, line: line)
            }
            guard let idValue = fields[0] else {
                throw InparsCoreError.malformedLine(
                    path: path, line: line, field: "_id", reason: "missing document id")
            }
            guard let id = idValue.idString else {
                throw InparsCoreError.malformedLine(
                    path: path, line: line, field: "_id", reason: "id must be a string or a number")
            }
            let text: String
            switch fields[1] {
            case .string(let s)?: text = s
            case .null?: text = ""
            case nil:
                throw InparsCoreError.malformedLine(
                    path: path, line: line, field: "text", reason: "missing document text")
            default:
                throw InparsCoreError.malformedLine(
                    path: path, line: line, field: "text", reason: "text must be a string")
            }
            let title: String
            switch fields[2] {
            case .string(let s)?: title = s
            case .null?, nil: title = ""
            default:
                throw InparsCoreError.malformedLine(
                    path: path, line: line, field: "title", reason: "title must be a string")
            }
            document = Document(id: id, title: title, text: text)
        case .tsv:
            let string = reader.string(from: bytes)
            let fields = splitFields(string)
            if line == firstContentLine(line),
                ["id", "_id", "docid", "doc_id"].contains(fields[0].lowercased()),
                fields.count >= 2
            {
                return nil
            }
            switch fields.count {
            case 2: document = Document(id: String(fields[0]), text: String(fields[1]))
            case 3:
                document = Document(
                    id: String(fields[0]), title: String(fields[1]), text: String(fields[2]))
            default:
                throw InparsCoreError.malformedLine(
                    path: path, line: line, field: nil,
                    reason: "expected 'id<TAB>text' or 'id<TAB>title<TAB>text', found"
                        + " \(fields.count) tab-separated fields")
            }
            if document.id.isEmpty {
                throw InparsCoreError.malformedLine(
                    path: path, line: line, field: "id", reason: "empty document id")
            }
        }
        if checkDuplicates {
            if let first = seen[document.id] {
                throw InparsCoreError.duplicateID(
                    path: path, line: line, id: document.id, firstLine: first)
            }
            seen[document.id] = line
        }
        return document
    }

    private var firstLine: Int?
    private func firstContentLine(_ line: Int) -> Int {
        if firstLine == nil { firstLine = line }
        return firstLine!
    }
}

func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    for byte in bytes where byte != 0x20 && byte != 0x09 && byte != 0x0D { return false }
    return true
}
