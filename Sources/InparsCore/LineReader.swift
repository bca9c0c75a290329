import Foundation

internal import CZlib

/// Reads a text file line by line, plain or gzip-compressed (detected from the content, so a
/// `.gz` name is not required), in large chunks.
///
/// Lines are split on `\n`; a trailing `\r` is removed (CRLF files). The final line needs no
/// newline. Bytes that are not valid UTF-8 are replaced by U+FFFD when a line is turned into a
/// `String`, and each such line is counted in ``invalidUTF8Lines``.
///
/// Reading is done with zlib's `gzread` into a 1 MiB buffer (zlib passes uncompressed files
/// through unchanged), and lines are handed out as byte views into that buffer, so there is no
/// per-line allocation on the byte path (``forEachLine(_:)``).
///
/// Not thread-safe: use one reader per thread.
public final class LineReader {
    /// The file being read.
    public let url: URL
    /// The 1-based number of the line most recently returned (0 before the first line).
    public private(set) var lineNumber = 0
    /// How many lines so far contained invalid UTF-8 (replaced by U+FFFD).
    public private(set) var invalidUTF8Lines = 0

    private var file: gzFile?
    private var buffer: UnsafeMutableBufferPointer<UInt8>
    private var start = 0
    private var end = 0
    private var atEOF = false
    private var skippedByteOrderMark = false

    /// Opens `url` for reading.
    ///
    /// - Throws: ``InparsCoreError/fileNotFound(path:)`` or
    ///   ``InparsCoreError/cannotOpen(path:reason:)``.
    public init(url: URL, bufferSize: Int = 1 << 20) throws {
        self.url = url
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw InparsCoreError.fileNotFound(path: url.path)
        }
        if isDirectory.boolValue {
            throw InparsCoreError.cannotOpen(path: url.path, reason: "it is a directory")
        }
        guard let handle = gzopen(url.path, "rb") else {
            throw InparsCoreError.cannotOpen(
                path: url.path, reason: String(cString: strerror(errno)))
        }
        gzbuffer(handle, 1 << 18)
        file = handle
        buffer = .allocate(capacity: max(bufferSize, 4096))
    }

    deinit {
        if let file { gzclose_r(file) }
        buffer.deallocate()
    }

    /// Refills the buffer, keeping the unread tail. Returns false at end of file.
    private func fill() throws -> Bool {
        if atEOF { return false }
        if start > 0 {
            let tail = end - start
            if tail > 0 {
                UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(
                    from: buffer.baseAddress! + start, byteCount: tail)
            }
            start = 0
            end = tail
        }
        if end == buffer.count {
            let bigger = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: buffer.count * 2)
            UnsafeMutableRawPointer(bigger.baseAddress!).copyMemory(
                from: buffer.baseAddress!, byteCount: end)
            buffer.deallocate()
            buffer = bigger
        }
        let want = UInt32(min(buffer.count - end, Int(Int32.max)))
        let got = gzread(file, buffer.baseAddress! + end, want)
        if got < 0 { throw streamError() }
        if got == 0 {
            // zlib records a stream that stops before its trailer as Z_BUF_ERROR and returns
            // what it had, then 0, as at a clean end: ask, or a cut file reads as a short one.
            var code: Int32 = 0
            _ = gzerror(file, &code)
            if code != Z_OK { throw streamError() }
            atEOF = true
            return false
        }
        end += Int(got)
        return true
    }

    /// Drops a UTF-8 byte-order mark (EF BB BF) at the very start of the file, which editors
    /// on Windows write and which is no part of the first line's text.
    private func skipByteOrderMark() throws {
        skippedByteOrderMark = true
        while end - start < 3, try fill() {}
        let base = buffer.baseAddress!
        if end - start >= 3 && base[start] == 0xEF && base[start + 1] == 0xBB
            && base[start + 2] == 0xBF
        {
            start += 3
        }
    }

    /// The error zlib recorded, in words a user can act on.
    private func streamError() -> InparsCoreError {
        var code: Int32 = 0
        let message = gzerror(file, &code).map { String(cString: $0) } ?? "gzip error"
        switch code {
        case Z_BUF_ERROR:
            return .readFailed(
                path: url.path,
                reason: "the gzip stream ends before its end-of-stream trailer: the file is"
                    + " truncated (an interrupted download or copy?); get a complete copy")
        case Z_DATA_ERROR:
            return .readFailed(
                path: url.path,
                reason: "the gzip data is corrupt (zlib: \(message)); get a complete copy")
        case Z_ERRNO:
            return .readFailed(path: url.path, reason: String(cString: strerror(errno)))
        default:
            return .readFailed(path: url.path, reason: message)
        }
    }

    /// Returns the next line's bytes (without `\n` / `\r\n`), valid until the next call, or
    /// `nil` at end of file.
    fileprivate func nextLineBytesForExtension() throws -> UnsafeBufferPointer<UInt8>? {
        try nextLineBytes()
    }

    @inline(__always)
    private func nextLineBytes() throws -> UnsafeBufferPointer<UInt8>? {
        if !skippedByteOrderMark { try skipByteOrderMark() }
        var searchFrom = start
        while true {
            let base = buffer.baseAddress!
            if searchFrom < end,
                let hit = memchr(base + searchFrom, 0x0A, end - searchFrom)
            {
                let newline = hit.assumingMemoryBound(to: UInt8.self) - base
                var lineEnd = newline
                if lineEnd > start && base[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                let line = UnsafeBufferPointer(start: base + start, count: lineEnd - start)
                start = newline + 1
                lineNumber += 1
                return line
            }
            let scanned = end - start
            if try !fill() {
                if start < end {
                    // fill() may have moved or reallocated the buffer: re-read its address.
                    let b = buffer.baseAddress!
                    var lineEnd = end
                    if b[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                    let line = UnsafeBufferPointer(start: b + start, count: lineEnd - start)
                    start = end
                    lineNumber += 1
                    return line
                }
                return nil
            }
            searchFrom = start + scanned
        }
    }

    /// Calls `body` with each remaining line's bytes and its 1-based line number.
    ///
    /// The buffer is only valid inside `body`. Use ``string(from:)`` to decode it.
    public func forEachLine(
        _ body: (_ bytes: UnsafeBufferPointer<UInt8>, _ lineNumber: Int) throws -> Void
    ) throws {
        while let line = try nextLineBytes() {
            try body(line, lineNumber)
        }
    }

    /// The next line as a `String` (invalid UTF-8 replaced and counted), or `nil` at end of file.
    public func nextLine() throws -> String? {
        guard let line = try nextLineBytes() else { return nil }
        return string(from: line)
    }

    /// Decodes line bytes as UTF-8, replacing invalid sequences with U+FFFD and counting the line
    /// in ``invalidUTF8Lines`` when that happens.
    public func string(from bytes: UnsafeBufferPointer<UInt8>) -> String {
        if let valid = String(validating: bytes, as: UTF8.self) { return valid }
        invalidUTF8Lines += 1
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Calls `body` with the line's bytes when they are valid UTF-8, else with those of its
    /// repaired string (invalid sequences replaced with U+FFFD; the line counted in
    /// ``invalidUTF8Lines``, as ``string(from:)`` does): for parsers that read bytes.
    public func withValidUTF8<R>(
        _ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> R
    ) rethrows -> R {
        if isValidUTF8(bytes) { return try body(bytes) }
        invalidUTF8Lines += 1
        var repaired = String(decoding: bytes, as: UTF8.self)
        return try repaired.withUTF8(body)
    }

    /// The line's fields separated by spaces and tabs (runs of them count as one; no field is
    /// empty), split on the bytes rather than by a walk over characters (qrels and runs run to
    /// millions of lines). Invalid UTF-8 is repaired and counted (``withValidUTF8(_:_:)``).
    public func fields(from bytes: UnsafeBufferPointer<UInt8>) -> [String] {
        withValidUTF8(bytes) { bytes in
            var fields: [String] = []
            var start = 0
            for i in 0...bytes.count {
                if i == bytes.count || bytes[i] == 0x20 || bytes[i] == 0x09 {
                    if i > start {
                        fields.append(
                            String(
                                decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]),
                                as: UTF8.self))
                    }
                    start = i + 1
                }
            }
            return fields
        }
    }
}

