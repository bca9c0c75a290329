/// The WordPiece model of BERT-family tokenizers (HF `models.WordPiece`).
///
/// Each pre-token is split greedily, longest vocabulary match first, from left to right;
/// pieces after the first carry the continuation prefix (`##`). A pre-token longer than
/// `max_input_chars_per_word` characters, or one that cannot be covered, is the unknown
/// token as a whole.
struct WordPieceModel: Sendable {
    let trie: PieceTrie
    /// `continuing_subword_prefix` (`##`).
    let prefix: [UInt8]
    let unkID: Int32
    let maxInputCharsPerWord: Int

    /// Appends the ids of each range of `text` to `ids`.
    func encode(_ text: UnsafeBufferPointer<UInt8>, ranges: [Range<Int>], into ids: inout [Int32]) {
        trie.withView { trie in
            let prefixNode = trie.node(prefix)
            for range in ranges where !range.isEmpty {
                var characters = 0
                for i in range where text[i] & 0xC0 != 0x80 { characters += 1 }
                if characters > maxInputCharsPerWord {
                    ids.append(unkID)
                    continue
                }
                let first = ids.count
                var start = range.lowerBound
                while start < range.upperBound {
                    // The longest vocabulary token spelled by text[start...] (after the prefix).
                    var node: Int32 = start == range.lowerBound ? 0 : prefixNode
                    var best: (id: Int32, end: Int)?
                    var i = start
                    while node >= 0, i < range.upperBound {
                        node = trie.child(node, text[i])
                        i += 1
                        if node >= 0, trie.pieceID[Int(node)] >= 0 {
                            best = (trie.pieceID[Int(node)], i)
                        }
                    }
                    guard let best else {
                        ids.removeSubrange(first...)
                        ids.append(unkID)
                        break
                    }
                    ids.append(best.id)
                    start = best.end
                }
            }
        }
    }
}
