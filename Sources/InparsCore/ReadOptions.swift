/// Options shared by the corpus, query, qrels and run readers.
public struct ReadOptions: Sendable, Equatable {
    /// When true, a malformed line is counted in ``ReadStatistics/skippedBadLines`` and skipped;
    /// when false (the default) it throws ``InparsCoreError/malformedLine(path:line:field:reason:)``.
    /// Duplicate ids are always an error.
    public var skipBadLines: Bool
    /// The command-line flag that would skip a malformed line, named in its error (only where
    /// the command has one: `rerank` and `evaluate` do not).
    public var skipFlag: String?

    public init(skipBadLines: Bool = false, skipFlag: String? = nil) {
        self.skipBadLines = skipBadLines
        self.skipFlag = skipFlag
    }
}

/// What a reader saw, for reporting to the user.
public struct ReadStatistics: Sendable, Equatable {
    /// Lines read, including blank and skipped ones.
    public var lines = 0
    /// Records returned.
    public var records = 0
    /// Malformed lines skipped (only with ``ReadOptions/skipBadLines``).
    public var skippedBadLines = 0
    /// The first skipped line's error, to show the user an example.
    public var firstSkippedError: InparsCoreError?
    /// Lines whose invalid UTF-8 was replaced by U+FFFD.
    public var invalidUTF8Lines = 0

    public init() {}
}

extension ReadOptions {
    /// Throws `error` or counts it, depending on ``skipBadLines``.
    func handle(_ error: InparsCoreError, _ statistics: inout ReadStatistics) throws {
        if !skipBadLines { throw error.suggestingSkip(skipFlag) }
        statistics.skippedBadLines += 1
        if statistics.firstSkippedError == nil { statistics.firstSkippedError = error }
    }
}

/// Splits `line` on its tabs into fields (empty ones kept), walking its UTF-8 bytes: a tab is
/// always a character of its own, so this is `split(separator: "\t")` without the walk over
/// characters (a TSV corpus runs to millions of lines of hundreds of bytes).
func splitFields(_ line: String) -> [Substring] {
    let utf8 = line.utf8
    var fields: [Substring] = []
    var start = utf8.startIndex
    var i = start
    while i != utf8.endIndex {
        if utf8[i] == 0x09 {
            fields.append(line[start..<i])
            start = utf8.index(after: i)
        }
        i = utf8.index(after: i)
    }
    fields.append(line[start..<utf8.endIndex])
    return fields
}

/// Whether `name` (minus a `.gz` suffix) ends in one of `extensions`.
func hasExtension(_ path: String, _ extensions: [String]) -> Bool {
    var lower = path.lowercased()
    if lower.hasSuffix(".gz") { lower.removeLast(3) }
    return extensions.contains { lower.hasSuffix("." + $0) }
}
