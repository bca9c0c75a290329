import Foundation
import InparsCore

/// The `generate` output: scanned on start to resume, then appended to one line at a time.
///
/// Each record is written with a single `write(2)` of a whole line to a file opened with
/// `O_APPEND`, so a crash leaves at most one torn last line and never interleaves records;
/// ``scan(_:)`` drops such a line. The file is `fsync`ed on close. Not thread-safe: the run
/// writes from one task.
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

    let url: URL
    private var descriptor: Int32

    /// Opens `url` for appending (creating it).
    init(appendingTo url: URL) throws {
        self.url = url
        descriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw InparsCoreError.cannotOpen(
                path: url.path, reason: String(cString: strerror(errno)))
        }
    }

    deinit { if descriptor >= 0 { Foundation.close(descriptor) } }

    /// Appends `line` (which ends with a newline) with one write.
    func append(_ line: String) throws {
        var copy = line
        try copy.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw InparsCoreError.writeFailed(
                        path: url.path, reason: String(cString: strerror(errno)))
                }
                offset += written
            }
        }
    }

    /// Flushes to disk and closes.
    func close() throws {
        guard descriptor >= 0 else { return }
        let synced = fsync(descriptor) == 0
        Foundation.close(descriptor)
        descriptor = -1
        if !synced {
            throw InparsCoreError.writeFailed(
                path: url.path, reason: String(cString: strerror(errno)))
        }
    }

    /// Reads the generations already in `url` (none when it does not exist), first cutting a
    /// torn last line (one without its newline) off the file.
    ///
    /// - Throws: ``GenerationError/corruptOutput(path:line:reason:)`` for a complete line that
    ///   is not a record with a `doc_id`.
    static func scan(_ url: URL) throws -> Scan {
        var scan = Scan()
        guard FileManager.default.fileExists(atPath: url.path) else { return scan }
        scan.tornBytes = try dropTornLine(url)
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

    /// Truncates `url` after its last newline; returns the number of bytes removed.
    private static func dropTornLine(_ url: URL) throws -> Int {
        let handle = try FileHandle(forUpdating: url)
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        guard size > 0 else { return 0 }
        var end = size
        let chunk: UInt64 = 64 * 1024
        while end > 0 {
            let start = end > chunk ? end - chunk : 0
            try handle.seek(toOffset: start)
            let data = try handle.read(upToCount: Int(end - start)) ?? Data()
            if let newline = data.lastIndex(of: 0x0A) {
                let keep = start + UInt64(newline - data.startIndex) + 1
                if keep < size { try handle.truncate(atOffset: keep) }
                return Int(size - keep)
            }
            end = start
        }
        try handle.truncate(atOffset: 0)
        return Int(size)
    }
}