extension LineReader {
    /// The first non-blank line among the first `limit` bytes of `url` (decompressed when it
    /// is gzip), without a UTF-8 byte-order mark or a trailing `\r`; `nil` when there is none.
    /// Reads at most `limit` bytes, so a huge file without newlines costs no more.
    public static func firstNonBlankLine(of url: URL, limit: Int = 1 << 20) throws -> String? {
        guard let handle = gzopen(url.path, "rb") else {
            throw InparsCoreError.cannotOpen(
                path: url.path, reason: String(cString: strerror(errno)))
        }
        defer { gzclose_r(handle) }
        var bytes = [UInt8](repeating: 0, count: limit)
        let got = bytes.withUnsafeMutableBytes { gzread(handle, $0.baseAddress, UInt32(limit)) }
        guard got >= 0 else {
            throw InparsCoreError.readFailed(path: url.path, reason: "not readable")
        }
        var text = bytes[0..<Int(got)]
        if text.starts(with: [0xEF, 0xBB, 0xBF]) { text = text.dropFirst(3) }
        for var line in text.split(separator: 0x0A, omittingEmptySubsequences: true) {
            if line.last == 0x0D { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            return String(decoding: line, as: UTF8.self)
        }
        return nil
    }

    /// Calls `body` with the next line's bytes and line number; returns false at end of file.
    public func withNextLine(
        _ body: (_ bytes: UnsafeBufferPointer<UInt8>, _ lineNumber: Int) throws -> Void
    ) throws -> Bool {
        guard let line = try nextLineBytesForExtension() else { return false }
        try body(line, lineNumber)
        return true
    }
}

/// Whether `bytes` is well-formed UTF-8 (ASCII fast path eight bytes at a time).
public func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    let n = bytes.count
    var i = 0
    while i + 8 <= n {
        let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
        if word & 0x8080_8080_8080_8080 != 0 { break }
        i += 8
    }
    while i < n {
        let c = base[i]
        if c < 0x80 {
            i += 1
            continue
        }
        var need: Int
        var minimum: UInt32
        var scalar: UInt32
        if c & 0xE0 == 0xC0 {
            need = 1; minimum = 0x80; scalar = UInt32(c & 0x1F)
        } else if c & 0xF0 == 0xE0 {
            need = 2; minimum = 0x800; scalar = UInt32(c & 0x0F)
        } else if c & 0xF8 == 0xF0 {
            need = 3; minimum = 0x10000; scalar = UInt32(c & 0x07)
        } else {
            return false
        }
        if i + need >= n { return false }
        for k in 1...need {
            let d = base[i + k]
            if d & 0xC0 != 0x80 { return false }
            scalar = scalar << 6 | UInt32(d & 0x3F)
        }
        if scalar < minimum || scalar > 0x10FFFF || (scalar >= 0xD800 && scalar < 0xE000) {
            return false
        }
        i += need + 1
    }
    return true
}
