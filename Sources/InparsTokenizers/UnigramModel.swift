/// The Unigram language model of a SentencePiece tokenizer: pieces with log-probability
/// scores, a trie over them, and the Viterbi search for the best segmentation.
///
/// Follows SentencePiece `unigram_model.cc` (`Model::EncodeOptimized`) and HF tokenizers
/// `models/unigram/model.rs` (`encode_optimized`), which agree: at every character boundary
/// each vocabulary piece starting there extends the best path ending there; when no piece of
/// exactly one character starts there, an unknown node covering that one character with score
/// `minScore − 10` is added. A candidate replaces a node's best path only when strictly
/// better, and pieces are tried shortest first, so ties keep the shorter piece. Consecutive
/// unknown pieces in the result are fused into one (both libraries do this).
struct UnigramModel: Sendable {
    /// The penalty below the lowest piece score given to an unknown character.
    static let unknownPenalty = 10.0

    let trie: PieceTrie
    /// Scores by id, for sentencepiece-compatible search (it accumulates in `float`).
    let floatScores: [Float]
    /// Scores by id, for HF-compatible search (it accumulates in `f64`).
    let doubleScores: [Double]
    let unkID: Int32
    let unkScore: Double
    /// Accumulate path scores in `Float` (sentencepiece) rather than `Double` (HF).
    let accumulatesInFloat: Bool

    /// - Parameters:
    ///   - pieces: every piece that may be matched, with its id.
    ///   - scores: the score of every id (ids not in `pieces` are never produced).
    ///   - minScore: the lowest score among the pieces the reference takes it over.
    init(
        pieces: [(bytes: [UInt8], id: Int32)], scores: [Double], minScore: Double, unkID: Int32,
        accumulatesInFloat: Bool
    ) {
        self.trie = PieceTrie(pieces: pieces)
        self.doubleScores = scores
        self.floatScores = scores.map { Float($0) }
        self.unkID = unkID
        self.unkScore = minScore - Self.unknownPenalty
        self.accumulatesInFloat = accumulatesInFloat
    }

    /// Appends the ids of the best segmentation of each range of `text` to `ids`.
    func encode(_ text: UnsafeBufferPointer<UInt8>, ranges: [Range<Int>], into ids: inout [Int32]) {
        trie.withView { trie in
            if accumulatesInFloat {
                floatScores.withUnsafeBufferPointer { scores in
                    for range in ranges {
                        Self.viterbi(
                            text, range, trie: trie, scores: scores, unkID: unkID,
                            unkScore: Float(unkScore), into: &ids)
                    }
                }
            } else {
                doubleScores.withUnsafeBufferPointer { scores in
                    for range in ranges {
                        Self.viterbi(
                            text, range, trie: trie, scores: scores, unkID: unkID,
                            unkScore: unkScore, into: &ids)
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func viterbi<Score: BinaryFloatingPoint>(
        _ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, trie: PieceTrie.View,
        scores: UnsafeBufferPointer<Score>, unkID: Int32, unkScore: Score, into ids: inout [Int32]
    ) {
        let from = range.lowerBound
        let n = range.count
        guard n > 0 else { return }
        withUnsafeTemporaryAllocation(of: Score.self, capacity: n + 1) { best in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * (n + 1)) { links in
                // links[2e] = id of the best node ending at e, links[2e + 1] = its start (-1: none yet).
                for e in 0...n { links[2 * e + 1] = -1 }
                best[0] = 0
                var pos = 0
                while pos < n {
                    let base = best[pos]
                    let charLength = min(UTF8Scanning.sequenceLength(text[from + pos]), n - pos)
                    var hasSingleCharacterPiece = false
                    var node: Int32 = 0
                    var end = pos
                    while end < n {
                        node = trie.child(node, text[from + end])
                        if node < 0 { break }
                        end += 1
                        let id = trie.pieceID[Int(node)]
                        if id >= 0 {
                            if end - pos == charLength { hasSingleCharacterPiece = true }
                            let candidate = base + scores[Int(id)]
                            if links[2 * end + 1] < 0 || candidate > best[end] {
                                best[end] = candidate
                                links[2 * end] = id
                                links[2 * end + 1] = Int32(pos)
                            }
                        }
                    }
                    if !hasSingleCharacterPiece {
                        let end = pos + charLength
                        let candidate = base + unkScore
                        if links[2 * end + 1] < 0 || candidate > best[end] {
                            best[end] = candidate
                            links[2 * end] = unkID
                            links[2 * end + 1] = Int32(pos)
                        }
                    }
                    pos += charLength
                }
                // Backtrack, fusing runs of unknowns, then put this range's ids in order.
                let first = ids.count
                var end = n
                while end > 0 {
                    let id = links[2 * end]
                    if !(id == unkID && ids.count > first && ids[ids.count - 1] == unkID) {
                        ids.append(id)
                    }
                    end = Int(links[2 * end + 1])
                }
                ids[first...].reverse()
            }
        }
    }
}
