import Foundation

internal import CZlib

/// Streams a file's content in chunks, decompressing gzip (zlib passes plain files through).
public enum FileCopy {
    /// Calls `body` with successive chunks of `url`'s (decompressed) content.
    ///
    /// - Throws: ``InparsCoreError/readFailed(path:reason:)`` for an unreadable file or a
    ///   gzip stream cut short or corrupt.
    public static func forEachChunk(
        of url: URL, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard let handle = gzopen(url.path, "rb") else {
            if errno == ENOENT { throw InparsCoreError.fileNotFound(path: url.path) }
            throw InparsCoreError.cannotOpen(
                path: url.path, reason: String(cString: strerror(errno)))
        }
        defer { gzclose_r(handle) }
        let size = 1 << 20
        try withUnsafeTemporaryAllocation(byteCount: size, alignment: 16) { buffer in
            while true {
                let got = gzread(handle, buffer.baseAddress, UInt32(size))
                var code: Int32 = 0
                let message = gzerror(handle, &code).map { String(cString: $0) } ?? "gzip error"
                if got < 0 || (code != Z_OK && code != Z_BUF_ERROR) {
                    throw InparsCoreError.readFailed(path: url.path, reason: message)
                }
                if got == 0 {
                    if code == Z_BUF_ERROR {
                        throw InparsCoreError.readFailed(
                            path: url.path, reason: "the gzip stream is cut short")
                    }
                    return
                }
                try body(UnsafeRawBufferPointer(rebasing: buffer[0..<Int(got)]))
            }
        }
    }

    /// Writes `url`'s (decompressed) content to `output`.
    public static func append(_ url: URL, to output: OutputFile) throws {
        try forEachChunk(of: url) { try output.write(raw: $0) }
    }
}
