import Foundation
internal import CSystem

/// A file appended to with one `write(2)` per record, for outputs that survive a kill.
///
/// Opened with `O_APPEND`, so a record is never interleaved with another and a kill leaves at
/// most the last record cut short; ``truncate(_:to:)`` and ``dropTornLine(_:)`` remove such a
/// tail on the next start. ``sync()`` flushes to disk (`fsync`); ``close()`` syncs. Not
/// thread-safe: one task writes.
public final class AppendFile {
    public let url: URL
    private var descriptor: Int32
    /// Bytes in the file (its size when opened plus what was appended since).
    public private(set) var length: Int64
    /// Where ``startWriteback()`` last stopped (the size when opened, at first).
    private var writebackStart: Int64

    /// Opens `url` for appending, creating it.
    public init(appendingTo url: URL) throws {
        self.url = url
        descriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw InparsCoreError.cannotOpen(
                path: url.path, reason: String(cString: strerror(errno)))
        }
        var info = stat()
        length = fstat(descriptor, &info) == 0 ? Int64(info.st_size) : 0
        writebackStart = length
    }

    deinit { if descriptor >= 0 { Foundation.close(descriptor) } }

    /// Appends the UTF-8 bytes of `text`.
    public func append(_ text: String) throws {
        var copy = text
        try copy.withUTF8 { try append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends `bytes` (one `write(2)` unless the kernel writes less).
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
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
        length += Int64(bytes.count)
    }

    /// Asks the kernel to start writing what was appended since the last call to disk, without
    /// waiting, so the ``sync()`` or ``close()`` that ends a large output waits for little.
    /// Advisory: a failure is ignored (the sync still makes the data durable).
    public func startWriteback() {
        guard descriptor >= 0 else { return }
        if length > writebackStart {
            _ = inpars_start_writeback(descriptor, writebackStart, length - writebackStart)
            writebackStart = length
        }
    }

    /// Flushes what was appended to disk.
    public func sync() throws {
        guard descriptor >= 0 else { return }
        if fsync(descriptor) != 0 {
            throw InparsCoreError.writeFailed(
                path: url.path, reason: String(cString: strerror(errno)))
        }
    }

    /// Syncs and closes. Safe to call twice.
    ///
    /// - Parameter sync: `false` skips the `fsync`, for a caller whose ``sync()`` since the
    ///   last append already made every byte durable.
    public func close(sync: Bool = true) throws {
        guard descriptor >= 0 else { return }
        let synced = !sync || fsync(descriptor) == 0
        let reason = String(cString: strerror(errno))
        Foundation.close(descriptor)
        descriptor = -1
        if !synced { throw InparsCoreError.writeFailed(path: url.path, reason: reason) }
    }

    /// Cuts `url` to `length` bytes.
    public static func truncate(_ url: URL, to length: Int64) throws {
        if Foundation.truncate(url.path, off_t(length)) != 0 {
            throw InparsCoreError.writeFailed(
                path: url.path, reason: "cannot truncate: \(String(cString: strerror(errno)))")
        }
    }

    /// The size of `url`, or `nil` when it does not exist.
    public static func size(of url: URL) -> Int64? {
        var info = stat()
        return stat(url.path, &info) == 0 ? Int64(info.st_size) : nil
    }

    /// Truncates `url` after its last newline; returns the number of bytes removed (a torn
    /// last line, which a kill can leave).
    public static func dropTornLine(_ url: URL) throws -> Int {
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
