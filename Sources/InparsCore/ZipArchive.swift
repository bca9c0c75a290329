internal import CZlib
import Foundation

/// The entries of a zip archive, found through its central directory, over a memory-mapped
/// file.
///
/// Enough of PKWARE's APPNOTE.TXT (sections 4.3.7 local header, 4.3.12 central directory,
/// 4.3.14–4.3.16 ZIP64 end records, 4.5.3 ZIP64 extra field) for `torch.save` archives (every
/// entry stored, ZIP64 past 4 GiB) and for data set zips such as BEIR's (deflated entries).
/// Stored entries are byte ranges into the mapping; deflated entries are inflated with zlib
/// (``extract(_:to:)``, ``contents(of:)``), checking their CRC-32 and size. Encrypted entries
/// and other compression methods are refused by name.
public struct ZipArchive: Sendable {
    /// Why an archive could not be read; callers turn it into their module's error.
    public enum Failure: Error, Equatable, Sendable {
        /// The file ends before a structure it must contain (a cut download, say).
        case truncated(String)
        /// A structure is not what the format says, or uses a feature we do not read.
        case malformed(String)

        /// The plain-English reason.
        public var reason: String {
            switch self {
            case .truncated(let reason), .malformed(let reason): return reason
            }
        }
    }

    /// One entry of the central directory.
    public struct Entry: Sendable, Equatable {
        /// The entry's name (a path with `/` separators; folders end in `/`).
        public let name: String
        /// 0 = stored, 8 = deflated (the only two read).
        public let method: Int
        /// Absolute byte range of the entry's (possibly compressed) data in the file.
        public let data: Range<Int>
        /// Size after decompression.
        public let uncompressedSize: UInt64
        /// CRC-32 of the uncompressed bytes, from the central directory.
        public let crc32: UInt32

        /// Whether the entry is a folder (its name ends in `/`).
        public var isDirectory: Bool { name.hasSuffix("/") }
    }

    /// Entry name → entry.
    public let entries: [String: Entry]
    /// The entry names in central-directory order.
    public let names: [String]
    /// The mapped archive.
    public let file: MappedFile

    /// Reads the central directory of `file`.
    public init(file: MappedFile) throws(Failure) {
        self.file = file
        let list = try file.withBytes { bytes throws(Failure) in try Self.readDirectory(bytes) }
        var entries: [String: Entry] = [:]
        for entry in list {
            guard entries[entry.name] == nil else {
                throw .malformed("entry '\(entry.name)' appears twice")
            }
            entries[entry.name] = entry
        }
        self.entries = entries
        names = list.map(\.name)
    }

    /// The uncompressed bytes of entry `name` (a copy; for small entries), or `nil` when the
    /// archive has no such entry.
    ///
    /// - Throws: ``Failure`` for a damaged entry.
    public func contents(of name: String) throws -> [UInt8]? {
        guard let entry = entries[name] else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(Int(min(entry.uncompressedSize, 1 << 30)))
        try forEachChunk(of: entry) { result.append(contentsOf: $0) }
        return result
    }

    /// Writes entry `entry` uncompressed to `url` (created or truncated).
    ///
    /// - Throws: ``Failure`` for a damaged entry (bad deflate stream, CRC or size mismatch),
    ///   `InparsCoreError` when writing fails.
    public func extract(_ entry: Entry, to url: URL) throws {
        let output = try OutputFile(url: url, compressed: false)
        try forEachChunk(of: entry) { chunk in try output.write(raw: chunk) }
        try output.close()
    }

    /// Calls `body` with the entry's uncompressed bytes in order, in chunks of up to 1 MiB,
    /// then checks the size and CRC-32 against the central directory.
    ///
    /// - Throws: ``Failure`` for a damaged entry, or what `body` throws.
    public func forEachChunk(
        of entry: Entry, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try forEachChunk(of: entry, chunkSize: 1 << 20, body)
    }

