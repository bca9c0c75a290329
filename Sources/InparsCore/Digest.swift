import Foundation

internal import CCrypto

/// A streaming message digest: feed bytes with ``update(_:)`` in any chunking, then read
/// ``finalize()`` once.
public protocol StreamingDigest {
    init()
    /// Adds `bytes` to the message.
    mutating func update(_ bytes: UnsafeRawBufferPointer)
    /// The digest of everything fed so far (the value is spent afterwards).
    mutating func finalize() -> [UInt8]
}

extension StreamingDigest {
    /// Adds the bytes of `data`.
    public mutating func update(_ data: Data) { data.withUnsafeBytes { update($0) } }

    /// The lower-case hexadecimal digest of everything fed so far.
    public mutating func finalizeHex() -> String {
        // By table, not `String(format:)`, which costs tens of microseconds a digest through
        // Foundation's formatter (manifests hex several digests as a command starts).
        let digits = Array("0123456789abcdef".utf8)
        let bytes = finalize()
        return String(unsafeUninitializedCapacity: 2 * bytes.count) { out in
            for (i, byte) in bytes.enumerated() {
                out[2 * i] = digits[Int(byte >> 4)]
                out[2 * i + 1] = digits[Int(byte & 0x0F)]
            }
            return 2 * bytes.count
        }
    }

    /// Adds the bytes of the file at `url`, read in 4 MiB chunks.
    ///
    /// - Throws: ``InparsCoreError/cannotOpen(path:reason:)`` or `readFailed`.
    public mutating func update(contentsOf url: URL) throws {
        try DigestFileReader.forEachChunk(of: url) { update($0) }
    }

    /// The lower-case hexadecimal digest of the file at `url`.
    public static func hex(ofFile url: URL) throws -> String {
        var digest = Self()
        try digest.update(contentsOf: url)
        return digest.finalizeHex()
    }
}

/// Reads a file in large chunks for digests (no mapping: the file may be growing elsewhere).
enum DigestFileReader {
    static func forEachChunk(of url: URL, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw InparsCoreError.cannotOpen(
                path: url.path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 22, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw InparsCoreError.readFailed(
                    path: url.path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { return }
            body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }
}

/// An OpenSSL digest state (`CCrypto/shim.h`), freed with its owner. The value types below
/// share one when copied; a digest is fed and finalized by one owner.
final class DigestContext: @unchecked Sendable {
    // Invariant behind `@unchecked Sendable`: used by one owner at a time (the digest value).
    let context: UnsafeMutablePointer<ccrypto_digest>
    var finalized = false

    /// kind 0 = MD5, 1 = SHA-256.
    init(kind: Int32) {
        guard let context = ccrypto_digest_new(kind) else {
            preconditionFailure("OpenSSL could not create a digest context (out of memory?)")
        }
        self.context = context
    }

    deinit { ccrypto_digest_free(context) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        ccrypto_digest_update(context, base, bytes.count)
    }

    func finalize(length: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 32)
        if !finalized { ccrypto_digest_final(context, &output) }
        finalized = true
        return Array(output.prefix(length))
    }
}

/// SHA-256 (FIPS 180-4): the checksum the Hugging Face Hub gives LFS files as their ETag.
/// Through OpenSSL's libcrypto (SHA-NI where the CPU has it).
public struct SHA256: StreamingDigest {
    private let context = DigestContext(kind: 1)

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) { context.update(bytes) }

    public mutating func finalize() -> [UInt8] { context.finalize(length: 32) }
}

/// MD5 (RFC 1321): the checksum BEIR publishes for its data set zips. Not for security.
public struct MD5: StreamingDigest {
    private let context = DigestContext(kind: 0)

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) { context.update(bytes) }

    public mutating func finalize() -> [UInt8] { context.finalize(length: 16) }
}
