import Foundation
import InparsCore
import InparsTestSupport
import Testing

@testable import InparsBM25

/// Pruned search (MaxScore with block-max bounds) must return exactly what the exhaustive
/// search returns: the same documents, the same float scores bit for bit, the same tie order,
/// for every k.
@Suite struct PrunedSearchTests {
    /// The windowed search's units of range bounds: a power of two that puts the query's bound
    /// sum between 2^14 and 2^15 units (so up to 2^15 terms rounded up stay below 2^16), each
    /// bound rounded up to the fewest units that hold it, and a sum of units above the cutoff
    /// exactly when its value is — for sums of every size, 0, and cutoffs below 0 or above
    /// every sum.
    @Test func rangeBoundUnitsHoldWhatTheyStandFor() {
        var random = TestRandom(seed: 23)
        let window = WindowBuffers(terms: 1, size: 64)
        let sums = [0, 1e-300, 3e-9, 0.37, 1, 12.5, 16_384, 7.7e12, 1e300]
        for sum in sums {
            window.unit = WindowBuffers.unit(boundSum: sum)
            let unit = window.unit
            #expect(unit > 0 && unit.significandBitPattern == 0, "sum \(sum): unit \(unit)")
            if sum > 0 {
                #expect(sum / unit < 32_768 && sum / unit >= 16_384, "sum \(sum): unit \(unit)")
            }
            for _ in 0..<200 {
                let bound = sum * Double.random(in: 0...1, using: &random)
                let units = window.units(bound)
                #expect(Double(units) * unit >= bound, "sum \(sum): \(bound) above \(units) units")
                #expect(units == 0 || Double(units - 1) * unit < bound, "sum \(sum): \(bound) loose")
                let cutoff = sum * Double.random(in: -0.5...2.5, using: &random)
                let cutoffUnits = window.cutoffUnits(cutoff)
                let u = UInt16.random(in: 0...UInt16.max, using: &random)
                for value in [u, units, UInt16(clamping: max(0, Int(cutoffUnits))), UInt16(clamping: Int(cutoffUnits) + 1)] {
                    #expect(
                        (Double(value) * unit > cutoff) == (Int32(value) > cutoffUnits),
                        "sum \(sum): \(value) units against cutoff \(cutoff)")
                }
            }
        }
    }

    /// Hits as comparable values: document number and the score's bit pattern.
    static func signature(_ hits: [BM25Hit]) -> [UInt64] {
        hits.map { UInt64(UInt32(bitPattern: $0.document)) << 32 | UInt64($0.score.bitPattern) }
    }

    @Test func sciFactPrunedEqualsExhaustiveForAllTestQueries() throws {
        guard let data = TestPaths.sharedData("scifact") else {
            print("skipped: ../shared/data/scifact is not present (pruned search test)")
            return
        }
        let directory = try TestPaths.temporaryDirectory("scifact-pruned")
        defer { try? FileManager.default.removeItem(at: directory) }
        let indexURL = directory.appendingPathComponent("index")
        _ = try BM25IndexBuilder.build(
            corpus: data.appendingPathComponent("corpus.jsonl"), index: indexURL, threads: 2)
        let index = try BM25Index.open(indexURL)
        let qrels = try Qrels.read(data.appendingPathComponent("qrels/test.tsv"))
        let queries = try QueryReader.read(data.appendingPathComponent("queries.jsonl")).queries
            .filter { qrels.judgments[$0.id] != nil }
        #expect(queries.count == 300)
        let exhaustive = BM25Searcher(index: index, strategy: .exhaustive)
        let pruned = BM25Searcher(index: index, strategy: .pruned)
        // SciFact's queries have rare words, so the automatic choice is document-at-a-time;
        // the windowed path is checked on them too (default and small windows).
        let windowed = [BM25Searcher.defaultWindowSize, 128].map {
            Self.searcher(index, windowSize: $0, windowedDensity: Self.always)
        }
        var scored: [Int: Int] = [:]
        for k in [10, 100, 1000, index.documentCount] {
            var mismatches = 0
            for query in queries {
                let reference = exhaustive.search(query.text, k: k)
                pruned.statistics = .init()
                let hits = pruned.search(query.text, k: k)
                scored[k, default: 0] += pruned.statistics.scored
                let others = windowed.map { $0.search(query.text, k: k) }
                if Self.signature(hits) != Self.signature(reference)
                    || others.contains(where: { Self.signature($0) != Self.signature(reference) })
                {
                    mismatches += 1
                    if mismatches <= 3 {
                        Issue.record("k=\(k) query \(query.id): pruned differs from exhaustive")
                    }
                }
                #expect(reference.count == min(k, reference.count))
            }
            #expect(mismatches == 0, "k=\(k): \(mismatches) of 300 queries differ")
        }
        // The exhaustive reference ran both accumulations (dense marks and the touched list).
        let dense = exhaustive.statistics.dense
        #expect(dense > 0 && dense < 4 * queries.count, "\(dense) dense of \(4 * queries.count)")
        #expect(windowed.allSatisfy { $0.statistics.windowed == $0.statistics.searches })
        // With k = every document nothing can be pruned: every matching document is scored.
        // Smaller k must score far fewer (the test would pass vacuously otherwise).
        let all = scored[index.documentCount]!
        #expect(Double(scored[10]!) < 0.3 * Double(all), "k=10 scored \(scored[10]!) of \(all)")
        #expect(Double(scored[100]!) < 0.6 * Double(all), "k=100 scored \(scored[100]!) of \(all)")
    }

    /// A `windowedDensity` that sends every query to the windowed path.
    static let always = 1 << 40

    /// A pruned searcher with the given window size and path choice.
    static func searcher(
        _ index: BM25Index, parameters: BM25Parameters = BM25Parameters(),
        windowSize: Int = BM25Searcher.defaultWindowSize,
        windowedDensity: Int = BM25Searcher.defaultWindowedDensity
    ) -> BM25Searcher {
        BM25Searcher(
            index: index, parameters: parameters, strategy: .pruned,
            buffers: SearchBuffers(count: index.documentCount), windowSize: windowSize,
            windowedDensity: windowedDensity)
    }

    /// A corpus where the head of a Zipf vocabulary is in nearly every document (document
    /// frequencies up to ~99 %), lengths vary widely, some documents are exact copies (score
    /// ties broken by id) and ids are not in document order.
    static func commonTermsIndex() throws -> (URL, BM25Index) {
        let directory = try TestPaths.temporaryDirectory("bm25-common-terms")
        var random = TestRandom(seed: 18)
        let vocabulary = 3000
        var cumulative: [Double] = []
        var sum = 0.0
        for r in 1...vocabulary {
            sum += 1 / Double(r)
            cumulative.append(sum)
        }
        func word() -> String {
            let u = Double(random.next() >> 11) / Double(1 << 53) * sum
            var low = 0
            var high = vocabulary - 1
            while low < high {
                let mid = (low + high) / 2
                if cumulative[mid] < u { low = mid + 1 } else { high = mid }
            }
            return "w\(low)"
        }
        let builder = BM25IndexBuilder(threads: 2, batchSize: 500)
        var texts: [String] = []
        for i in 0..<4000 {
            let length = Int(random.next() % 90) + 1
            var text = (0..<length).map { _ in word() }.joined(separator: " ")
            if i % 97 == 5 { text = "" }
            if i % 13 == 0 && !texts.isEmpty { text = texts[Int(random.next() % UInt64(texts.count))] }
            texts.append(text)
            builder.add(Document(id: "d\((i * 7919) % 10007)", text: text))
        }
        let url = directory.appendingPathComponent("idx")
        _ = try builder.write(to: url)
        return (directory, try BM25Index.open(url))
    }

    static func commonTermQueries() -> [String] {
        var random = TestRandom(seed: 7)
        var queries = [
            "w0", "w0 w1", "w0 w1 w2 w3 w4", "w0 w0 w1", "w1 w2 w2 w2 w5", "w2999 w0",
            "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11", "w17 nosuchword w0", "w300 w301 w302",
        ]
        for _ in 0..<31 {
            let length = Int(random.next() % 6) + 1
            queries.append(
                (0..<length).map { _ in
                    // Mostly head words, sometimes mid or tail ones.
                    let r = random.next() % 4 == 0
                        ? random.next() % 3000 : random.next() % 40
                    return "w\(r)"
                }.joined(separator: " "))
        }
        return queries
    }

    @Test(arguments: [
        BM25Parameters(k1: 0.9, b: 0.4), BM25Parameters(k1: 1.2, b: 0.75),
        BM25Parameters(k1: 0.9, b: 0), BM25Parameters(k1: 0.5, b: 1), BM25Parameters(k1: 0, b: 0.4),
        BM25Parameters(k1: 1e9, b: 0.4),
    ])
    func prunedEqualsExhaustiveWithVeryCommonTerms(_ parameters: BM25Parameters) throws {
        let (directory, index) = try Self.commonTermsIndex()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(index.documentFrequency(ofTerm: "w0") > 3400)  // ~90 % of the documents
        let exhaustive = BM25Searcher(index: index, parameters: parameters, strategy: .exhaustive)
        let pruned = BM25Searcher(index: index, parameters: parameters, strategy: .pruned)
        #expect(pruned.exactBlockBounds == (parameters.b == 0.4))
        // Both pruned paths whatever the query, the windowed one also with small windows
        // (many window boundaries, skipped windows, block boundaries inside one window).
        let forced =
            [Self.searcher(index, parameters: parameters, windowedDensity: 0)]
            + [BM25Searcher.defaultWindowSize, 256, 64].map {
                Self.searcher(
                    index, parameters: parameters, windowSize: $0, windowedDensity: Self.always)
            }
        var mismatches: [String] = []
        var anyTie = false
        for query in Self.commonTermQueries() {
            for k in [1, 10, 100, 1000, 5000] {
                let reference = exhaustive.search(query, k: k)
                for (i, searcher) in ([pruned] + forced).enumerated() {
                    let hits = searcher.search(query, k: k)
                    if Self.signature(hits) != Self.signature(reference) {
                        mismatches.append("'\(query)' k=\(k) searcher \(i)")
                    }
                }
                if zip(reference, reference.dropFirst()).contains(where: { $0.score == $1.score }) {
                    anyTie = true
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5)) (\(mismatches.count) in all)")
        #expect(anyTie, "the corpus is meant to produce tied scores")
        // The automatic choice took both paths on these queries.
        #expect(pruned.statistics.windowed > 0)
        #expect(pruned.statistics.windowed < pruned.statistics.searches)
        #expect(forced[0].statistics.windowed == 0)
        #expect(forced[1].statistics.windowed == forced[1].statistics.searches)
    }

    /// The path choice at its boundary: a query whose rarest term is in exactly one document
    /// in `density` runs the windowed path, one document fewer does not; both give the
    /// exhaustive result.
    @Test func pathChoiceBoundary() throws {
        let (directory, index) = try Self.commonTermsIndex()
        defer { try? FileManager.default.removeItem(at: directory) }
        let n = index.documentCount
        let exhaustive = BM25Searcher(index: index, strategy: .exhaustive)
        // A mid-frequency term, with the densities that put it just inside and just outside.
        let term = "w40"
        let df = index.documentFrequency(ofTerm: term)
        #expect(df > 20 && df < n / 4, "df \(df)")
        let inside = (n + df - 1) / df  // df · inside ≥ n
        let outside = inside - 1  // df · outside < n
        #expect(df * inside >= n && df * outside < n)
        for query in ["w0 \(term)", "\(term)", "w1 w2 \(term) w0"] {
            for (density, windowed) in [(inside, true), (outside, false)] {
                let searcher = Self.searcher(index, windowedDensity: density)
                for k in [1, 10, 100, 1000] {
                    let hits = searcher.search(query, k: k)
                    #expect(
                        Self.signature(hits) == Self.signature(exhaustive.search(query, k: k)),
                        "'\(query)' k=\(k) density \(density)")
                }
                #expect(searcher.statistics.windowed == (windowed ? 4 : 0), "'\(query)' \(density)")
            }
        }
    }

    @Test func threadCountDoesNotChangeTheRun() throws {
        let (directory, index) = try Self.commonTermsIndex()
        defer { try? FileManager.default.removeItem(at: directory) }
        let queries = Self.commonTermQueries().enumerated().map {
            Query(id: "q\($0.offset)", text: $0.element)
        }
        var files: [Data] = []
        for threads in [1, 2, 3] {
            let url = directory.appendingPathComponent("run-\(threads).txt")
            let options = BM25BatchSearch.Options(k: 100, threads: threads, strategy: .pruned)
            try AtomicFile.write(to: url, replacing: .trecRun) { output in
                try BM25BatchSearch.write(
                    index: index, queries: queries, options: options, tag: "t", to: output)
            }
            files.append(try Data(contentsOf: url))
        }
        #expect(files[0].count > 100_000)
        #expect(files[1] == files[0])
        #expect(files[2] == files[0])
        let exhaustive = BM25BatchSearch.run(
            index: index, queries: queries, k: 100, threads: 1, strategy: .exhaustive)
        let written = try Run.read(directory.appendingPathComponent("run-3.txt"))
        #expect(written.queryIds == exhaustive.queryIds)
        for id in exhaustive.queryIds {
            #expect(written.entries[id]!.map(\.docId) == exhaustive.entries[id]!.map(\.docId))
        }
    }
}
