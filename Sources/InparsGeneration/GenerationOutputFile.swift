import Foundation
import InparsCore

/// The `generate` output: scanned on start to resume, then appended to one line at a time.
///
/// Each record is written with a single `write(2)` of a whole line (``InparsCore/AppendFile``),
/// so a crash leaves at most one torn last line and never interleaves records; ``scan(_:)``
/// drops such a line. The file is `fsync`ed on close. Not thread-safe: the run writes from one
/// task.
final class GenerationOutputFile {
    /// A generation already in the output.
    struct Key: Hashable, Sendable {
        var docID: String
        var queryIndex: Int
    }

    /// What a scan found.
    struct Scan: Sendable, Equatable {
        var done: Set<Key> = []
        var lines = 0
        /// Bytes of a torn last line that were cut off.
        var tornBytes = 0
    }

    private let file: AppendFile

    /// Opens `url` for appending (creating it).
    init(appendingTo url: URL) throws {
        file = try AppendFile(appendingTo: url)
    }

    /// Appends `line` (which ends with a newline) with one write.
    func append(_ line: String) throws { try file.append(line) }

    /// Flushes to disk and closes.
    func close() throws { try file.close() }

    /// Reads the generations already in `url` (none when it does not exist), first cutting a
    /// torn last line (one without its newline) off the file.
    ///
    /// - Throws: ``GenerationError/corruptOutput(path:line:reason:)`` for a complete line that
    ///   is not a record with a `doc_id`.
    static func scan(_ url: URL) throws -> Scan {
        var scan = Scan()
        guard FileManager.default.fileExists(atPath: url.path) else { return scan }
        scan.tornBytes = try AppendFile.dropTornLine(url)
        let reader = try LineReader(url: url)
        var failure: Error?
        while failure == nil,
            try reader.withNextLine({ bytes, line in
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
                func corrupt(_ reason: String) {
                    failure = GenerationError.corruptOutput(
                        path: url.path, line: line, reason: reason)
                }
                let object: [String: JSONLine.Value]
                do throws(JSONLine.ParseError) {
                    object = try JSONLine.parseObject(bytes)
                } catch {
                    return corrupt(error.reason)
                }
                guard let docID = object["doc_id"]?.idString else {
                    return corrupt("no 'doc_id'")
                }
                var index = 0
                if let value = object["query_index"] {
                    guard case .number(let text) = value, let number = Int(text), number >= 0 else {
                        return corrupt("'query_index' is not a non-negative integer")
                    }
                    index = number
                }
                scan.done.insert(Key(docID: docID, queryIndex: index))
                scan.lines += 1
            })
        {}
        if let failure { throw failure }
        return scan
    }

    /// Rewrites `url` so that the generations of `order` come first, in that order, followed
    /// by any other lines in their file order (generations of a larger earlier sample); does
    /// nothing when the file is already so. A resumed run whose failed generations were
    /// retried appends them after later ones: this restores the uninterrupted run's bytes.
    static func putInOrder(_ url: URL, order: [Key]) throws {
        var lines: [(key: Key?, text: String)] = []
        let reader = try LineReader(url: url)
        while let line = try reader.nextLine() {
            lines.append((key(of: line), line))
        }
        let wanted = Set(order)
        var index: [Key: Int] = [:]
        for (i, line) in lines.enumerated() {
            if let key = line.key, wanted.contains(key), index[key] == nil { index[key] = i }
        }
        var sequence = order.compactMap { index[$0] }
        let placed = Set(sequence)
        sequence += lines.indices.filter { !placed.contains($0) }
        if sequence == Array(lines.indices) { return }
        try AtomicFile.write(to: url, replacing: GenerateRun.outputKind, compressed: false) {
            output in
            for i in sequence { try output.write(lines[i].text + "\n") }
        }
    }

    /// The key of a record line (`nil` when it has none).
    private static func key(of line: String) -> Key? {
        guard let object = try? JSONLine.parseObject(line),
            let docID = object["doc_id"]?.idString
        else { return nil }
        var index = 0
        if case .number(let text)? = object["query_index"], let number = Int(text) { index = number }
        return Key(docID: docID, queryIndex: index)
    }
}
