import CKernels
import InparsTestSupport
import Testing

@testable import InparsBM25

/// The C posting-block kernels (`Sources/CKernels/postings.c`): every bit width, short last
/// blocks, and the same values on the AVX-512 and generic paths, checked against the values
/// that were packed and against the Swift reader (`PostingBlocks.extract`).
///
/// On a CPU without AVX512-VBMI the AVX-512 request runs the generic path, so the comparison
/// is then between two generic runs (`inpars_postings_vectorized()` says which).
@Suite struct PostingKernelTests {
    static let counts = [1, 2, 7, 15, 16, 17, 31, 33, 100, 127, 128]
    static let paths: [inpars_isa] = [INPARS_ISA_GENERIC, INPARS_ISA_AVX512]

    /// `count` random values of `bits` bits (the largest value included when count allows).
    static func values(_ count: Int, bits: Int, random: inout TestRandom) -> [UInt32] {
        let mask = bits == 32 ? UInt64(UInt32.max) : (UInt64(1) << UInt64(bits)) - 1
        var values = (0..<count).map { _ in UInt32(random.next() & mask) }
        if count > 3 { values[count / 2] = UInt32(mask) }
        return values
    }

    static func packed(_ values: [UInt32], bits: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        values.withUnsafeBufferPointer {
            PostingBlocks.pack($0.baseAddress!, count: values.count, bits: bits, into: &bytes)
        }
        return bytes
    }

