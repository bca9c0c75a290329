import Foundation

/// A TREC run: for each query, its ranked list of documents.
///
/// File format: one line per entry, `qid Q0 docid rank score tag`, separated by single spaces
/// (the reader accepts any run of spaces or tabs). Query order is kept as first seen.
public struct Run: Sendable, Equatable {
    /// Query ids in first-seen (or insertion) order.
    public private(set) var queryIds: [String] = []
    /// query id → entries in file order.
    public private(set) var entries: [String: [RunEntry]] = [:]

    public init() {}

    /// Builds a run from entries (grouped by query, query order as first seen).
    public init<S: Sequence>(_ entries: S) where S.Element == RunEntry {
        for entry in entries { append(entry) }
    }

    /// Adds an entry at the end of its query's list.
    public mutating func append(_ entry: RunEntry) {
        if entries[entry.queryId] == nil {
            queryIds.append(entry.queryId)
            entries[entry.queryId] = []
        }
        entries[entry.queryId]!.append(entry)
    }

    /// Sets a query's whole list (replacing any previous one).
    public mutating func set(queryId: String, _ list: [RunEntry]) {
        if entries[queryId] == nil { queryIds.append(queryId) }
        entries[queryId] = list
    }

    /// Total number of entries.
    public var count: Int { entries.values.reduce(0) { $0 + $1.count } }

    /// Reads a TREC run file (plain or gzip). Lines must have 6 fields; the `Q0` column and the
    /// tag are not checked.
    public static func read(_ url: URL, options: ReadOptions = ReadOptions()) throws -> Run {
        let reader = try LineReader(url: url)
        var run = Run()
        var stats = ReadStatistics()
        let path = url.path
        try reader.forEachLine { bytes, line in
            if isBlank(bytes) { return }
            let fields = reader.fields(from: bytes)
            do {
                guard fields.count == 6 else {
                    throw InparsCoreError.malformedLine(
                        path: path, line: line, field: nil,
                        reason: "expected 6 fields 'qid Q0 docid rank score tag', found"
                            + " \(fields.count)")
                }
                guard let rank = Int(fields[3]) else {
                    throw InparsCoreError.malformedLine(
                        path: path, line: line, field: "rank",
                        reason: "'\(fields[3])' is not an integer")
                }
                guard let score = Double(fields[4]), score.isFinite else {
                    throw InparsCoreError.malformedLine(
                        path: path, line: line, field: "score",
                        reason: "'\(fields[4])' is not a finite number")
                }
                run.append(
                    RunEntry(
                        queryId: fields[0], docId: fields[2], rank: rank,
                        score: score))
            } catch let error as InparsCoreError {
                try options.handle(error, &stats)
            }
        }
        if run.queryIds.isEmpty {
            throw InparsCoreError.noRecords(
                path: path, what: "run entries", skippedLines: stats.skippedBadLines)
        }
        return run
    }

    /// Writes the run atomically (temporary name, then rename) in query order, replacing only
    /// an earlier run (``OutputKind/trecRun``).
    ///
    /// - Parameters:
    ///   - tag: the last column (no spaces).
    ///   - decimals: digits after the point for scores (`%.6f`, as Pyserini and Anserini write),
    ///     or `nil` for the shortest representation that round-trips the `Double`.
    public func write(to url: URL, tag: String = "inpars", decimals: Int? = 6) throws {
        let lines = RunLineBuffer(tag: tag, decimals: decimals)
        try AtomicFile.write(to: url, replacing: .trecRun) { output in
            for queryId in queryIds {
                for entry in entries[queryId]! { lines.append(entry) }
                if lines.count >= 1 << 20 { try lines.flush(to: output) }
            }
            try lines.flush(to: output)
        }
    }

    /// One TREC line, newline included.
    public static func line(_ entry: RunEntry, tag: String, decimals: Int? = 6) -> String {
        let lines = RunLineBuffer(tag: tag, decimals: decimals)
        lines.append(entry)
        return String(decoding: lines.bytes, as: UTF8.self)
    }
}

/// `String(format: "%.*f")` without Foundation's formatter (C `vsnprintf`, exactly printf).
public func formatFixed(_ value: Double, decimals: Int) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
        let n = withVaList([Int32(decimals), value]) { args in
            vsnprintf(buffer.baseAddress!, 64, "%.*f", args)
        }
        if n >= 64 { return String(format: "%.*f", decimals, value) }
        return String(cString: buffer.baseAddress!)
    }
}
