/// A byte-pair-encoding model (HF `models.BPE`), for byte-level BPE (Llama 3, Qwen2, GPT-2,
/// SmolLM) and SentencePiece-style BPE with byte fallback (Llama 2, Mistral, TinyLlama).
///
/// Each pre-token is encoded on its own (`BPE::merge_word` + `Word::merge_all`):
///
/// 1. with `ignore_merges`, a pre-token that is itself a vocabulary token is that token;
/// 2. every character becomes its vocabulary token; a character without one becomes its
///    `<0xNN>` byte tokens (`byte_fallback`) or the unknown token (runs fused with `fuse_unk`);
/// 3. merges are applied lowest rank first, leftmost first among equal ranks, through a
///    priority queue exactly as HF's (including its check that a queued merge still yields the
///    same token).
struct BPEModel: Sendable {
    /// The vocabulary (token → id).
    let trie: PieceTrie
    /// `(left << 32 | right)` → `(rank << 32 | merged id)`.
    let merges: [UInt64: UInt64]
    let unkID: Int32?
    let fuseUnknown: Bool
    /// With `byte_fallback`: the id of `<0xNN>` for every byte (-1 where absent); else empty.
    let byteTokens: [Int32]
    let continuingSubwordPrefix: [UInt8]
    let endOfWordSuffix: [UInt8]
    let ignoreMerges: Bool

    @inline(__always)
    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Appends the ids of each range of `text` to `ids`.
    func encode(_ text: UnsafeBufferPointer<UInt8>, ranges: [Range<Int>], into ids: inout [Int32]) {
        var word = Word()
        trie.withView { trie in
            for range in ranges where !range.isEmpty {
                if ignoreMerges {
                    let id = trie.id(text, range)
                    if id >= 0 {
                        ids.append(id)
                        continue
                    }
                }
                word.removeAll()
                symbols(text, range, trie, into: &word)
                word.mergeAll(merges)
                word.appendIDs(to: &ids)
            }
        }
    }

    /// Step 2: the initial symbols of one pre-token.
    private func symbols(
        _ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ trie: PieceTrie.View,
        into word: inout Word
    ) {
        let plain = continuingSubwordPrefix.isEmpty && endOfWordSuffix.isEmpty
        var pendingUnknown: (id: Int32, length: Int32)?
        var i = range.lowerBound
        var spelled: [UInt8] = []
        while i < range.upperBound {
            let length = min(UTF8Scanning.sequenceLength(text[i]), range.upperBound - i)
            let id: Int32
            if plain {
                id = trie.id(text, i..<(i + length))
            } else {
                spelled.removeAll(keepingCapacity: true)
                if i > range.lowerBound { spelled += continuingSubwordPrefix }
                spelled += text[i..<(i + length)]
                if i + length == range.upperBound { spelled += endOfWordSuffix }
                id = spelled.withUnsafeBufferPointer { trie.id($0, 0..<$0.count) }
            }
            if id >= 0 {
                if let unknown = pendingUnknown {
                    word.add(unknown.id, length: unknown.length)
                    pendingUnknown = nil
                }
                word.add(id, length: Int32(length))
            } else if !byteTokens.isEmpty, addByteTokens(text, i..<(i + length), plain, spelled, &word) {
                // byte fallback (HF does not flush a pending unknown token here)
            } else if let unkID {
                if let unknown = pendingUnknown {
                    if fuseUnknown {
                        pendingUnknown = (unknown.id, unknown.length + Int32(length))
                    } else {
                        word.add(unknown.id, length: unknown.length)
                        pendingUnknown = (unkID, Int32(length))
                    }
                } else {
                    pendingUnknown = (unkID, Int32(length))
                }
            }
            i += length
        }
        if let unknown = pendingUnknown { word.add(unknown.id, length: unknown.length) }
    }

