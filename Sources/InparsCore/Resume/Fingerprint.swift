import Foundation

/// 64-bit FNV-1a over strings, for short fingerprints (templates, example files, run ids).
///
/// Each string is followed by a 0xFF separator byte (never part of UTF-8), so `["ab", "c"]` and
/// `["a", "bc"]` differ.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    /// Adds `string` and a separator.
    public mutating func add(_ string: String) {
        for byte in string.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01B3
        }
        value ^= 0xFF
        value = value &* 0x100_0000_01B3
    }

    /// The value as 16 lower-case hex digits.
    public var hex: String { hex16(value) }
}

/// `value` as 16 lower-case hex digits.
func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

/// `value` as 8 lower-case hex digits.
func hex8(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 8 - digits.count) + digits
}

/// What identifies an input in a manifest: its size and a checksum of its content.
///
/// - A file: its size and the CRC-32 of every byte (`crc32:…`). Data files (corpora, runs,
///   query files) are read whole by the stages anyway, and an edit that keeps the size (a run
///   re-made with other BM25 parameters) must still be caught, so every byte counts. The
///   modification time is not used: copying inputs to a node's local disk (as Slurm jobs
///   do) changes it, and the shards of one run must agree on what they read.
/// - A folder (a model, a BM25 index): its top-level regular files (symlinks followed, hidden
///   files skipped), each by name, size and the CRC-32 of its first and last MiB
///   (`crc32-sampled:…`). Model weights run to gigabytes and change wholesale when a model is
///   retrained, so a sample of each file is enough and costs milliseconds.
///
/// The path is recorded for people and never compared: moving an input does not change it.
public struct InputIdentity: Codable, Sendable, Equatable {
    /// The path as given.
    public var path: String
    /// Bytes (for a folder, over the files fingerprinted).
    public var bytes: Int64
    /// `crc32:<8 hex>` or `crc32-sampled:<8 hex>`.
    public var checksum: String

    public init(path: String, bytes: Int64, checksum: String) {
        self.path = path
        self.bytes = bytes
        self.checksum = checksum
    }

    /// Whether two identities name the same content (the path is not compared).
    public func sameContent(as other: InputIdentity) -> Bool {
        bytes == other.bytes && checksum == other.checksum
    }

    /// `3205120 bytes, crc32:1a2b3c4d`.
    public var summary: String { "\(bytes) bytes, \(checksum)" }

    /// The identity of the file or folder at `url`.
    ///
    /// - Throws: ``InparsCoreError/fileNotFound(path:)`` or ``InparsCoreError/readFailed(path:reason:)``.
    public static func of(_ url: URL) throws -> InputIdentity {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw InparsCoreError.fileNotFound(path: url.path)
        }
        if isDirectory.boolValue { return try folder(url) }
        let (bytes, crc) = try FileChecksum.crc32(of: url)
        return InputIdentity(path: url.path, bytes: bytes, checksum: "crc32:" + hex8(crc))
    }

    private static func folder(_ url: URL) throws -> InputIdentity {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
        } catch {
            throw InparsCoreError.readFailed(path: url.path, reason: "cannot list the folder")
        }
        var crc: UInt32 = 0
        var total: Int64 = 0
        for name in names where !name.hasPrefix(".") {
            let file = url.appendingPathComponent(name).resolvingSymlinksInPath()
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory),
                !isDirectory.boolValue
            else { continue }
            let (bytes, sample) = try FileChecksum.sampledCRC32(of: file)
            total += bytes
            crc = CRC32.checksum(Array("\(name)\t\(bytes)\t\(hex8(sample))\n".utf8), initial: crc)
        }
        return InputIdentity(path: url.path, bytes: total, checksum: "crc32-sampled:" + hex8(crc))
    }
}

/// CRC-32 of files read in 1 MiB blocks.
public enum FileChecksum {
    static let block = 1 << 20

    /// The size and CRC-32 of every byte of `url`.
    public static func crc32(of url: URL) throws -> (bytes: Int64, crc: UInt32) {
        let descriptor = try openForReading(url)
        defer { close(descriptor) }
        var crc: UInt32 = 0
        var total: Int64 = 0
        try withUnsafeTemporaryAllocation(byteCount: block, alignment: 16) { buffer in
            while true {
                let got = read(descriptor, buffer.baseAddress, block)
                if got < 0 {
                    if errno == EINTR { continue }
                    throw InparsCoreError.readFailed(
                        path: url.path, reason: String(cString: strerror(errno)))
                }
                if got == 0 { break }
                crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<got]), initial: crc)
                total += Int64(got)
            }
        }
        return (total, crc)
    }

    /// The size of `url` and the CRC-32 of its first and last MiB (every byte when it is at
    /// most 2 MiB).
    public static func sampledCRC32(of url: URL) throws -> (bytes: Int64, crc: UInt32) {
        let descriptor = try openForReading(url)
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw InparsCoreError.readFailed(path: url.path, reason: String(cString: strerror(errno)))
        }
        let size = Int64(info.st_size)
        if size <= 2 * Int64(block) { return try crc32(of: url) }
        var crc: UInt32 = 0
        try withUnsafeTemporaryAllocation(byteCount: block, alignment: 16) { buffer in
            for offset in [Int64(0), size - Int64(block)] {
                var done = 0
                while done < block {
                    let got = pread(
                        descriptor, buffer.baseAddress! + done, block - done, off_t(offset) + off_t(done))
                    if got < 0 && errno == EINTR { continue }
                    guard got > 0 else {
                        throw InparsCoreError.readFailed(
                            path: url.path, reason: "short read at byte \(offset + Int64(done))")
                    }
                    done += got
                }
                crc = CRC32.checksum(UnsafeRawBufferPointer(buffer), initial: crc)
            }
        }
        return (size, crc)
    }

    private static func openForReading(_ url: URL) throws -> Int32 {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { throw InparsCoreError.fileNotFound(path: url.path) }
            throw InparsCoreError.cannotOpen(path: url.path, reason: String(cString: strerror(errno)))
        }
        return descriptor
    }
}
