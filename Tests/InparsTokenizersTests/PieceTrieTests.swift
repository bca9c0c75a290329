import InparsTestSupport
import Testing

@testable import InparsTokenizers

/// The double-array trie finds exactly the pieces that prefix a text.
@Suite struct PieceTrieTests {
    /// All (length, id) of pieces that are prefixes of `text[from...]`, by brute force.
    private func bruteForce(_ firstID: [[UInt8]: Int], _ text: [UInt8], from: Int) -> [[Int]] {
        var found: [[Int]] = []
        for end in (from + 1)...text.count {
            if let id = firstID[Array(text[from..<end])] { found.append([end - from, id]) }
        }
        return found
    }

    private func walk(_ trie: PieceTrie, _ text: [UInt8], from: Int) -> [[Int]] {
        var found: [[Int]] = []
        trie.withView { view in
            var node: Int32 = 0
            var i = from
            while i < text.count {
                node = view.child(node, text[i])
                if node < 0 { break }
                i += 1
                let id = view.pieceID[Int(node)]
                if id >= 0 { found.append([i - from, Int(id)]) }
            }
        }
        return found
    }

    @Test("Prefix walks match brute force on random byte pieces", arguments: [1, 2, 3])
    func randomPieces(_ seed: UInt64) {
        var random = TestRandom(seed: seed)
        // Small alphabets make shared prefixes; include every byte value somewhere.
        var pieces: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        for _ in 0..<3000 {
            let length = 1 + Int(random.next() % 8)
            pieces.append(
                (0..<length).map { _ in UInt8(truncatingIfNeeded: 0x61 + random.next() % 6) })
        }
        for _ in 0..<200 {
            pieces.append(
                (0..<(1 + Int(random.next() % 4))).map { _ in
                    UInt8(truncatingIfNeeded: random.next())
                })
        }
        pieces.append([0xE2, 0x96, 0x81])
        pieces.append([0xE2, 0x96, 0x81, 0x61])
        let trie = PieceTrie(
            pieces: pieces.enumerated().map { (bytes: $0.element, id: Int32($0.offset)) })
        var firstID: [[UInt8]: Int] = [:]
        for (id, piece) in pieces.enumerated() where firstID[piece] == nil { firstID[piece] = id }
        for _ in 0..<300 {
            let text = (0..<12).map { _ in
                random.next() % 4 == 0
                    ? UInt8(truncatingIfNeeded: random.next()) : UInt8(0x61 + random.next() % 6)
            }
            for from in 0..<text.count {
                #expect(walk(trie, text, from: from) == bruteForce(firstID, text, from: from))
            }
        }
    }

    @Test("An empty trie matches nothing")
    func emptyTrie() {
        let trie = PieceTrie(pieces: [(bytes: [UInt8], id: Int32)]())
        #expect(walk(trie, [0, 1, 0x61, 255], from: 0).isEmpty)
    }
}
