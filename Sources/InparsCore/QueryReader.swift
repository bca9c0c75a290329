import Foundation

/// Reads query files.
///
/// Formats (optionally gzip-compressed; chosen by extension, else by the first line):
/// - BEIR JSONL: `_id` (string or number) and `text`; other fields (`metadata`, ...) ignored.
/// - TSV: `id<TAB>text`. A first line `id|qid|query-id|_id <TAB> text|query` is a header and
///   is skipped. More than two fields is malformed.
///
/// Blank lines are skipped; duplicate query ids are an error. Order is the file's order.
public enum QueryReader {
    /// Reads every query in `url`.
    public static func read(
        _ url: URL, options: ReadOptions = ReadOptions(), format: RecordFormat? = nil
    ) throws -> (queries: [Query], statistics: ReadStatistics) {
        let reader = try LineReader(url: url)
        var format = format ?? RecordFormat.fromExtension(url)
        var stats = ReadStatistics()
        var queries: [Query] = []
        var seen: [String: Int] = [:]
        var firstContentLine = true
        let path = url.path
        try reader.forEachLine { bytes, line in
            if isBlank(bytes) { return }
            if format == nil { format = RecordFormat.sniff(bytes) }
            let isFirst = firstContentLine
            firstContentLine = false
            let query: Query
            do {
                switch format! {
                case .jsonl:
                    // Only the two fields kept, parsed from the line's bytes.
                    let fields = try reader.withValidUTF8(bytes) {
                        try JSONLine.parseRecordFields($0, ["_id", "text"], path: path, line: line)
                    }
                    guard let id = fields[0]?.idString else {
                        throw InparsCoreError.malformedLine(
                            path: path, line: line, field: "_id",
                            reason: "missing query id (a string or a number)")
                    }
                    guard case .string(let text)? = fields[1] else {
                        throw InparsCoreError.malformedLine(
                            path: path, line: line, field: "text",
                            reason: "missing query text (a string)")
                    }
                    query = Query(id: id, text: text)
                case .tsv:
                    let fields = splitFields(reader.string(from: bytes))
                    if isFirst, fields.count == 2,
                        ["id", "qid", "query-id", "query_id", "_id"].contains(
                            fields[0].lowercased()),
                        ["text", "query"].contains(fields[1].lowercased())
                    {
                        return
                    }
                    guard fields.count == 2 else {
                        throw InparsCoreError.malformedLine(
                            path: path, line: line, field: nil,
                            reason: "expected 'id<TAB>text', found \(fields.count)"
                                + " tab-separated fields")
                    }
                    guard !fields[0].isEmpty else {
                        throw InparsCoreError.malformedLine(
                            path: path, line: line, field: "id", reason: "empty query id")
                    }
                    query = Query(id: String(fields[0]), text: String(fields[1]))
                }
            } catch let error as InparsCoreError {
                try options.handle(error, &stats)
                return
            }
            if let first = seen[query.id] {
                throw InparsCoreError.duplicateID(
                    path: path, line: line, id: query.id, firstLine: first)
            }
            seen[query.id] = line
            queries.append(query)
        }
        stats.records = queries.count
        stats.lines = reader.lineNumber
        stats.invalidUTF8Lines = reader.invalidUTF8Lines
        if queries.isEmpty {
            throw InparsCoreError.noRecords(
                path: path, what: "queries", skippedLines: stats.skippedBadLines)
        }
        return (queries, stats)
    }
}