    /// ``forEachChunk(of:_:)`` with a chosen chunk size (small ones exercise the inflate loop
    /// in tests).
    func forEachChunk(
        of entry: Entry, chunkSize: Int, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var crc: UInt32 = 0
        var produced: UInt64 = 0
        try file.withBytes { bytes throws in
            let data = UnsafeRawBufferPointer(rebasing: bytes[entry.data])
            if entry.method == 0 {
                var offset = 0
                repeat {
                    let chunk = UnsafeRawBufferPointer(
                        rebasing: data[offset..<min(data.count, offset + chunkSize)])
                    crc = CRC32.checksum(chunk, initial: crc)
                    produced += UInt64(chunk.count)
                    try body(chunk)
                    offset += chunk.count
                } while offset < data.count
            } else {
                try Self.inflate(data, name: entry.name, chunkSize: chunkSize) { chunk in
                    crc = CRC32.checksum(chunk, initial: crc)
                    produced += UInt64(chunk.count)
                    try body(chunk)
                }
            }
        }
        guard produced == entry.uncompressedSize else {
            throw Failure.truncated(
                "entry '\(entry.name)' yields \(produced) bytes, but the directory says \(entry.uncompressedSize)"
            )
        }
        guard crc == entry.crc32 else {
            throw Failure.malformed(
                "entry '\(entry.name)' fails its CRC-32 check (\(String(crc, radix: 16)) instead of \(String(entry.crc32, radix: 16)))"
            )
        }
    }

