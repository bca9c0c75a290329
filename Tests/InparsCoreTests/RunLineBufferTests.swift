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
}
