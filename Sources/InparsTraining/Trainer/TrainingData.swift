import Foundation
import InparsCore

/// One monoT5 training example: a query, a passage, and whether the passage is relevant.
public struct TrainingExample: Sendable, Equatable {
    public var query: String
    public var passage: String
    public var relevant: Bool

    public init(query: String, passage: String, relevant: Bool) {
        self.query = query
        self.passage = passage
        self.relevant = relevant
    }
}

/// The training file, held as *units*: a triple (`query \t positive \t negative`, giving one
/// positive and one negative example, always in the same batch) or a pair
/// (`query \t passage \t label`, one example).
///
/// Shuffling and the data position work on units, so triples keep every batch balanced.
public struct TrainingData: Sendable, Equatable {
    /// The training file's format.
    public enum Kind: String, Sendable, Codable, Equatable {
        case triples, pairs
    }

    public let kind: Kind
    /// The examples, grouped by unit: two per triple (positive first), one per pair.
    public let units: [[TrainingExample]]
    /// Lines skipped as malformed (`--skip-bad-lines`).
    public let skippedLines: Int
    /// The first skipped line's error, for the summary.
    public let firstSkippedError: TrainingError?

    public init(
        kind: Kind, units: [[TrainingExample]], skippedLines: Int = 0,
        firstSkippedError: TrainingError? = nil
    ) {
        self.kind = kind
        self.units = units
        self.skippedLines = skippedLines
        self.firstSkippedError = firstSkippedError
    }

    /// A fingerprint of every example in order (FNV-1a), so a resumed run can tell that its
    /// training file changed even when the line count did not.
    public var fingerprint: String {
        var hash = FNV1a()
        for unit in units {
            for example in unit {
                hash.add(example.query)
                hash.add(example.passage)
                hash.add(example.relevant ? "1" : "0")
            }
        }
        return hash.hex
    }

    /// Examples per unit (2 for triples, 1 for pairs).
    public var examplesPerUnit: Int { kind == .triples ? 2 : 1 }
    /// All examples.
    public var exampleCount: Int { units.count * examplesPerUnit }

    /// Reads a training file.
    ///
    /// Triples: exactly three tab-separated non-empty fields. Pairs: query, passage and a label
    /// `1`/`0`/`true`/`false`; a first line whose label field is `label` is a header. Blank lines
    /// are ignored; a trailing `\r` is removed.
    ///
    /// - Parameter skipBadLines: count malformed lines instead of stopping at the first.
    /// - Throws: ``TrainingError/malformedLine(path:line:reason:)``,
    ///   ``TrainingError/emptyTrainingFile(path:skippedLines:)``, `InparsCoreError` for an
    ///   unreadable file.
    public static func read(_ url: URL, kind: Kind, skipBadLines: Bool = false) throws
        -> TrainingData
    {
        let reader = try LineReader(url: url)
        let path = url.path
        var units: [[TrainingExample]] = []
        var skipped = 0
        var firstError: TrainingError?
        try reader.forEachLine { bytes, line in
            let text = reader.string(from: bytes)
            if text.allSatisfy(\.isWhitespace) { return }
            do {
                if let unit = try parse(text, kind: kind, path: path, line: line) {
                    units.append(unit)
                }
            } catch let error as TrainingError {
                guard skipBadLines else { throw error }
                skipped += 1
                if firstError == nil { firstError = error }
            }
        }
        guard !units.isEmpty else {
            throw TrainingError.emptyTrainingFile(path: path, skippedLines: skipped)
        }
        return TrainingData(
            kind: kind, units: units, skippedLines: skipped, firstSkippedError: firstError)
    }

    /// One line as a unit, `nil` for a pairs header.
    static func parse(_ text: String, kind: Kind, path: String, line: Int) throws
        -> [TrainingExample]?
    {
        let fields = text.split(separator: "\t", omittingEmptySubsequences: false)
        let names =
            kind == .triples ? ["query", "positive", "negative"] : ["query", "passage", "label"]
        guard fields.count == 3 else {
            throw TrainingError.malformedLine(
                path: path, line: line,
                reason:
                    "expected 3 tab-separated fields (\(names.joined(separator: ", "))), found \(fields.count)"
            )
        }
        for (field, name) in zip(fields, names)
        where field.trimmingCharacters(in: .whitespaces).isEmpty {
            throw TrainingError.malformedLine(
                path: path, line: line, reason: "field '\(name)' is empty")
        }
        let query = String(fields[0])
        switch kind {
        case .triples:
            return [
                TrainingExample(query: query, passage: String(fields[1]), relevant: true),
                TrainingExample(query: query, passage: String(fields[2]), relevant: false),
            ]
        case .pairs:
            let label = fields[2].trimmingCharacters(in: .whitespaces).lowercased()
            switch label {
            case "1", "true":
                return [TrainingExample(query: query, passage: String(fields[1]), relevant: true)]
            case "0", "false":
                return [TrainingExample(query: query, passage: String(fields[1]), relevant: false)]
            case "label" where line == 1: return nil
            default:
                throw TrainingError.malformedLine(
                    path: path, line: line,
                    reason: "field 'label' is '\(fields[2])', expected 1, 0, true or false")
            }
        }
    }
}
