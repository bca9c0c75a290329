import Foundation

/// Relevance judgments: query id → document id → graded relevance (may be 0 or negative).
///
/// Read from BEIR TSV (`query-id<TAB>corpus-id<TAB>score`, header optional) or TREC qrels
/// (`qid iter docid rel`, whitespace-separated, `iter` ignored). The format is decided per line
/// by the field count (3 → BEIR, 4 → TREC); a first line starting with `query-id` is a header.
/// A repeated (query, document) pair keeps the last grade (as pytrec_eval's dict does).
public struct Qrels: Sendable, Equatable {
    /// query id → document id → relevance grade.
    public var judgments: [String: [String: Int]]

    public init(_ judgments: [String: [String: Int]] = [:]) {
        self.judgments = judgments
    }

    /// The grade of `docId` for `queryId`, or `nil` when unjudged.
    public func relevance(queryId: String, docId: String) -> Int? {
        judgments[queryId]?[docId]
    }

    /// Query ids that have at least one judgment, sorted.
    public var queryIds: [String] { judgments.keys.sorted() }

    /// Reads a qrels file (plain or gzip).
    public static func read(_ url: URL, options: ReadOptions = ReadOptions()) throws -> Qrels {
        let reader = try LineReader(url: url)
        var judgments: [String: [String: Int]] = [:]
        var stats = ReadStatistics()
        let path = url.path
        var first = true
        try reader.forEachLine { bytes, line in
            if isBlank(bytes) { return }
            let fields = reader.fields(from: bytes)
            if first {
                first = false
                if fields.first?.lowercased() == "query-id" || fields.first == "qid"
                    && fields.count == 3
                {
                    return
                }
            }
            do {
                let queryId: String
                let docId: String
                let grade: String
                switch fields.count {
                case 3: (queryId, docId, grade) = (fields[0], fields[1], fields[2])
                case 4: (queryId, docId, grade) = (fields[0], fields[2], fields[3])
                default:
                    throw InparsCoreError.malformedLine(
                        path: path, line: line, field: nil,
                        reason: "expected 'query-id corpus-id score' (BEIR) or"
                            + " 'qid 0 docid rel' (TREC), found \(fields.count) fields")
                }
                guard let value = Int(grade) ?? Double(grade).flatMap({ Int(exactly: $0) })
                else {
                    throw InparsCoreError.malformedLine(
                        path: path, line: line, field: "score",
                        reason: "relevance '\(grade)' is not an integer")
                }
                judgments[queryId, default: [:]][docId] = value
            } catch let error as InparsCoreError {
                try options.handle(error, &stats)
            }
        }
        if judgments.isEmpty {
            throw InparsCoreError.noRecords(
                path: path, what: "judgments", skippedLines: stats.skippedBadLines)
        }
        return Qrels(judgments)
    }
}
