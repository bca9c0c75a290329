import Foundation
import InparsCore
import InparsTestSupport
import Testing

/// The hand-written `%.6f` must print exactly what C's printf prints (glibc: the exact binary
/// value, rounded half to even).
@Suite struct RunLineBufferTests {
    func printed(_ value: Double, _ decimals: Int) -> String {
        let lines = RunLineBuffer(tag: "t", decimals: decimals)
        lines.append(RunEntry(queryId: "q", docId: "d", rank: 1, score: value))
        let line = String(decoding: lines.bytes, as: UTF8.self)
        return String(line.split(separator: " ")[4])
    }

    @Test func fixedDecimalsEqualPrintf() {
        var random = TestRandom(seed: 11)
        var values: [Double] = [
            0, -0.0, 1, -1, 0.5, 1.5, 2.5, 1e-7, -1e-7, 0.0000005, 0.0000015, 123456.7890125,
            8589934591.999999, 1 / 128.0, 3 / 128.0, -1 / 128.0, 0.1, 0.7, 12.3456785,
            Double.leastNonzeroMagnitude, Double(Float.leastNonzeroMagnitude),
            // Floats that are integers (no rounding), up to just below 2^33.
            8_388_608, 16_777_216, 4_294_967_296, 8_589_933_568, 1_048_576.5, 0x1p-30, 0x1p-21,
        ]
        for n in 0..<2000 {
            // Halves of 2^-7 .. 2^-20 multiples hit exact ties; others are arbitrary.
            values.append(Double(n) / Double(1 << (7 + n % 14)))
            values.append(Double(Float(bitPattern: UInt32(truncatingIfNeeded: random.next()) & 0x4FFF_FFFF)))
            values.append(Double.random(in: -1000...1000, using: &random))
            values.append(Double(Float.random(in: 0...40, using: &random)) - 1e-6 * Double(n % 5))
        }
        var mismatches: [String] = []
        for value in values where value.magnitude < 0x1p33 {
            for decimals in [0, 1, 4, 6, 9] {
                let expected = formatFixed(value, decimals: decimals)
                let got = printed(value, decimals)
                if got != expected { mismatches.append("\(value) %.\(decimals)f: \(got) vs \(expected)") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    /// The many-lines form (BM25's run writer) writes what one `append` per line writes.
    @Test func manyLinesEqualLineByLine() {
        var random = TestRandom(seed: 5)
        let ids = ["d0", "doc-1", "", "a-much-longer-document-identifier-3", "4"]
        var offsets: [UInt64] = [0]
        var bytes: [UInt8] = []
        for id in ids {
            bytes += Array(id.utf8)
            offsets.append(UInt64(bytes.count))
        }
        // (document, unused) pairs, as BM25's hits lie in memory, and 3,000 lines (several
        // chunks of 1,024).
        var documents: [Int32] = []
        var scores: [Float] = []
        for _ in 0..<3_000 {
            documents += [Int32(random.next() % UInt64(ids.count)), -1]
            scores.append(Float.random(in: -0.01...60, using: &random))
        }
        // Zeros, halfway cases, values past 2^33 and non-finite ones among them.
        let special: [Float] = [
            0, -0.0, 0.0000005, 9.9999995, 2.5e-7, 1e10, -3e12, .infinity, -.infinity, .nan,
            Float(0x1p33), Float(0x1p33).nextDown, .leastNonzeroMagnitude,
        ]
        for (n, value) in special.enumerated() { scores[97 * n + 5] = value }
        // Six decimals (the C routines), three, and the shortest form (line by line in Swift);
        // ranks from 0 (the counter's first carries), 11 and 9,999,990 (a new digit).
        let cases: [(Int?, Int)] = [(6, 11), (6, 0), (6, 9_999_990), (3, 11), (nil, 11)]
        for (decimals, firstRank) in cases {
            let many = RunLineBuffer(tag: "tag", decimals: decimals)
            let single = RunLineBuffer(tag: "tag", decimals: decimals)
            let queryId = Array("query-7".utf8)
            queryId.withUnsafeBytes { q in
                documents.withUnsafeBufferPointer { d in
                    scores.withUnsafeBufferPointer { s in
                        offsets.withUnsafeBufferPointer { o in
                            bytes.withUnsafeBufferPointer { b in
                                many.append(
                                    queryId: q, documents: d.baseAddress!, stride: 2,
                                    scores: s.baseAddress!, count: s.count, firstRank: firstRank,
                                    idOffsets: o.baseAddress!, idBytes: b.baseAddress!)
                            }
                        }
                    }
                }
            }
            for (i, score) in scores.enumerated() {
                single.append(
                    RunEntry(
                        queryId: "query-7", docId: ids[Int(documents[2 * i])], rank: firstRank + i,
                        score: Double(score)))
            }
            #expect(many.count == single.count, "decimals \(String(describing: decimals))")
            #expect(Array(many.bytes) == Array(single.bytes), "decimals \(String(describing: decimals))")
            let first = String(decoding: many.bytes, as: UTF8.self).split(separator: "\n")[0]
            let expectedScore = decimals.map { formatFixed(Double(scores[0]), decimals: $0) } ?? "\(Double(scores[0]))"
            #expect(first == "query-7 Q0 \(ids[Int(documents[0])]) \(firstRank) \(expectedScore) tag")
        }
    }

    @Test func largeAndNonFiniteValuesFallBackToPrintf() {
        for value in [1e12, -3e15, Double.infinity, -Double.infinity] {
            #expect(printed(value, 6) == formatFixed(value, decimals: 6))
        }
        #expect(printed(.nan, 6) == formatFixed(.nan, decimals: 6))
    }

    @Test func ranksEqualTheirDescription() {
        var ranks = Array(0...2_100)
        var power = 1
        for _ in 0..<18 {
            power *= 10
            ranks += [power - 1, power, power + 1]
        }
        ranks += [Int.max, -1, -10, -99, -100, Int.min + 1]
        var mismatches: [String] = []
        for rank in ranks {
            let lines = RunLineBuffer(tag: "t")
            lines.append(RunEntry(queryId: "q", docId: "d", rank: rank, score: 1))
            let written = String(decoding: lines.bytes, as: UTF8.self).split(separator: " ")[3]
            if written != "\(rank)" { mismatches.append("\(rank): \(written)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func linesHaveTheTrecLayout() throws {
        let lines = RunLineBuffer(tag: "my-run")
        lines.append(RunEntry(queryId: "q1", docId: "doc-9", rank: 12, score: 3.25))
        lines.append(RunEntry(queryId: "q1", docId: "d", rank: 1_000_000, score: -0.0000004))
        #expect(
            String(decoding: lines.bytes, as: UTF8.self)
                == "q1 Q0 doc-9 12 3.250000 my-run\nq1 Q0 d 1000000 -0.000000 my-run\n")
        let shortest = RunLineBuffer(tag: "t", decimals: nil)
        shortest.append(RunEntry(queryId: "q", docId: "d", rank: 1, score: 0.1))
        #expect(String(decoding: shortest.bytes, as: UTF8.self) == "q Q0 d 1 0.1 t\n")
    }

    /// Ids and tags of every length from 0 to 40 (the copy takes different paths below 4, 8
    /// and 16 bytes and above) land whole, with nothing lost or overlapping.
    @Test func idsAndTagsOfEveryLength() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"
        for n in 0...40 {
            let piece = String(text.prefix(n))
            let tag = String(text.suffix(n))
            let lines = RunLineBuffer(tag: tag)
            lines.append(RunEntry(queryId: piece, docId: piece, rank: 3, score: 1.5))
            lines.append(RunEntry(queryId: "q", docId: String(piece.reversed()), rank: 4, score: 1))
            let expected = "\(piece) Q0 \(piece) 3 1.500000 \(tag)\n"
                + "q Q0 \(String(piece.reversed())) 4 1.000000 \(tag)\n"
            #expect(String(decoding: lines.bytes, as: UTF8.self) == expected, "length \(n)")
        }
    }
}
