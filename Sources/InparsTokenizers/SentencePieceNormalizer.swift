/// SentencePiece's own normaliser (`normalizer.cc`, `Normalizer::Normalize`), byte for byte.
///
/// 1. At each position the longest `precompiled_charsmap` rule that matches is applied
///    (`NormalizePrefix`); where none matches, the character is copied.
/// 2. With `remove_extra_whitespaces`, leading spaces are dropped, runs of spaces become one
///    and trailing spaces are dropped ("space" is U+0020 *after* the charsmap, which maps
///    tabs, newlines and most Unicode spaces to it in `nmt_nfkc`).
/// 3. With `add_dummy_prefix`, `▁` is put in front of non-empty text.
/// 4. With `escape_whitespaces`, every remaining space becomes `▁` (U+2581).
struct SentencePieceNormalizer: Sendable {
    let charsmap: PrecompiledCharsmap?
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool

    /// Normalises UTF-8 `input`, appending to `output`.
    func normalize(_ input: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        let space: [UInt8] = escapeWhitespaces ? UTF8Scanning.metaspace : [0x20]
        let emptyPool: [UInt8] = []
        (charsmap?.pool ?? emptyPool).withUnsafeBufferPointer { pool in
            // The normalised form of the character(s) at `position`: (bytes, start, count, consumed).
            func prefix(_ position: Int) -> (UnsafeBufferPointer<UInt8>, Int, Int, Int) {
                if let charsmap, let match = charsmap.longestPrefix(input, from: position, to: input.count) {
                    var end = match.value
                    while end < pool.count, pool[end] != 0 { end += 1 }
                    let start = min(match.value, end)
                    return (pool, start, end - start, match.length)
                }
                let length = min(UTF8Scanning.sequenceLength(input[position]), input.count - position)
                return (input, position, length, length)
            }
            func isSingleSpace(_ p: (UnsafeBufferPointer<UInt8>, Int, Int, Int)) -> Bool {
                p.2 == 1 && p.0[p.1] == 0x20
            }

            var position = 0
            if removeExtraWhitespaces {
                while position < input.count {
                    let p = prefix(position)
                    if !isSingleSpace(p) { break }
                    position += p.3
                }
            }
            if position == input.count { return }
            let outputStart = output.count
            if addDummyPrefix { output.append(contentsOf: space) }

            var previousIsSpace = removeExtraWhitespaces
            while position < input.count {
                let (bytes, start, count, consumed) = prefix(position)
                var first = start
                let end = start + count
                if previousIsSpace {
                    while first < end, bytes[first] == 0x20 { first += 1 }
                }
                if first < end {
                    for i in first..<end {
                        if bytes[i] == 0x20 {
                            output.append(contentsOf: space)
                        } else {
                            output.append(bytes[i])
                        }
                    }
                    previousIsSpace = bytes[end - 1] == 0x20
                }
                position += consumed
                if !removeExtraWhitespaces { previousIsSpace = false }
            }
            if removeExtraWhitespaces {
                while output.count - outputStart >= space.count,
                    output[(output.count - space.count)...].elementsEqual(space)
                {
                    output.removeLast(space.count)
                }
            }
        }
    }
}
