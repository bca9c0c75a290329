internal import CKernels

/// A position in one query term's posting list for document-at-a-time search, plus a second,
/// "shallow" position in the block table that reads block score bounds without decoding;
/// and the term's scoring constants.
///
/// A probe that lands in a block searches its bit-packed document offsets and reads the one tf
/// and norm it needs; loops that read a block's postings in order decode the whole block at
/// once (`inpars_decode_block`: documents and scores, AVX-512 where the CPU has it) into the
/// cursor's own buffers, which it keeps while it stays in that block.
struct PostingCursor {
    /// The current document, or `UInt32.max` past the end.
    private(set) var doc: UInt32 = 0
    private var position = 0
    private var block: Int
    private var layout: BlockLayout
    private let firstBlock: Int
    private let endBlock: Int
    /// The term's document frequency.
    let documentFrequency: Int
    private let entries: UnsafePointer<UInt32>
    private let data: UnsafePointer<UInt8>

    /// The block whose bound ``shallowBound`` holds.
    private var boundBlock: Int
    /// The score bound of `boundBlock` (0 past the end).
    private(set) var shallowBound: Double = 0
    /// The last document of `boundBlock` (`UInt32.max` past the end).
    private(set) var shallowLast: UInt32 = 0

    /// The term's position in query order (its slot in the score sum).
    let planIndex: Int
    /// The bound of every posting of the term.
    private(set) var termBound: Double = 0

    private let weight: Float
    /// Scores by `(tf − 1) · 256 + norm` for tf = 1 … `tableTf`.
    private let scores: UnsafePointer<Float>
    private let tableTf: UInt32
    private let cache: UnsafePointer<Float>
    /// Whether block entries name their best posting for the query's `b` (else the bound is
    /// the largest tf with the smallest norm).
    private let exactBounds: Bool
    /// The same scoring for the C block decoder.
    private let scorer: inpars_term_scorer
    /// Room for one decoded block (``PostingBlocks/size`` each), owned by this cursor.
    private let decodedDocs: UnsafeMutablePointer<UInt32>
    private let decodedScores: UnsafeMutablePointer<Float>
    /// The block held in `decodedDocs`/`decodedScores` (−1: none).
    private var decodedBlock = -1

    /// Opens term `term` of `index` at its first posting.
    ///
    /// - Parameters:
    ///   - weight: `boost · idf`.
    ///   - scores: the term's scores for tf = 1 … `tableTf` (256 each, by norm byte),
    ///     bit-identical to the formula.
    ///   - cache: the searcher's 256 length factors, by norm byte.
    ///   - decodedDocs, decodedScores: room for one decoded block each, for this cursor only.
    init(
        index: BM25Index, term: Int, planIndex: Int, weight: Float, scores: UnsafePointer<Float>,
        tableTf: Int, cache: UnsafePointer<Float>, exactBounds: Bool,
        decodedDocs: UnsafeMutablePointer<UInt32>, decodedScores: UnsafeMutablePointer<Float>
    ) {
        firstBlock = Int(index.termBlocks[term])
        endBlock = Int(index.termBlocks[term + 1])
        documentFrequency = Int(index.docFreqs[term])
        entries = index.blocks.baseAddress!
        data = index.postings.baseAddress! + Int(index.postingsOffsets[term])
        layout = BlockLayout(
            entries: entries, block: firstBlock, firstBlock: firstBlock,
            count: min(PostingBlocks.size, documentFrequency), data: data)
        self.planIndex = planIndex
        self.weight = weight
        self.scores = scores
        self.tableTf = UInt32(tableTf)
        self.cache = cache
        self.exactBounds = exactBounds
        scorer = inpars_term_scorer(
            table: scores, table_tf: UInt32(tableTf), weight: weight, cache: cache)
        self.decodedDocs = decodedDocs
        self.decodedScores = decodedScores
        block = firstBlock
        boundBlock = firstBlock - 1
        let bounds = index.termBounds.baseAddress! + 3 * term
        termBound = exactBounds
            ? bound(tf: bounds[0], norm: UInt8(truncatingIfNeeded: bounds[2]))
            : bound(tf: bounds[1], norm: UInt8(truncatingIfNeeded: bounds[2] >> 8))
        load(firstBlock)
    }

