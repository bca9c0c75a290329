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
    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// What identifies an input in a manifest: its size and a checksum of its content.
///
/// - A file: its size and the SHA-256 of every byte (`sha256:…`, what `sha256sum` prints).
///   Data files (corpora, runs, query files) are read whole by the stages anyway, and an edit
///   that keeps the size (a run re-made with other BM25 parameters) must still be caught, so
///   every byte counts; SHA-256 through libcrypto runs at over a GB/s. The modification time
///   is not used: copying inputs to a node's local disk (as Slurm jobs do) changes it, and the
///   shards of one run must agree on what they read.
/// - A folder (a model, a BM25 index): its top-level regular files (symlinks followed, hidden
///   files skipped), each by name, size and the SHA-256 of its first and last MiB
///   (`sha256-sampled:…`). Model weights run to gigabytes and change wholesale when a model is
///   retrained, so a sample of each file is enough and costs milliseconds.
/// - A folder whose format names its own content more cheaply: ``of(folder:scheme:digest:)``
///   with a digest for the files it knows (a BM25 index's `index.bin` by its header, which
///   holds a CRC-32 of every section: `InparsBM25`'s `BM25Index.identity(of:)`), the others
///   sampled as above, under the format's own scheme name.
///
/// The path is recorded for people and never compared: moving an input does not change it.
public struct InputIdentity: Codable, Sendable, Equatable {
    /// The path as given.
    public var path: String
    /// Bytes (for a folder, over the files fingerprinted).
    public var bytes: Int64
    /// `<scheme>:<64 hex>`: `sha256` (a file), `sha256-sampled` (a folder), or a folder
    /// format's scheme (``of(folder:scheme:digest:)``).
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

    /// How the checksum was made: the text before its first `:` (`sha256`, `sha256-sampled`).
    /// Identities of different schemes cannot say whether their contents are equal.
    public var scheme: Substring { checksum.prefix { $0 != ":" } }

    /// `3205120 bytes, sha256:1a2b3c4d…` (the checksum shortened for messages).
    public var summary: String {
        let short = checksum.count > 24 ? String(checksum.prefix(24)) + "…" : checksum
        return "\(bytes) bytes, \(short)"
    }

    /// The identity of the file or folder at `url`.
    ///
    /// - Throws: ``InparsCoreError/fileNotFound(path:)`` or ``InparsCoreError/readFailed(path:reason:)``.
    public static func of(_ url: URL) throws -> InputIdentity {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw InparsCoreError.fileNotFound(path: url.path)
        }
        if isDirectory.boolValue { return try folder(url) }
        var digest = SHA256()
        var bytes: Int64 = 0
        try DigestFileReader.forEachChunk(of: url) {
            digest.update($0)
            bytes += Int64($0.count)
        }
        return InputIdentity(path: url.path, bytes: bytes, checksum: "sha256:" + digest.finalizeHex())
    }

    private static func folder(_ url: URL) throws -> InputIdentity {
        try of(folder: url, scheme: "sha256-sampled") { _, _ in nil }
    }

    /// The identity of the folder at `url` under `scheme`: a SHA-256 over each top-level
    /// regular file's line `name<TAB>size<TAB>digest` (names sorted, hidden files skipped,
    /// symlinks followed), where `digest(name, file)` gives a file's digest (any text that
    /// changes whenever the file's content does) or `nil` for the SHA-256 of its first and
    /// last MiB.
    ///
    /// For folder formats that can name their content without reading it: the format's module
    /// supplies `digest` for the files it knows and picks a `scheme` of its own, so identities
    /// made with and without it are never taken for each other (``scheme``).
    ///
    /// - Throws: ``InparsCoreError/fileNotFound(path:)`` or ``InparsCoreError/readFailed(path:reason:)``;
    ///   whatever `digest` throws.
    public static func of(
        folder url: URL, scheme: String,
        digest: (_ name: String, _ file: URL) throws -> String?
    ) throws -> InputIdentity {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory),
            isDirectory.boolValue
        else { throw InparsCoreError.fileNotFound(path: url.path) }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
        } catch {
            throw InparsCoreError.readFailed(path: url.path, reason: "cannot list the folder")
        }
        var lines = SHA256()
        var total: Int64 = 0
        for name in names where !name.hasPrefix(".") {
            let file = url.appendingPathComponent(name).resolvingSymlinksInPath()
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory),
                !isDirectory.boolValue
            else { continue }
            let bytes: Int64
            let sample: String
            if let own = try digest(name, file) {
                guard let size = AppendFile.size(of: file) else {
                    throw InparsCoreError.readFailed(path: file.path, reason: "cannot stat it")
                }
                (bytes, sample) = (size, own)
            } else {
                (bytes, sample) = try sampledSHA256(of: file)
            }
            total += bytes
            lines.update(Data("\(name)\t\(bytes)\t\(sample)\n".utf8))
        }
        return InputIdentity(path: url.path, bytes: total, checksum: scheme + ":" + lines.finalizeHex())
    }

    /// The size of `url` and the SHA-256 of its first and last MiB (of every byte when it is
    /// at most 2 MiB).
    static func sampledSHA256(of url: URL) throws -> (bytes: Int64, hex: String) {
        let block = 1 << 20
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw InparsCoreError.cannotOpen(path: url.path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw InparsCoreError.readFailed(path: url.path, reason: String(cString: strerror(errno)))
        }
        let size = Int64(info.st_size)
        var digest = SHA256()
        let offsets: [Int64] = size <= 2 * Int64(block) ? [0] : [0, size - Int64(block)]
        let length = size <= 2 * Int64(block) ? Int(size) : block
        try withUnsafeTemporaryAllocation(byteCount: max(length, 1), alignment: 16) { buffer in
            let wanted = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
            for offset in offsets {
                let done = try FileBytes.read(descriptor, into: wanted, at: offset, path: url.path)
                guard done == length else {
                    throw InparsCoreError.readFailed(
                        path: url.path, reason: "short read at byte \(offset + Int64(done))")
                }
                digest.update(UnsafeRawBufferPointer(wanted))
            }
        }
        return (size, digest.finalizeHex())
    }
}
