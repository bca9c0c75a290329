import Foundation

/// A hash table from UTF-8 term bytes to dense ids, with the bytes kept in one arena, so that
/// looking up a token allocates nothing (no `String`, no SipHash).
struct TermTable {
    private var arena: [UInt8] = []
    private var offsets: [Int32] = [0]
    private var hashes: [UInt64] = []
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int = 1 << 12) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    /// Number of terms.
    var count: Int { hashes.count }

    /// FNV-1a over the bytes, then a multiplicative mix.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
    }

    /// The id of `term`, inserting it if new.
    @inline(__always)
    mutating func id(for term: UnsafeBufferPointer<UInt8>) -> Int32 {
        let h = Self.hash(term)
        var slot = Int(truncatingIfNeeded: h >> 20) & mask
        while true {
            let existing = slots[slot]
            if existing < 0 { break }
            if hashes[Int(existing)] == h && equals(Int(existing), term) { return existing }
            slot = (slot + 1) & mask
        }
        let id = Int32(hashes.count)
        slots[slot] = id
        hashes.append(h)
        arena.append(contentsOf: term)
        offsets.append(Int32(arena.count))
        if hashes.count * 2 > slots.count { grow() }
        return id
    }

    @inline(__always)
    private func equals(_ id: Int, _ term: UnsafeBufferPointer<UInt8>) -> Bool {
        let from = Int(offsets[id])
        let to = Int(offsets[id + 1])
        guard to - from == term.count else { return false }
        return arena.withUnsafeBufferPointer { all in
            term.count == 0 || memcmp(all.baseAddress! + from, term.baseAddress!, term.count) == 0
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for (id, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h >> 20) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(id)
        }
    }

    /// Calls `body` with the UTF-8 bytes of term `id`.
    @inline(__always)
    func withBytes<R>(_ id: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let from = Int(offsets[id])
        let to = Int(offsets[id + 1])
        return try arena.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[from..<to])) }
    }

    /// All ids, ordered by their terms' bytes (memcmp order, shorter first on a common prefix).
    func idsInByteOrder() -> [Int32] {
        var ids = (0..<Int32(count)).map { $0 }
        arena.withUnsafeBufferPointer { bytes in
            offsets.withUnsafeBufferPointer { offsets in
                ids.sort { a, b in
                    let fa = Int(offsets[Int(a)])
                    let fb = Int(offsets[Int(b)])
                    return compareBytes(
                        UnsafeBufferPointer(rebasing: bytes[fa..<Int(offsets[Int(a) + 1])]),
                        UnsafeBufferPointer(rebasing: bytes[fb..<Int(offsets[Int(b) + 1])])) < 0
                }
            }
        }
        return ids
    }

    /// The term with `id` as a `String`.
    func string(_ id: Int) -> String {
        let from = Int(offsets[id])
        let to = Int(offsets[id + 1])
        return arena.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[from..<to]), as: UTF8.self)
        }
    }
}