    /// The score of a posting (bit-identical to the exhaustive path's).
    @inline(__always)
    private func score(tf: UInt32, norm: Int) -> Float {
        tf <= tableTf
            ? scores[Int(tf &- 1) &* 256 &+ norm] : weight - weight / (1 + Float(tf) * cache[norm])
    }

    /// The score of the current posting.
    @inline(__always)
    func score() -> Float { score(tf: layout.tf(position), norm: layout.norm(position)) }

    /// The score of a posting with `tf` and `norm`, as a bound.
    @inline(__always)
    private func bound(tf: UInt32, norm: UInt8) -> Double { Double(score(tf: tf, norm: Int(norm))) }

    /// The bound of block `b` (its best posting's score).
    @inline(__always)
    private func blockBound(_ b: Int) -> Double {
        let entry = entries + PostingBlocks.entryWords &* b
        return exactBounds
            ? bound(tf: entry[2], norm: UInt8(truncatingIfNeeded: entry[4]))
            : bound(tf: entry[3], norm: UInt8(truncatingIfNeeded: entry[4] >> 8))
    }

    @inline(__always)
    private func lastDocument(_ b: Int) -> UInt32 { entries[PostingBlocks.entryWords &* b] }

    /// Decodes block `b` (laid out as `layout`) into the cursor's buffers unless they hold it.
    @inline(__always)
    private mutating func decode(_ b: Int, _ layout: BlockLayout) {
        if decodedBlock == b { return }
        decodedBlock = b
        var packed = layout.packed
        var scorer = self.scorer
        inpars_decode_block(&packed, &scorer, decodedDocs, decodedScores)
    }

    /// Moves to the first posting of block `b`.
    @inline(__always)
    private mutating func load(_ b: Int) {
        block = b
        layout = BlockLayout(
            entries: entries, block: b, firstBlock: firstBlock,
            count: min(
                PostingBlocks.size, documentFrequency &- PostingBlocks.size &* (b &- firstBlock)),
            data: data)
        position = 0
        doc = layout.doc(0)
    }

    /// Moves to the next posting.
    @inline(__always)
    mutating func next() {
        position &+= 1
        if position < layout.count {
            doc = layout.doc(position)
        } else if block + 1 < endBlock {
            load(block + 1)
        } else {
            doc = .max
        }
    }

    /// Calls `body(doc, score)` for the current posting and the rest of its block, then moves
    /// to the next block (or past the end). When `body` returns false it stops there.
    @inline(__always)
    mutating func forEachInBlock(_ body: (UInt32, Float) -> Bool) {
        let layout = self.layout
        for i in position..<layout.count {
            let d = layout.doc(i)
            if !body(d, score(tf: layout.tf(i), norm: layout.norm(i))) {
                position = i
                doc = d
                return
            }
        }
        if block + 1 < endBlock { load(block + 1) } else { doc = .max }
    }

    /// Calls `body(doc, score)` for every posting from the current one up to (not including)
    /// document `end`, and leaves the cursor on the first posting at or after `end` (each
    /// block decoded whole by `inpars_decode_block`).
    @inline(__always)
    mutating func forEach(below end: UInt32, _ body: (UInt32, Float) -> Void) {
        while doc < end {
            decode(block, layout)
            let docs = decodedDocs
            let scores = decodedScores
            if lastDocument(block) < end {
                for i in position..<layout.count { body(docs[i], scores[i]) }
                if block + 1 < endBlock { load(block + 1) } else { doc = .max }
            } else {
                // The block's last document is ≥ end, so the run stops inside the block.
                var i = position
                while docs[i] < end {
                    body(docs[i], scores[i])
                    i &+= 1
                }
                position = i
                doc = docs[i]
                return
            }
        }
    }

