import Foundation

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
        finalize().map { String(format: "%02x", $0) }.joined()
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

/// Buffers input into 64-byte blocks and appends the Merkle–Damgård length padding shared by
/// SHA-256 (big-endian length) and MD5 (little-endian length).
struct BlockBuffer {
    var pending = [UInt8](repeating: 0, count: 64)
    var pendingCount = 0
    var totalBytes: UInt64 = 0

    /// Runs `compress` on `state` for each complete 64-byte block of the input so far.
    mutating func feed<State>(
        _ bytes: UnsafeRawBufferPointer, _ state: inout State,
        _ compress: (inout State, UnsafeRawPointer) -> Void
    ) {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        totalBytes &+= UInt64(remaining)
        if pendingCount > 0 {
            let take = min(64 - pendingCount, remaining)
            pending.withUnsafeMutableBytes {
                $0.baseAddress!.advanced(by: pendingCount).copyMemory(
                    from: pointer, byteCount: take)
            }
            pendingCount += take
            pointer += take
            remaining -= take
            if pendingCount < 64 { return }
            pending.withUnsafeBytes { compress(&state, $0.baseAddress!) }
            pendingCount = 0
        }
        while remaining >= 64 {
            compress(&state, pointer)
            pointer += 64
            remaining -= 64
        }
        if remaining > 0 {
            pending.withUnsafeMutableBytes {
                $0.baseAddress!.copyMemory(from: pointer, byteCount: remaining)
            }
            pendingCount = remaining
        }
    }

    /// Pads (0x80, zeros, the bit length in 8 bytes) and compresses the last block(s).
    mutating func pad<State>(
        bigEndianLength: Bool, _ state: inout State,
        _ compress: (inout State, UnsafeRawPointer) -> Void
    ) {
        let bits = totalBytes &* 8
        var tail = [UInt8](pending[0..<pendingCount])
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for index in 0..<8 {
            let shift = bigEndianLength ? UInt64(56 - 8 * index) : UInt64(8 * index)
            tail.append(UInt8(truncatingIfNeeded: bits >> shift))
        }
        tail.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                compress(&state, raw.baseAddress! + offset)
                offset += 64
            }
        }
        pendingCount = 0
    }
}

/// SHA-256 (FIPS 180-4): the checksum the Hugging Face Hub gives LFS files as their ETag.
public struct SHA256: StreamingDigest {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a,
        0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )
    private var buffer = BlockBuffer()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        buffer.feed(bytes, &state, Self.compress)
    }

    public mutating func finalize() -> [UInt8] {
        buffer.pad(bigEndianLength: true, &state, Self.compress)
        let words = [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7]
        return words.flatMap { word in
            (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * $0)) }
        }
    }

    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4,
        0xab1c_5ed5, 0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe,
        0x9bdc_06a7, 0xc19b_f174, 0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f,
        0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da, 0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7,
        0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967, 0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc,
        0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85, 0xa2bf_e8a1, 0xa81a_664b,
        0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070, 0x19a4_c116,
        0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7,
        0xc671_78f2,
    ]

    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x &>> n) | (x &<< (32 &- n)) }

    /// One 64-byte block: the message schedule lives in a stack buffer (no allocation).
    private static func compress(
        _ h: inout (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32),
        _ block: UnsafeRawPointer
    ) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for i in 0..<16 {
                w[i] = UInt32(
                    bigEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] &>> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] &>> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = h
            k.withUnsafeBufferPointer { k in
                for i in 0..<64 {
                    let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                    let choice = (e & f) ^ (~e & g)
                    let t1 = hh &+ s1 &+ choice &+ k[i] &+ w[i]
                    let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                    let majority = (a & b) ^ (a & c) ^ (b & c)
                    let t2 = s0 &+ majority
                    hh = g
                    g = f
                    f = e
                    e = d &+ t1
                    d = c
                    c = b
                    b = a
                    a = t1 &+ t2
                }
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e, h.5 &+ f, h.6 &+ g, h.7 &+ hh)
        }
    }
}

/// MD5 (RFC 1321): the checksum BEIR publishes for its data set zips. Not for security.
public struct MD5: StreamingDigest {
    private var state: (UInt32, UInt32, UInt32, UInt32) = (
        0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476
    )
    private var buffer = BlockBuffer()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        buffer.feed(bytes, &state, Self.compress)
    }

    public mutating func finalize() -> [UInt8] {
        buffer.pad(bigEndianLength: false, &state, Self.compress)
        let words = [state.0, state.1, state.2, state.3]
        return words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
    }

    /// Per-round shift amounts and the sine-derived constants of RFC 1321 §3.4.
    private static let shifts: [UInt32] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
        5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
        6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ]
    private static let constants: [UInt32] = (0..<64).map {
        UInt32(truncatingIfNeeded: Int64(abs(sin(Double($0 + 1))) * 4_294_967_296))
    }

    private static func compress(
        _ h: inout (UInt32, UInt32, UInt32, UInt32), _ block: UnsafeRawPointer
    ) {
        var (a, b, c, d) = h
        for i in 0..<64 {
            var f: UInt32
            let g: Int
            switch i >> 4 {
            case 0: f = (b & c) | (~b & d); g = i
            case 1: f = (d & b) | (~d & c); g = (5 * i + 1) & 15
            case 2: f = b ^ c ^ d; g = (3 * i + 5) & 15
            default: f = c ^ (b | ~d); g = (7 * i) & 15
            }
            let word = UInt32(
                littleEndian: block.loadUnaligned(fromByteOffset: 4 * g, as: UInt32.self))
            f = f &+ a &+ constants[i] &+ word
            a = d
            d = c
            c = b
            let s = shifts[i]
            b = b &+ ((f &<< s) | (f &>> (32 &- s)))
        }
        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d)
    }
}