    /// The `<0xNN>` tokens of a character (of its spelling with prefix/suffix, as HF), if all exist.
    private func addByteTokens(
        _ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ plain: Bool, _ spelled: [UInt8],
        _ word: inout Word
    ) -> Bool {
        let bytes = plain ? Array(text[range]) : spelled
        guard bytes.allSatisfy({ byteTokens[Int($0)] >= 0 }) else { return false }
        for byte in bytes { word.add(byteTokens[Int(byte)], length: 1) }
        return true
    }
}

extension BPEModel {
    /// HF's `Word`: symbols in a doubly linked list over an array, merged in place.
    struct Word {
        private var ids: [Int32] = []
        private var previous: [Int32] = []
        private var next: [Int32] = []
        /// Byte length; 0 marks a symbol merged into its left neighbour.
        private var lengths: [Int32] = []
        private var queue = MergeQueue()

        mutating func removeAll() {
            ids.removeAll(keepingCapacity: true)
            previous.removeAll(keepingCapacity: true)
            next.removeAll(keepingCapacity: true)
            lengths.removeAll(keepingCapacity: true)
        }

        mutating func add(_ id: Int32, length: Int32) {
            let count = Int32(ids.count)
            if count > 0 { next[Int(count) - 1] = count }
            ids.append(id)
            previous.append(count - 1)
            next.append(-1)
            lengths.append(length)
        }

        func appendIDs(to output: inout [Int32]) {
            for (id, length) in zip(ids, lengths) where length > 0 { output.append(id) }
        }

        /// HF `Word::merge_all` without dropout.
        mutating func mergeAll(_ merges: [UInt64: UInt64]) {
            guard ids.count > 1 else { return }
            queue.removeAll()
            for position in 0..<(ids.count - 1) {
                if let merge = merges[BPEModel.pairKey(ids[position], ids[position + 1])] {
                    queue.push(merge, position: Int32(position))
                }
            }
            while let top = queue.pop() {
                let position = Int(top.position)
                guard lengths[position] > 0, next[position] >= 0 else { continue }
                let right = Int(next[position])
                // A stale entry: the pair here no longer merges into the same token.
                guard let current = merges[BPEModel.pairKey(ids[position], ids[right])],
                    Int32(truncatingIfNeeded: current) == top.newID
                else { continue }
                ids[position] = top.newID
                lengths[position] += lengths[right]
                next[position] = next[right]
                lengths[right] = 0
                if next[right] >= 0 { previous[Int(next[right])] = Int32(position) }
                if previous[position] >= 0 {
                    let left = Int(previous[position])
                    if let merge = merges[BPEModel.pairKey(ids[left], ids[position])] {
                        queue.push(merge, position: Int32(left))
                    }
                }
                if next[position] >= 0 {
                    if let merge = merges[BPEModel.pairKey(ids[position], ids[Int(next[position])])] {
                        queue.push(merge, position: Int32(position))
                    }
                }
            }
        }
    }

    /// A binary min-heap of pending merges ordered by (rank, position).
    struct MergeQueue {
        struct Entry {
            var key: UInt64  // rank << 32 | position
            var newID: Int32
            var position: Int32 { Int32(truncatingIfNeeded: key & 0xFFFF_FFFF) }
        }

        private var heap: [Entry] = []

        mutating func removeAll() { heap.removeAll(keepingCapacity: true) }

        /// `merge` is a merge-table value (`rank << 32 | merged id`).
        mutating func push(_ merge: UInt64, position: Int32) {
            heap.append(
                Entry(
                    key: (merge & 0xFFFF_FFFF_0000_0000) | UInt64(UInt32(bitPattern: position)),
                    newID: Int32(truncatingIfNeeded: merge)))
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[child].key < heap[parent].key else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }

        mutating func pop() -> Entry? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var parent = 0
                while true {
                    let left = 2 * parent + 1
                    guard left < heap.count else { break }
                    var smallest = left
                    if left + 1 < heap.count, heap[left + 1].key < heap[left].key { smallest = left + 1 }
                    guard heap[smallest].key < heap[parent].key else { break }
                    heap.swapAt(smallest, parent)
                    parent = smallest
                }
            }
            return top
        }
    }
}
