/// SentencePiece's `precompiled_charsmap`: the normalisation rules (e.g. `nmt_nfkc`) compiled
/// into a darts-clone double-array trie over UTF-8 byte strings, plus a pool of
/// NUL-terminated replacement strings.
///
/// Layout: a little-endian `UInt32` giving the trie's size in bytes, the trie's 32-bit units,
/// then the replacement pool. A trie key is a source character sequence (UTF-8); its value
/// is the byte offset of the replacement in the pool.
///
/// Two lookups exist because the two reference implementations differ:
/// - ``longestPrefix(_:from:to:)`` is SentencePiece's `Normalizer::NormalizePrefix` (the
///   longest key that prefixes the input);
/// - ``firstPrefix(_:from:to:)`` is HF `spm_precompiled`'s `transform` (the *shortest* key
///   that prefixes the chunk; the caller replaces the whole chunk with its value).
struct PrecompiledCharsmap: Sendable {
    /// darts-clone units.
    let units: [UInt32]
    /// NUL-terminated replacement strings.
    let pool: [UInt8]

    init(blob: [UInt8], path: String) throws(TokenizerError) {
        guard blob.count >= 4 else {
            throw .invalidField(path: path, field: "precompiled_charsmap", reason: "shorter than 4 bytes")
        }
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieSize % 4 == 0, trieSize <= blob.count - 4 else {
            throw .invalidField(
                path: path, field: "precompiled_charsmap",
                reason: "trie size \(trieSize) does not fit in \(blob.count) bytes")
        }
        var units = [UInt32](repeating: 0, count: trieSize / 4)
        for i in 0..<units.count {
            let o = 4 + 4 * i
            units[i] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16
                | UInt32(blob[o + 3]) << 24
        }
        self.units = units
        self.pool = Array(blob[(4 + trieSize)...])
    }

    // darts-clone unit accessors.
    @inline(__always) private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ unit: UInt32) -> Int { Int(unit & 0x7FFF_FFFF) }
    @inline(__always) private static func label(_ unit: UInt32) -> UInt32 { unit & 0x8000_00FF }
    @inline(__always) private static func offset(_ unit: UInt32) -> Int {
        Int((unit >> 10) << ((unit & (1 << 9)) >> 6))
    }

    /// Walks the trie over `key[from..<to]`, calling `body(length, value)` for each key that
    /// prefixes it, shortest first, until `body` returns `false`.
    @inline(__always)
    private func walk(
        _ key: UnsafeBufferPointer<UInt8>, from: Int, to: Int, _ body: (Int, Int) -> Bool
    ) {
        units.withUnsafeBufferPointer { units in
            guard !units.isEmpty else { return }
            var nodePos = Self.offset(units[0])
            var i = from
            while i < to {
                let c = key[i]
                nodePos ^= Int(c)
                guard nodePos < units.count else { return }
                let unit = units[nodePos]
                guard Self.label(unit) == UInt32(c) else { return }
                nodePos ^= Self.offset(unit)
                i += 1
                if Self.hasLeaf(unit) {
                    guard nodePos < units.count else { return }
                    if !body(i - from, Self.value(units[nodePos])) { return }
                }
            }
        }
    }

    /// The longest rule matching at `key[from...]` (bounded by `to`): the number of input
    /// bytes it consumes and the pool offset of its replacement.
    func longestPrefix(_ key: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> (length: Int, value: Int)? {
        var best: (Int, Int)?
        walk(key, from: from, to: to) { length, value in
            best = (length, value)
            return true
        }
        return best
    }

    /// The shortest rule matching at `key[from...]` (bounded by `to`), as HF's `transform`.
    func firstPrefix(_ key: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> (length: Int, value: Int)? {
        var first: (Int, Int)?
        walk(key, from: from, to: to) { length, value in
            first = (length, value)
            return false
        }
        return first
    }

    /// Appends the replacement string stored at `value` (up to its NUL) to `output`.
    /// An offset outside the pool appends nothing.
    @inline(__always)
    func appendReplacement(_ value: Int, to output: inout [UInt8]) {
        pool.withUnsafeBufferPointer { pool in
            var i = value
            while i < pool.count, pool[i] != 0 {
                output.append(pool[i])
                i += 1
            }
        }
    }
}