    @Test func unpackEveryWidthAndLength() {
        var random = TestRandom(seed: 18)
        for bits in 0...32 {
            for count in Self.counts {
                let values = Self.values(count, bits: bits, random: &random)
                let bytes = Self.packed(values, bits: bits)
                #expect(bytes.count == PostingBlocks.packedBytes(count: count, bits: bits))
                // The Swift reader needs 8 readable bytes from any value's first byte.
                let padded = bytes + [UInt8](repeating: 0xA5, count: PostingBlocks.tailPadding)
                let mask = bits == 32 ? UInt64(UInt32.max) : (UInt64(1) << UInt64(bits)) - 1
                let add: UInt32 = count % 2 == 0 ? 1_000 : 0xFFFF_FF00  // the second wraps
                for isa in Self.paths {
                    // Garbage after the last value must not leak in: the kernel gets exactly
                    // the packed bytes, followed by 0xA5 padding.
                    var out = [UInt32](repeating: 0xDEAD_BEEF, count: count + 16)
                    padded.withUnsafeBufferPointer { p in
                        inpars_unpack_bits_isa(
                            p.baseAddress!, count, UInt32(bits), add, &out, isa)
                    }
                    for i in 0..<count {
                        let swift = padded.withUnsafeBufferPointer {
                            PostingBlocks.extract($0.baseAddress!, i, bits: bits, mask: mask)
                        }
                        #expect(swift == values[i])
                        #expect(
                            out[i] == add &+ values[i],
                            "bits \(bits) count \(count) isa \(isa.rawValue) at \(i)")
                    }
                    // Nothing written past `count`.
                    #expect(out[count..<(count + 16)].allSatisfy { $0 == 0xDEAD_BEEF })
                }
            }
        }
    }

    /// A term's scores: the table for tf ≤ 8 and the formula above it, as PostingCursor has
    /// them (the expected values are computed here in Swift, independently of the kernel).
    struct Term {
        let weight: Float = 3.7
        let cache: [Float] = (0..<256).map { 1 / (0.9 * (0.6 + 0.4 * Float($0 + 1) / 40)) }
        let tableTf = 8
        var table: [Float] {
            (1...tableTf).flatMap { tf in cache.map { weight - weight / (1 + Float(tf) * $0) } }
        }
        func score(tf: UInt32, norm: UInt32) -> Float {
            weight - weight / (1 + Float(tf) * cache[Int(norm)])
        }
    }

    @Test func scoresMatchTheFormulaBitForBit() {
        var random = TestRandom(seed: 7)
        let term = Term()
        let table = term.table
        for count in Self.counts {
            let tfs = (0..<count).map { i in
                i % 3 == 0 ? UInt32(9 + random.next() % 300) : UInt32(1 + random.next() % 8)
            }
            let norms = (0..<count).map { _ in UInt32(random.next() % 256) }
            for isa in Self.paths {
                var scores = [Float](repeating: -1, count: count + 16)
                table.withUnsafeBufferPointer { t in
                    term.cache.withUnsafeBufferPointer { c in
                        var scorer = inpars_term_scorer(
                            table: t.baseAddress!, table_tf: UInt32(term.tableTf),
                            weight: term.weight, cache: c.baseAddress!)
                        inpars_score_postings_isa(tfs, norms, count, &scorer, &scores, isa)
                    }
                }
                for i in 0..<count {
                    #expect(
                        scores[i].bitPattern == term.score(tf: tfs[i], norm: norms[i]).bitPattern,
                        "tf \(tfs[i]) norm \(norms[i]) isa \(isa.rawValue)")
                }
                #expect(scores[count...].allSatisfy { $0 == -1 })
            }
        }
    }

    /// A whole block (three arrays one after the other, as the index stores them), for
    /// several width combinations including 0 and 32.
    @Test func decodeBlockGivesDocumentsAndScores() {
        var random = TestRandom(seed: 99)
        let term = Term()
        let table = term.table
        let widths = [(0, 0, 0), (7, 0, 3), (13, 2, 0), (32, 5, 8), (1, 12, 1), (20, 32, 6)]
        for (docBits, tfBits, normBits) in widths {
            for count in [1, 16, 77, 128] {
                let offsets = Self.values(count, bits: docBits, random: &random)
                // tf − 1 below 2^31 and norms − minNorm within a byte, as an index has them.
                let tfm1 = Self.values(count, bits: min(tfBits, 12), random: &random)
                let minNorm: UInt32 = normBits == 8 ? 0 : 17
                let normDelta = Self.values(count, bits: normBits, random: &random)
                let base: UInt32 = 123_456
                let docBytes = Self.packed(offsets, bits: docBits)
                let tfBytes = Self.packed(tfm1, bits: tfBits)
                let normBytes = Self.packed(normDelta, bits: normBits)
                let data = docBytes + tfBytes + normBytes + [UInt8](repeating: 0, count: 8)
                for isa in Self.paths {
                    var docs = [UInt32](repeating: 0, count: 128)
                    var scores = [Float](repeating: 0, count: 128)
                    data.withUnsafeBufferPointer { d in
                        table.withUnsafeBufferPointer { t in
                            term.cache.withUnsafeBufferPointer { c in
                                let p = d.baseAddress!
                                var block = inpars_posting_block(
                                    docs: p, tfs: p + docBytes.count,
                                    norms: p + docBytes.count + tfBytes.count,
                                    count: UInt32(count), base: base, min_norm: minNorm,
                                    doc_bits: UInt32(docBits), tf_bits: UInt32(tfBits),
                                    norm_bits: UInt32(normBits))
                                var scorer = inpars_term_scorer(
                                    table: t.baseAddress!, table_tf: UInt32(term.tableTf),
                                    weight: term.weight, cache: c.baseAddress!)
                                inpars_decode_block_isa(&block, &scorer, &docs, &scores, isa)
                            }
                        }
                    }
                    for i in 0..<count {
                        #expect(docs[i] == base &+ offsets[i])
                        let expected = term.score(tf: tfm1[i] + 1, norm: minNorm + normDelta[i])
                        #expect(scores[i].bitPattern == expected.bitPattern)
                    }
                }
            }
        }
    }

    /// The windowed search's look-up step: bounds updated from recorded entries (current
    /// generation only) and the term's bound (in units) of each candidate's range, kept
    /// candidates compacted in order; both paths against a Swift loop.
    @Test func refineCandidatesMatchesAScalarLoop() {
        var random = TestRandom(seed: 5)
        let generation: UInt64 = 77
        let size = 2_048
        let slots: [UInt64] = (0..<size).map { _ in
            let score = Float.random(in: 0...4, using: &random)
            let gen = random.next() % 3 == 0 ? generation - 1 : generation
            return gen << 32 | UInt64(score.bitPattern)
        }
        for count in [0, 1, 7, 8, 9, 16, 31, 100, 1_000] {
            // `count` distinct offsets in ascending order, as a window's candidates are.
            let offsets = (0..<size).map { UInt16($0) }.shuffled(using: &random)
                .prefix(count).sorted()
            let bounds = (0..<count).map { _ in Double(Float.random(in: 2...9, using: &random)) }
            // A window starting 21 documents into its first range overlaps this many ranges.
            let phase: UInt32 = 21
            let ranges = (size + 21 + IndexFormat.rangeSize - 1) / IndexFormat.rangeSize
            // Units of 1/1024; the padding unit after the last range must not count.
            let drops = (0..<ranges).map { _ in UInt16(random.next() % 3_072) } + [0xFFFF]
            let unit = 1.0 / 1_024
            let cutoff = 5.5
            var expectedOffsets: [UInt16] = []
            var expectedBounds: [Double] = []
            for c in 0..<count {
                let entry = slots[Int(offsets[c])]
                let recorded =
                    entry >> 32 == generation
                    ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: entry))) : 0
                let drop = Double(drops[(Int(offsets[c]) + Int(phase)) >> IndexFormat.rangeShift])
                let bound = bounds[c] - drop * unit + recorded
                if bound > cutoff {
                    expectedOffsets.append(offsets[c])
                    expectedBounds.append(bound)
                }
            }
            #expect(expectedOffsets.count > 0 || count < 8)
            for isa in Self.paths {
                var o = offsets + [0xFFFF]
                var b = bounds + [-1]
                let kept = slots.withUnsafeBufferPointer { s in
                    inpars_refine_candidates_isa(
                        &o, &b, count, s.baseAddress!, generation, drops, unit, phase, cutoff, isa)
                }
                #expect(kept == expectedOffsets.count, "count \(count) isa \(isa.rawValue)")
                #expect(Array(o[0..<kept]) == expectedOffsets)
                #expect(b[0..<kept].map(\.bitPattern) == expectedBounds.map(\.bitPattern))
                #expect(o[count] == 0xFFFF && b[count] == -1)  // nothing written past count
            }
        }
    }

    /// A window's largest range byte, for every length up to two vectors and a bit.
    @Test func maxByteMatchesASwiftMaximum() {
        var random = TestRandom(seed: 6)
        for count in 0...140 {
            let bytes = (0..<count + 1).map { _ in UInt8(truncatingIfNeeded: random.next() % 200) }
            // The byte past `count` is the largest and must not be read.
            var padded = bytes
            padded[count] = 255
            for isa in Self.paths {
                let largest = inpars_max_byte_isa(padded, count, isa)
                #expect(largest == (bytes.prefix(count).max() ?? 0), "count \(count) isa \(isa.rawValue)")
            }
        }
    }

    /// A term's bounds in a window's ranges looked up from its table of units by byte, and
    /// added to the sums, for every table entry and lengths up to two vectors and a bit; the
    /// output or the sums left out when NULL.
    @Test func rangeUnitsLookUpAndAdd() {
        var random = TestRandom(seed: 8)
        let table = (0..<256).map { UInt16($0 * 100 + Int(random.next() % 100)) }
        for count in [0, 1, 7, 31, 32, 33, 64, 65, 256, 300] {
            // Every byte value once in the first 256 ranges.
            let bytes = (0..<count).map { r in
                r < 256 ? UInt8(r ^ 0xA5) : UInt8(truncatingIfNeeded: random.next())
            }
            let start = (0..<count).map { _ in UInt16(random.next() % 30_000) }
            for isa in Self.paths {
                let tag = "count \(count) isa \(isa.rawValue)"
                var out = [UInt16](repeating: 7, count: count + 1)
                var sum = start + [7]
                inpars_range_units_isa(bytes, count, table, &out, &sum, isa)
                #expect(out[0..<count].elementsEqual(bytes.map { table[Int($0)] }), "\(tag)")
                #expect(
                    sum[0..<count].elementsEqual((0..<count).map { start[$0] + table[Int(bytes[$0])] }),
                    "\(tag)")
                #expect(out[count] == 7 && sum[count] == 7, "\(tag): written past count")
                var onlySum = start + [7]
                inpars_range_units_isa(bytes, count, table, nil, &onlySum, isa)
                #expect(onlySum == sum, "\(tag)")
                var onlyOut = [UInt16](repeating: 7, count: count + 1)
                inpars_range_units_isa(bytes, count, table, &onlyOut, nil, isa)
                #expect(onlyOut == out, "\(tag)")
            }
        }
    }

    /// Which ranges of a window are live (the two unit sums above the cutoff), as bytes and as
    /// bits, with the sums turned into scores, for lengths up to three words and cutoffs below
    /// 0 and above every sum.
    @Test func liveRangesMatchAScalarLoop() {
        var random = TestRandom(seed: 11)
        let unit = 1.0 / 256
        for ranges in [0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 129, 190] {
            let own = (0..<ranges).map { _ in UInt16(random.next() % 40_000) }
            let sum = (0..<ranges).map { _ in UInt16(random.next() % 25_536) }
            for cutoff: Int32 in [-1, 0, 40_000, 65_535] {
                let expected = (0..<ranges).map { r in Int32(own[r]) + Int32(sum[r]) > cutoff }
                if cutoff == 40_000 {
                    #expect(ranges < 60 || (expected.contains(true) && expected.contains(false)))
                }
                for isa in Self.paths {
                    var live = [UInt8](repeating: 9, count: ranges + 4)
                    var bits = [UInt64](repeating: .max, count: 4)
                    var sums = [Double](repeating: -1, count: ranges + 1)
                    let n = inpars_live_ranges_isa(
                        own, sum, ranges, cutoff, unit, &sums, &live, &bits, isa)
                    let tag = "ranges \(ranges) cutoff \(cutoff) isa \(isa.rawValue)"
                    #expect(Int(n) == expected.filter { $0 }.count, "\(tag)")
                    #expect(live[0..<ranges].map { $0 == 1 } == expected, "\(tag)")
                    #expect(live[0..<ranges].allSatisfy { $0 <= 1 })
                    #expect(live[ranges...].allSatisfy { $0 == 9 }, "\(tag): written past ranges")
                    #expect(sums[0..<ranges].elementsEqual(sum.map { Double($0) / 256 }), "\(tag)")
                    #expect(sums[ranges] == -1, "\(tag): sums past ranges")
                    for r in 0..<ranges {
                        #expect((bits[r >> 6] >> UInt64(r & 63)) & 1 == (expected[r] ? 1 : 0))
                    }
                    let words = (ranges + 63) / 64
                    for w in 0..<words where (w + 1) * 64 > ranges {
                        #expect(bits[w] >> UInt64(ranges - w * 64) == 0, "\(tag): bits past ranges")
                    }
                    #expect(bits[words...].allSatisfy { $0 == .max }, "\(tag): words past ranges")
                }
            }
        }
    }

    /// One block of a window's essential term(s), as both essential kernels read it: documents
    /// ascending from before the window's start to past its end, packed with `docBits` bits.
    struct WindowBlock {
        /// The window starts 21 documents into its first range.
        static let start: UInt32 = 70_000 + 21
        /// The block's first possible document, a little before the window.
        static let blockBase: UInt32 = 69_000
        var from: UInt32 { Self.start }
        var base: UInt32 { Self.blockBase }
        let phase: UInt32 = 21
        let to: UInt32
        let docs: [UInt32]
        let tfs: [UInt32]
        let norms: [UInt32]
        /// The first position inside the window (where the cursor stands).
        let begin: Int
        let data: [UInt8]
        let docBytes: Int
        let tfBytes: Int
        let docBits: Int
        let tfBits: Int
        let normBits = 8

        init(count: Int, windowSize: Int, random: inout TestRandom) {
            let from = Self.start
            let base = Self.blockBase
            let to = from + UInt32(windowSize)
            // Distinct documents from a little before `from` to a little past `to`.
            let span = Int(to - base) + 300
            let docs = (0..<span).map { base + UInt32($0) }.shuffled(using: &random).prefix(count)
                .sorted()
            let tfs = (0..<count).map { i in
                i % 5 == 0 ? UInt32(9 + random.next() % 40) : UInt32(1 + random.next() % 8)
            }
            let norms = (0..<count).map { _ in UInt32(random.next() % 256) }
            let docBits = PostingBlocks.bitWidth(docs.last! - base)
            let tfBits = PostingBlocks.bitWidth(tfs.max()! - 1)
            let docPacked = PostingKernelTests.packed(docs.map { $0 - base }, bits: docBits)
            let tfPacked = PostingKernelTests.packed(tfs.map { $0 - 1 }, bits: tfBits)
            let normPacked = PostingKernelTests.packed(norms, bits: 8)
            self.to = to
            self.docs = docs
            self.tfs = tfs
            self.norms = norms
            self.docBits = docBits
            self.tfBits = tfBits
            begin = docs.firstIndex { $0 >= from } ?? count
            docBytes = docPacked.count
            tfBytes = tfPacked.count
            data = docPacked + tfPacked + normPacked + [UInt8](repeating: 0, count: 8)
        }

        /// The position of the first document at or after `to`.
        var stop: Int { docs.firstIndex { $0 >= to } ?? docs.count }

        func range(_ i: Int) -> Int { Int((docs[i] - from + phase) >> IndexFormat.rangeShift) }

        /// Runs `body` with the block, a scorer for `term` and the window parameters.
        func withKernelArguments<R>(
            term: Term, live: [UInt8], sums: [Double], cutoff: Double, generation: UInt64,
            _ body: (
                UnsafePointer<inpars_posting_block>, UnsafePointer<inpars_term_scorer>,
                UnsafePointer<inpars_essential_window>
            ) -> R
        ) -> R {
            let table = term.table
            return data.withUnsafeBufferPointer { d in
                table.withUnsafeBufferPointer { t in
                    term.cache.withUnsafeBufferPointer { c in
                        live.withUnsafeBufferPointer { l in
                            sums.withUnsafeBufferPointer { s in
                                let p = d.baseAddress!
                                var block = inpars_posting_block(
                                    docs: p, tfs: p + docBytes, norms: p + docBytes + tfBytes,
                                    count: UInt32(docs.count), base: base, min_norm: 0,
                                    doc_bits: UInt32(docBits), tf_bits: UInt32(tfBits),
                                    norm_bits: UInt32(normBits))
                                var scorer = inpars_term_scorer(
                                    table: t.baseAddress!, table_tf: UInt32(term.tableTf),
                                    weight: term.weight, cache: c.baseAddress!)
                                var window = inpars_essential_window(
                                    from: from, to: to, phase: phase, live: l.baseAddress!,
                                    sums: s.baseAddress!, cutoff: cutoff, generation: generation)
                                return body(&block, &scorer, &window)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The single-essential step straight from a block: postings in the window and in live
    /// ranges whose score plus their range's sum is above the cutoff are recorded and become
    /// candidates, in order, after those already there; the stop is the first document past
    /// the window.
    @Test func essentialBlockMatchesAScalarLoop() {
        var random = TestRandom(seed: 9)
        let term = Term()
        let generation: UInt64 = 41
        let cutoff = 4.0
        for (count, windowSize) in [(1, 64), (16, 256), (77, 512), (128, 1_024), (128, 8_192)] {
            let block = WindowBlock(count: count, windowSize: windowSize, random: &random)
            let ranges = (windowSize + IndexFormat.rangeSize - 1) / IndexFormat.rangeSize + 1
            let sums = (0..<ranges).map { _ in Double(Float.random(in: 0...3.5, using: &random)) }
            // About half the ranges live, and 3 readable bytes past them (not live).
            let live = (0..<ranges).map { _ in UInt8(random.next() % 2) } + [0, 0, 0]
            var expected: [(UInt16, Double, UInt64)] = []
            for i in block.begin..<block.stop where live[block.range(i)] == 1 {
                let score = term.score(tf: block.tfs[i], norm: block.norms[i])
                let bound = Double(score) + sums[block.range(i)]
                if bound > cutoff {
                    expected.append(
                        (UInt16(block.docs[i] - block.from), bound,
                         generation << 32 | UInt64(score.bitPattern)))
                }
            }
            #expect(count < 77 || !expected.isEmpty)
            for isa in Self.paths {
                var slots = [UInt64](repeating: 7, count: windowSize)
                // Two candidates already in the list stay in front.
                var candidates = [UInt16](repeating: 0xFFFF, count: count + 3)
                var bounds = [Double](repeating: -1, count: count + 3)
                candidates[0] = 1
                candidates[1] = 2
                var n = 2
                let stop = block.withKernelArguments(
                    term: term, live: live, sums: sums, cutoff: cutoff, generation: generation
                ) { b, scorer, window in
                    inpars_essential_block_isa(
                        b, scorer, block.begin, window, &slots, &candidates, &bounds, &n, isa)
                }
                let tag = "count \(count) window \(windowSize) isa \(isa.rawValue)"
                #expect(stop == block.stop, "\(tag)")
                #expect(n == 2 + expected.count, "\(tag)")
                #expect(candidates[0] == 1 && candidates[1] == 2)
                #expect(Array(candidates[2..<n]) == expected.map(\.0), "\(tag)")
                #expect(bounds[2..<n].map(\.bitPattern) == expected.map(\.1.bitPattern))
                #expect(candidates[n] == 0xFFFF && bounds[n] == -1)
                let recorded = Dictionary(uniqueKeysWithValues: expected.map { (Int($0.0), $0.2) })
                let slotErrors = (0..<windowSize).filter { slots[$0] != (recorded[$0] ?? 7) }
                #expect(slotErrors.isEmpty, "\(tag): slots \(slotErrors.prefix(5))")
            }
        }
    }

    /// One of several essential terms straight from a block: postings in the window and in
    /// live ranges are recorded and added to the sums (a sum starts at 0 where the offset's
    /// bit was clear, else adds to what an earlier term left), and their bits are set.
    @Test func accumulateBlockMatchesAScalarLoop() {
        var random = TestRandom(seed: 12)
        let term = Term()
        let generation: UInt64 = 5
        for (count, windowSize) in [(1, 64), (16, 256), (77, 512), (128, 1_024), (128, 8_192)] {
            let block = WindowBlock(count: count, windowSize: windowSize, random: &random)
            let ranges = (windowSize + IndexFormat.rangeSize - 1) / IndexFormat.rangeSize + 1
            let live = (0..<ranges).map { _ in UInt8(random.next() % 4 == 0 ? 0 : 1) } + [0, 0, 0]
            // An earlier term left sums at some offsets (their bits set); stale sums elsewhere.
            let words = windowSize / 64 + 1
            let startBits = (0..<words).map { _ in random.next() & random.next() }
            let startPartial = (0..<windowSize).map { _ in
                Double(Float.random(in: 0...2, using: &random))
            }
            var expectedPartial = startPartial
            var expectedBits = startBits
            var expectedSlots = [UInt64](repeating: 7, count: windowSize)
            var added = 0
            for i in block.begin..<block.stop where live[block.range(i)] == 1 {
                let o = Int(block.docs[i] - block.from)
                let score = term.score(tf: block.tfs[i], norm: block.norms[i])
                let bit: UInt64 = 1 << UInt64(o & 63)
                let before = expectedBits[o >> 6] & bit != 0 ? expectedPartial[o] : 0
                expectedPartial[o] = before + Double(score)
                expectedBits[o >> 6] |= bit
                expectedSlots[o] = generation << 32 | UInt64(score.bitPattern)
                added += 1
            }
            #expect(count < 16 || added > 0)
            for isa in Self.paths {
                var slots = [UInt64](repeating: 7, count: windowSize)
                var partial = startPartial
                var bits = startBits
                let stop = block.withKernelArguments(
                    term: term, live: live, sums: [0], cutoff: 0, generation: generation
                ) { b, scorer, window in
                    inpars_accumulate_block_isa(
                        b, scorer, block.begin, window, &slots, &partial, &bits, isa)
                }
                let tag = "count \(count) window \(windowSize) isa \(isa.rawValue)"
                #expect(stop == block.stop, "\(tag)")
                // Counts of differing entries (whole arrays would flood a failure message).
                let slotErrors = zip(slots, expectedSlots).filter { $0 != $1 }.count
                let bitErrors = zip(bits, expectedBits).filter { $0 != $1 }.count
                let sumErrors = zip(partial, expectedPartial)
                    .filter { $0.bitPattern != $1.bitPattern }.count
                #expect(slotErrors == 0 && bitErrors == 0 && sumErrors == 0, "\(tag)")
            }
        }
    }
}
