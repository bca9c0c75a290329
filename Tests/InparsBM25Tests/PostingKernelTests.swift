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
    /// generation only) and the term's bound of each candidate's range of 64 documents, kept
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
            // A window starting 37 documents into its first range overlaps 33 ranges.
            let phase: UInt32 = 37
            let drops = (0..<33).map { _ in Double(Float.random(in: 0...3, using: &random)) }
            let cutoff = 5.5
            var expectedOffsets: [UInt16] = []
            var expectedBounds: [Double] = []
            for c in 0..<count {
                let entry = slots[Int(offsets[c])]
                let recorded =
                    entry >> 32 == generation
                    ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: entry))) : 0
                let bound = bounds[c] - drops[(Int(offsets[c]) + Int(phase)) >> 6] + recorded
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
                        &o, &b, count, s.baseAddress!, generation, drops, phase, cutoff, isa)
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

    /// A term's bounds in a window's ranges looked up from its byte table, and added to the sums.
    @Test func rangeBoundsLookUpAndAdd() {
        var random = TestRandom(seed: 8)
        let table = (0..<256).map { Double($0) * 0.25 + Double(Float.random(in: 0...1, using: &random)) }
        for count in [0, 1, 7, 8, 9, 33] {
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let start = (0..<count).map { _ in Double(Float.random(in: 0...5, using: &random)) }
            for isa in Self.paths {
                var out = [Double](repeating: -1, count: count + 1)
                var sum = start + [-1]
                inpars_range_bounds_isa(bytes, count, table, &out, &sum, isa)
                for r in 0..<count {
                    #expect(out[r] == table[Int(bytes[r])])
                    #expect(sum[r] == start[r] + table[Int(bytes[r])])
                }
                #expect(out[count] == -1 && sum[count] == -1)  // nothing written past count
            }
        }
    }

    /// The windowed search's single-essential step: postings whose score plus their range's
    /// sum is above the cutoff are recorded and become candidates, in order.
    @Test func essentialCandidatesMatchAScalarLoop() {
        var random = TestRandom(seed: 9)
        let generation: UInt64 = 41
        let from: UInt32 = 70_000 + 37  // 37 documents into its first range of 64
        let phase: UInt32 = 37
        let sums = (0..<33).map { _ in Double(Float.random(in: 0...3, using: &random)) }
        let cutoff = 4.0
        for n in [0, 1, 7, 8, 9, 16, 100, 128] {
            let offsets = (0..<2_048).map { UInt32($0) }.shuffled(using: &random).prefix(n).sorted()
            let docs = offsets.map { from + $0 }
            let scores = (0..<n).map { _ in Float.random(in: 0...3, using: &random) }
            var expected: [(UInt16, Double)] = []
            for i in 0..<n {
                let bound = Double(scores[i]) + sums[Int((offsets[i] + phase) >> 6)]
                if bound > cutoff { expected.append((UInt16(offsets[i]), bound)) }
            }
            #expect(n < 16 || !expected.isEmpty)
            for isa in Self.paths {
                var slots = [UInt64](repeating: 7, count: 2_048)
                // Two candidates already in the list stay in front.
                var candidates = [UInt16](repeating: 0xFFFF, count: n + 3)
                var bounds = [Double](repeating: -1, count: n + 3)
                candidates[0] = 1
                candidates[1] = 2
                let count = inpars_essential_candidates_isa(
                    docs, scores, n, from, phase, sums, cutoff, &slots, generation, &candidates,
                    &bounds, 2, isa)
                #expect(count == 2 + expected.count, "n \(n) isa \(isa.rawValue)")
                #expect(candidates[0] == 1 && candidates[1] == 2)
                #expect(Array(candidates[2..<count]) == expected.map(\.0))
                #expect(bounds[2..<count].map(\.bitPattern) == expected.map(\.1.bitPattern))
                #expect(candidates[count] == 0xFFFF && bounds[count] == -1)
                let kept = Set(expected.map { Int($0.0) })
                for o in 0..<2_048 {
                    if kept.contains(o) {
                        let i = offsets.firstIndex(of: UInt32(o))!
                        #expect(slots[o] == generation << 32 | UInt64(scores[i].bitPattern))
                    } else {
                        #expect(slots[o] == 7, "offset \(o) written")
                    }
                }
            }
        }
    }
}