    /// Inflates a raw deflate stream, handing out 1 MiB of output at a time.
    private static func inflate(
        _ input: UnsafeRawBufferPointer, name: String, chunkSize: Int,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var stream = z_stream()
        guard czlib_inflate_init_raw(&stream) == Z_OK else {
            throw Failure.malformed("zlib could not start inflating entry '\(name)'")
        }
        defer { inflateEnd(&stream) }
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { output.deallocate() }
        var consumed = 0
        while true {
            // avail_in is 32-bit: feed at most 1 GiB at a time.
            let take = min(input.count - consumed, 1 << 30)
            stream.next_in = UnsafeMutablePointer(
                mutating: (input.baseAddress ?? UnsafeRawPointer(output.baseAddress!))
                    .advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
            stream.avail_in = UInt32(take)
            stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = UInt32(output.count)
            let status = CZlib.inflate(&stream, Z_NO_FLUSH)
            consumed += take - Int(stream.avail_in)
            let produced = output.count - Int(stream.avail_out)
            if produced > 0 {
                try body(UnsafeRawBufferPointer(rebasing: output[0..<produced]))
            }
            switch status {
            case Z_STREAM_END:
                return
            case Z_OK:
                continue
            case Z_BUF_ERROR where consumed == input.count && produced == 0:
                throw Failure.truncated("the deflate stream of entry '\(name)' ends early")
            case Z_BUF_ERROR:
                continue
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                throw Failure.malformed(
                    "entry '\(name)' is not a valid deflate stream (\(message))")
            }
        }
    }

    /// The end-of-central-directory record, read into (entry count, directory size, offset).
    private static func endRecord(
        _ bytes: UnsafeRawBufferPointer, _ reader: LittleEndianReader
    ) throws(Failure) -> (count: Int, size: UInt64, offset: UInt64) {
        let size = bytes.count
        guard size >= 4, reader.u32(0) == 0x0403_4B50 || reader.u32(0) == 0x0605_4B50 else {
            throw .malformed(
                size < 4
                    ? "the file has only \(size) bytes"
                    : "it does not start with a zip local header")
        }
        // End of central directory: 22 bytes plus a comment of up to 65535 bytes, at the end.
        var eocd = -1
        var position = size - 22
        let lowest = max(0, size - 22 - 0xFFFF)
        while position >= lowest {
            if reader.u32(position) == 0x0605_4B50 {
                eocd = position
                break
            }
            position -= 1
        }
        guard eocd >= 0 else {
            throw .truncated("no zip end-of-central-directory record (the file is cut short)")
        }
        var count = reader.u16(eocd + 10)
        var directorySize = UInt64(reader.u32(eocd + 12))
        var directoryOffset = UInt64(reader.u32(eocd + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            let locator = eocd - 20
            guard locator >= 0, reader.u32(locator) == 0x0706_4B50 else {
                throw .malformed("ZIP64 fields are set but the ZIP64 end locator is missing")
            }
            let record64 = reader.u64(locator + 8)
            guard size >= 56, record64 <= UInt64(size - 56),
                reader.u32(Int(record64)) == 0x0606_4B50
            else {
                throw .malformed(
                    "the ZIP64 end-of-central-directory record is missing or outside the file")
            }
            let at = Int(record64)
            let count64 = reader.u64(at + 32)
            guard count64 <= UInt64(Int32.max) else {
                throw .malformed("implausible entry count \(count64)")
            }
            count = Int(count64)
            directorySize = reader.u64(at + 40)
            directoryOffset = reader.u64(at + 48)
        }
        guard directoryOffset <= UInt64(size), directorySize <= UInt64(size) - directoryOffset
        else {
            throw .truncated(
                "the zip central directory (\(directorySize) bytes at \(directoryOffset)) lies outside the \(size)-byte file"
            )
        }
        return (count, directorySize, directoryOffset)
    }

    private static func readDirectory(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> [Entry] {
        let reader = LittleEndianReader(bytes: bytes)
        let size = bytes.count
        let (count, directorySize, directoryOffset) = try endRecord(bytes, reader)
        var list: [Entry] = []
        var cursor = Int(directoryOffset)
        let directoryEnd = Int(directoryOffset + directorySize)
        for _ in 0..<count {
            guard cursor + 46 <= directoryEnd, reader.u32(cursor) == 0x0201_4B50 else {
                throw .malformed("central directory entry at byte \(cursor) is damaged")
            }
            let flags = reader.u16(cursor + 8)
            let method = reader.u16(cursor + 10)
            let crc = UInt32(reader.u32(cursor + 16))
            var compressed = UInt64(reader.u32(cursor + 20))
            var uncompressed = UInt64(reader.u32(cursor + 24))
            let nameLength = reader.u16(cursor + 28)
            let extraLength = reader.u16(cursor + 30)
            let commentLength = reader.u16(cursor + 32)
            var localOffset = UInt64(reader.u32(cursor + 42))
            let nameStart = cursor + 46
            let extraStart = nameStart + nameLength
            let next = extraStart + extraLength + commentLength
            guard next <= directoryEnd else {
                throw .malformed(
                    "central directory entry at byte \(cursor) runs past the directory")
            }
            let name = String(decoding: bytes[nameStart..<extraStart], as: UTF8.self)
            // ZIP64 extended information: only the fields whose 32-bit value is all ones, in order.
            var extra = extraStart
            while extra + 4 <= extraStart + extraLength {
                let id = reader.u16(extra)
                let length = reader.u16(extra + 2)
                var field = extra + 4
                let fieldEnd = field + length
                guard fieldEnd <= extraStart + extraLength else { break }
                if id == 0x0001 {
                    func take() throws(Failure) -> UInt64 {
                        guard field + 8 <= fieldEnd else {
                            throw .malformed("entry '\(name)' has a short ZIP64 extra field")
                        }
                        defer { field += 8 }
                        return reader.u64(field)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try take() }
                    if compressed == 0xFFFF_FFFF { compressed = try take() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try take() }
                }
                extra = fieldEnd
            }
            guard flags & 1 == 0 else { throw .malformed("entry '\(name)' is encrypted") }
            guard method == 0 || method == 8 else {
                throw .malformed(
                    "entry '\(name)' uses compression method \(method); only stored (0) and deflated (8) entries are read"
                )
            }
            guard method != 0 || compressed == uncompressed else {
                throw .malformed("stored entry '\(name)' has different compressed and plain sizes")
            }
            guard size >= 30, localOffset <= UInt64(size - 30),
                reader.u32(Int(localOffset)) == 0x0403_4B50
            else {
                throw .truncated(
                    "the local header of entry '\(name)' is missing or outside the file")
            }
            let local = Int(localOffset)
            let dataStart = UInt64(local + 30 + reader.u16(local + 26) + reader.u16(local + 28))
            guard dataStart <= UInt64(size), compressed <= UInt64(size) - dataStart else {
                throw .truncated(
                    "entry '\(name)' (\(compressed) bytes at \(dataStart)) extends past the end of the \(size)-byte file"
                )
            }
            list.append(
                Entry(
                    name: name, method: method, data: Int(dataStart)..<Int(dataStart + compressed),
                    uncompressedSize: uncompressed, crc32: crc))
            cursor = next
        }
        return list
    }
}

/// Unaligned little-endian reads from a byte buffer (offsets are checked by the caller).
private struct LittleEndianReader {
    let bytes: UnsafeRawBufferPointer

    func u16(_ at: Int) -> Int {
        Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
    }
    func u32(_ at: Int) -> Int {
        Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
    }
    func u64(_ at: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }
}