    /// Calls `body(block, scorer, position)` for each block holding postings from the current
    /// one up to (not including) document `end`, with the position to start at; `body` returns
    /// the position of the block's first posting at or after `end` (the block's count when it
    /// has none). Leaves the cursor on the first posting at or after `end`.
    ///
    /// Blocks whose bound is not above `floor`, or for which `skip(first, last)` holds (their
    /// postings' documents run from `first` to `last` within the span), are passed over
    /// unread: for the windowed search's essential terms, whose blocks are read in C
    /// (`inpars_essential_block`, `inpars_accumulate_block`) only where postings can pass.
    @inline(__always)
    mutating func forEachBlock(
        below end: UInt32, blocksAbove floor: Double, skipping skip: (UInt32, UInt32) -> Bool,
        _ body: (
            UnsafePointer<inpars_posting_block>, UnsafePointer<inpars_term_scorer>, Int
        ) -> Int
    ) {
        while doc < end {
            let last = lastDocument(block)
            if !(blockBound(block) > floor) || skip(doc, min(last, end &- 1)) {
                if last >= end {
                    advance(to: end)
                    return
                }
                if block + 1 < endBlock { load(block + 1) } else { doc = .max }
                continue
            }
            var packed = layout.packed
            var scorer = self.scorer
            let stop = body(&packed, &scorer, position)
            if stop < layout.count {
                position = stop
                doc = layout.doc(stop)
                return
            }
            if block + 1 < endBlock { load(block + 1) } else { doc = .max }
        }
    }

    /// Prefetches the packed block that holds or follows `target`, found by walking
    /// `ahead` (a block number, at least the current block; `target` must not decrease
    /// between calls with the same `ahead`) along the block table.
    @inline(__always)
    func prefetch(_ target: UInt32, ahead: inout Int) {
        var b = max(ahead, block)
        while b < endBlock && lastDocument(b) < target { b &+= 1 }
        ahead = b
        if b < endBlock {
            inpars_prefetch_lines(data + Int(entries[PostingBlocks.entryWords &* b &+ 1]))
        }
    }

    /// Moves to the first posting with a document ≥ `target` (skipping whole blocks by their
    /// last document, then binary-searching the block).
    @inline(__always)
    mutating func advance(to target: UInt32) {
        if doc >= target { return }
        if target > lastDocument(block) {
            var b = block + 1
            while b < endBlock && lastDocument(b) < target { b &+= 1 }
            if b == endBlock {
                doc = .max
                return
            }
            load(b)
            if doc >= target { return }
        }
        // Probes often land a few postings further: try the next one before searching.
        let next = layout.doc(position &+ 1)
        position = next >= target ? position &+ 1 : layout.position(of: target, from: position &+ 2)
        doc = layout.doc(position)
    }

    /// For the windowed search: the largest block bound over the documents `first...last`
    /// (the blocks overlapping them; the term bound when that takes more than
    /// ``windowBoundBlocks`` blocks) and the last document through which that bound holds
    /// (`Int.max`: to the end of the list). Moves the shallow position to the first of those
    /// blocks; `first` must not decrease between calls. (A search uses either this or
    /// ``moveShallow(to:)``, never both.)
    @inline(__always)
    mutating func windowBound(first: UInt32, last: UInt32) -> (bound: Double, through: Int) {
        var b = max(boundBlock, firstBlock)
        while b < endBlock && lastDocument(b) < first { b &+= 1 }
        boundBlock = b
        if b == endBlock { return (0, .max) }
        var bound = blockBound(b)
        var blocks = 1
        while lastDocument(b) < last {
            b &+= 1
            if b == endBlock { return (bound, .max) }
            if blocks == Self.windowBoundBlocks { return (termBound, .max) }
            bound = max(bound, blockBound(b))
            blocks &+= 1
        }
        return (bound, Int(lastDocument(b)))
    }

    /// Blocks read for one window bound; beyond that the term bound is used. A window of
    /// 4,096 documents overlaps at most 33 blocks, so the real maximum is nearly always taken
    /// (on the MS MARCO-like benchmark's common-word queries 32 was 6–8 % faster at k = 10
    /// than 4 with 2,048-document windows). Only terms without range bounds use it: in the
    /// fewer than 1 in 256 documents, or queries with another `b` than the index's.
    static let windowBoundBlocks = 32

    /// Moves the shallow position to the block that holds or follows `target` and refreshes
    /// ``shallowBound``/``shallowLast``.
    @inline(__always)
    mutating func moveShallow(to target: UInt32) {
        if boundBlock >= firstBlock && shallowLast >= target { return }
        var b = max(boundBlock, firstBlock)
        while b < endBlock && lastDocument(b) < target { b &+= 1 }
        boundBlock = b
        if b == endBlock {
            shallowBound = 0
            shallowLast = .max
        } else {
            shallowBound = blockBound(b)
            shallowLast = lastDocument(b)
        }
    }
}
