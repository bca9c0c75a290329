import Foundation

internal import CZlib

/// A buffered writer for text outputs, gzip-compressed when the path ends in `.gz`.
///
/// Usually obtained from ``AtomicFile/write(to:compressed:_:)``, which writes to a temporary name and
/// renames on success. Not thread-safe.
public final class OutputFile {
    /// Where the bytes go (for an atomic write, the temporary name).
    public let url: URL
    private var plain: UnsafeMutablePointer<FILE>?
    private var gz: gzFile?
    private var buffer: [UInt8] = []
    /// The buffer never grows past this: 256 KiB stays in a core's L2 cache and is touched
    /// (page-faulted) once; a larger one cost the writers of big outputs a fault per page.
    private let capacity = 1 << 18

    /// Creates (or truncates) `url`. Gzip when `compressed` is true, or when it is `nil` and the
    /// path ends in `.gz`.
    public init(url: URL, compressed: Bool? = nil) throws {
        self.url = url
        let useGzip = compressed ?? (url.pathExtension == "gz")
        if useGzip {
            guard let handle = gzopen(url.path, "wb6") else {
                throw InparsCoreError.cannotOpen(
                    path: url.path, reason: String(cString: strerror(errno)))
            }
            gz = handle
        } else {
            guard let handle = fopen(url.path, "wb") else {
                throw InparsCoreError.cannotOpen(
                    path: url.path, reason: String(cString: strerror(errno)))
            }
            plain = handle
        }
        buffer.reserveCapacity(capacity)
    }

    private init(standardOutput: Void) throws {
        url = URL(fileURLWithPath: "/dev/stdout")
        // A duplicate of descriptor 1: closing it leaves standard output open, and writes
        // share its file position (also when the shell opened it for appending).
        guard let handle = fdopen(dup(STDOUT_FILENO), "wb") else {
            throw InparsCoreError.cannotOpen(
                path: "standard output", reason: String(cString: strerror(errno)))
        }
        plain = handle
        buffer.reserveCapacity(capacity)
    }

    /// A writer to the process's standard output (plain text; ``close()`` leaves standard
    /// output itself open).
    public static func standardOutput() throws -> OutputFile { try OutputFile(standardOutput: ()) }

    deinit {
        try? close()
    }

    /// Appends the UTF-8 bytes of `string`.
    public func write(_ string: String) throws {
        var copy = string
        try copy.withUTF8 { try write(raw: UnsafeRawBufferPointer($0)) }
    }

    /// Appends raw bytes.
    public func write<Bytes: Sequence>(bytes: Bytes) throws where Bytes.Element == UInt8 {
        let written: Void? = try bytes.withContiguousStorageIfAvailable {
            try write(raw: UnsafeRawBufferPointer($0))
        }
        if written == nil { try Array(bytes).withUnsafeBytes { try write(raw: $0) } }
    }

    /// Appends raw bytes; a block of a quarter of the buffer or more is written without
    /// being copied into the buffer first.
    public func write(raw: UnsafeRawBufferPointer) throws {
        if raw.count < capacity / 4 {
            if buffer.count + raw.count > capacity { try flush() }
            buffer.append(contentsOf: raw.bindMemory(to: UInt8.self))
            return
        }
        try flush()
        let ok: Bool
        if let plain {
            ok = fwrite(raw.baseAddress, 1, raw.count, plain) == raw.count
        } else if let gz {
            var offset = 0
            var good = true
            while offset < raw.count && good {
                let chunk = min(raw.count - offset, 1 << 30)
                good = gzwrite(gz, raw.baseAddress! + offset, UInt32(chunk)) == Int32(chunk)
                offset += chunk
            }
            ok = good
        } else {
            ok = false
        }
        if !ok {
            throw InparsCoreError.writeFailed(path: url.path, reason: "short write (disk full?)")
        }
    }

    /// Writes buffered bytes to the file.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        let ok: Bool = buffer.withUnsafeBytes { raw in
            if let plain {
                return fwrite(raw.baseAddress, 1, raw.count, plain) == raw.count
            } else if let gz {
                return gzwrite(gz, raw.baseAddress, UInt32(raw.count)) == Int32(raw.count)
            }
            return false
        }
        buffer.removeAll(keepingCapacity: true)
        if !ok {
            throw InparsCoreError.writeFailed(path: url.path, reason: "short write (disk full?)")
        }
    }

    /// Flushes and closes the file. Safe to call twice.
    public func close() throws {
        if plain == nil && gz == nil { return }
        var failure: Error?
        do { try flush() } catch { failure = error }
        if let plain {
            if fclose(plain) != 0 && failure == nil {
                failure = InparsCoreError.writeFailed(
                    path: url.path, reason: String(cString: strerror(errno)))
            }
            self.plain = nil
        }
        if let gz {
            if gzclose_w(gz) != Z_OK && failure == nil {
                failure = InparsCoreError.writeFailed(path: url.path, reason: "gzip close failed")
            }
            self.gz = nil
        }
        if let failure { throw failure }
    }
}
