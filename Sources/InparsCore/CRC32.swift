internal import CZlib
internal import CKernels

/// CRC-32 (IEEE 802.3, zlib's `crc32`), for checksumming binary file sections.
public enum CRC32 {
    /// The CRC-32 of `bytes`, continuing from `initial` (0 for a fresh checksum).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return initial }
        // Carry-less multiplication where the CPU has it (about 10× zlib's table-driven loop),
        // zlib for the rest.
        var folded = initial
        var offset = inpars_crc32_prefix(&folded, base, bytes.count)
        var crc = UInt(folded)
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, 1 << 30)
            crc = crc32(
                crc, base + offset, UInt32(chunk))
            offset += chunk
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// The CRC-32 of an array's bytes.
    public static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, initial: initial) }
    }
}
