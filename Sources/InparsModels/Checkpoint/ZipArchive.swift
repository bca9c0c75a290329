import Foundation
import InparsCore

/// The stored (uncompressed) entries of a zip archive, found through its central directory.
///
/// Enough of PKWARE's APPNOTE.TXT (sections 4.3.7 local header, 4.3.12 central directory,
/// 4.3.14–4.3.16 ZIP64 end records, 4.5.3 ZIP64 extra field) for `torch.save` archives, which
/// store every entry uncompressed and switch to ZIP64 past 4 GiB. Compressed or encrypted
/// entries are refused by name. Entries are byte ranges into the memory-mapped file.
struct ZipArchive: Sendable {
    /// Entry name → absolute byte range of its (stored) data in the file.
    let entries: [String: Range<Int>]
    /// The entry names in central-directory order.
    let names: [String]
    let file: MappedFile

    init(file: MappedFile) throws(CheckpointError) {
        self.file = file
        let path = file.path
        let (names, entries) = try file.withBytes { bytes throws(CheckpointError) in
            try Self.readDirectory(bytes, path: path)
        }
        self.names = names
        self.entries = entries
    }

    private static func fail(_ path: String, _ reason: String) -> CheckpointError {
        .malformedArchive(file: path, reason: reason)
    }

    /// Little-endian reads from the mapped file.
    private struct Bytes {
        let raw: UnsafeRawBufferPointer
        var count: Int { raw.count }
        func u16(_ at: Int) -> Int {
            Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
        }
        func u32(_ at: Int) -> Int {
            Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        }
        func u64(_ at: Int) -> UInt64 {
            UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
        }
    }

    private static func readDirectory(
        _ raw: UnsafeRawBufferPointer, path: String
    ) throws(CheckpointError) -> ([String], [String: Range<Int>]) {
        let bytes = Bytes(raw: raw)
        let size = bytes.count
        guard size >= 4, bytes.u32(0) == 0x0403_4B50 else {
            throw fail(
                path,
                size < 4
                    ? "the file has only \(size) bytes"
                    : "it does not start with a zip local header (the legacy pre-1.6 torch.save format is not supported; re-save it with a current torch)"
            )
        }
        let directory = try centralDirectory(bytes, path: path)
        guard directory.offset <= UInt64(size), directory.size <= UInt64(size) - directory.offset
        else {
            throw .truncated(
                file: path,
                detail:
                    "the zip central directory (\(directory.size) bytes at \(directory.offset)) lies outside the \(size)-byte file"
            )
        }
        var names: [String] = []
        var entries: [String: Range<Int>] = [:]
        var cursor = Int(directory.offset)
        let directoryEnd = Int(directory.offset + directory.size)
        for _ in 0..<directory.count {
            let entry = try self.entry(bytes, at: cursor, directoryEnd: directoryEnd, path: path)
            guard entries[entry.name] == nil else {
                throw fail(path, "entry '\(entry.name)' appears twice")
            }
            entries[entry.name] = entry.data
            names.append(entry.name)
            cursor = entry.next
        }
        return (names, entries)
    }

    /// The entry count, size and offset of the central directory, from the end-of-central-
    /// directory record (22 bytes plus a comment of up to 65535 bytes, at the end) or, when its
    /// fields are saturated, the ZIP64 end record it points to.
    private static func centralDirectory(_ bytes: Bytes, path: String) throws(CheckpointError)
        -> (count: Int, size: UInt64, offset: UInt64)
    {
        let size = bytes.count
        var eocd = -1
        var position = size - 22
        let lowest = max(0, size - 22 - 0xFFFF)
        while position >= lowest {
            if bytes.u32(position) == 0x0605_4B50 {
                eocd = position
                break
            }
            position -= 1
        }
        guard eocd >= 0 else {
            throw .truncated(
                file: path, detail: "no zip end-of-central-directory record (the file is cut short)"
            )
        }
        let count = bytes.u16(eocd + 10)
        let directorySize = UInt64(bytes.u32(eocd + 12))
        let directoryOffset = UInt64(bytes.u32(eocd + 16))
        guard count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF
        else { return (count, directorySize, directoryOffset) }
        let locator = eocd - 20
        guard locator >= 0, bytes.u32(locator) == 0x0706_4B50 else {
            throw fail(path, "ZIP64 fields are set but the ZIP64 end locator is missing")
        }
        let record64 = bytes.u64(locator + 8)
        guard size >= 56, record64 <= UInt64(size - 56), bytes.u32(Int(record64)) == 0x0606_4B50
        else {
            throw fail(
                path, "the ZIP64 end-of-central-directory record is missing or outside the file")
        }
        let at = Int(record64)
        let count64 = bytes.u64(at + 32)
        guard count64 <= UInt64(Int32.max) else {
            throw fail(path, "implausible entry count \(count64)")
        }
        return (Int(count64), bytes.u64(at + 40), bytes.u64(at + 48))
    }

    /// The central-directory entry at `cursor`: its name, the byte range of its stored data
    /// (checked against its local header and the file), and where the next entry starts.
    private static func entry(
        _ bytes: Bytes, at cursor: Int, directoryEnd: Int, path: String
    ) throws(CheckpointError) -> (name: String, data: Range<Int>, next: Int) {
        let size = bytes.count
        guard cursor + 46 <= directoryEnd, bytes.u32(cursor) == 0x0201_4B50 else {
            throw fail(path, "central directory entry at byte \(cursor) is damaged")
        }
        let flags = bytes.u16(cursor + 8)
        let method = bytes.u16(cursor + 10)
        var compressed = UInt64(bytes.u32(cursor + 20))
        var uncompressed = UInt64(bytes.u32(cursor + 24))
        let nameLength = bytes.u16(cursor + 28)
        let extraLength = bytes.u16(cursor + 30)
        let commentLength = bytes.u16(cursor + 32)
        var localOffset = UInt64(bytes.u32(cursor + 42))
        let nameStart = cursor + 46
        let extraStart = nameStart + nameLength
        let next = extraStart + extraLength + commentLength
        guard next <= directoryEnd else {
            throw fail(path, "central directory entry at byte \(cursor) runs past the directory")
        }
        let name = String(decoding: bytes.raw[nameStart..<extraStart], as: UTF8.self)
        // ZIP64 extended information: only the fields whose 32-bit value is all ones, in order.
        var extra = extraStart
        while extra + 4 <= extraStart + extraLength {
            let id = bytes.u16(extra)
            var field = extra + 4
            let fieldEnd = field + bytes.u16(extra + 2)
            guard fieldEnd <= extraStart + extraLength else { break }
            if id == 0x0001 {
                func take() throws(CheckpointError) -> UInt64 {
                    guard field + 8 <= fieldEnd else {
                        throw fail(path, "entry '\(name)' has a short ZIP64 extra field")
                    }
                    defer { field += 8 }
                    return bytes.u64(field)
                }
                if uncompressed == 0xFFFF_FFFF { uncompressed = try take() }
                if compressed == 0xFFFF_FFFF { compressed = try take() }
                if localOffset == 0xFFFF_FFFF { localOffset = try take() }
            }
            extra = fieldEnd
        }
        guard flags & 1 == 0 else { throw fail(path, "entry '\(name)' is encrypted") }
        guard method == 0, compressed == uncompressed else {
            throw fail(
                path,
                "entry '\(name)' is compressed (method \(method)); torch.save stores entries uncompressed"
            )
        }
        guard size >= 30, localOffset <= UInt64(size - 30),
            bytes.u32(Int(localOffset)) == 0x0403_4B50
        else {
            throw .truncated(
                file: path,
                detail: "the local header of entry '\(name)' is missing or outside the file")
        }
        let local = Int(localOffset)
        let dataStart = UInt64(local + 30 + bytes.u16(local + 26) + bytes.u16(local + 28))
        guard dataStart <= UInt64(size), compressed <= UInt64(size) - dataStart else {
            throw .truncated(
                file: path,
                detail:
                    "entry '\(name)' (\(compressed) bytes at \(dataStart)) extends past the end of the \(size)-byte file"
            )
        }
        return (name, Int(dataStart)..<Int(dataStart + compressed), next)
    }

    /// The bytes of entry `name` (a copy; for the small `data.pkl` and text entries).
    func contents(of name: String) -> [UInt8]? {
        guard let range = entries[name] else { return nil }
        return file.withBytes { Array($0[range]) }
    }
}
