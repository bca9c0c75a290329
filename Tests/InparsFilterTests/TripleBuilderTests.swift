import Foundation
import InparsCore
import InparsTestSupport
import Testing

@testable import InparsFilter

@Suite struct TripleBuilderTests {
    static let corpusIds: Set<String> = Set((0..<50).map { "doc\($0)" })

    func builder(
        _ searcher: DocumentSearcher, _ configure: (inout TripleConfiguration) -> Void = { _ in }
    ) -> TripleBuilder {
        var configuration = TripleConfiguration()
        configure(&configuration)
        let ids = Self.corpusIds
        return TripleBuilder(
            configuration: configuration, searcher: searcher, inCorpus: { ids.contains($0) },
            inputPath: "in.jsonl", corpusPath: "corpus.jsonl")
    }

    @Test func thePositiveIsNeverANegative() throws {
        // The source document is BM25's top hit; asking for more negatives than there are
        // other hits returns all the others, in rank order.
        let searcher = FakeSearcher(["q": ["doc1", "doc2", "doc3", "doc4"]])
        let input = rows([("doc1", "q", [])])
        let (triples, summary) = try builder(searcher) { $0.negatives = 10 }.run(input)
        #expect(triples.map(\.negativeId) == ["doc2", "doc3", "doc4"])
        #expect(triples.allSatisfy { $0.positiveId == "doc1" && $0.query == "q" })
        #expect(summary.triples == 3)
    }

    @Test func manyDrawsNeverPickTheSourceAndCoverTheOthersUniformly() throws {
        // 3000 queries with the source at rank 2 of 6 hits; one negative each. Each of the 5
        // other hits should be drawn ~600 times (binomial sd ≈ 22; allow ±100).
        let hits = ["doc0", "doc1", "doc2", "doc3", "doc4", "doc5"]
        let searcher = FakeSearcher([:], fallback: { _ in hits })
        let input = (0..<3000).map {
            SyntheticQuery(lineNumber: $0 + 1, queryId: "\($0)", docId: "doc2", query: "q\($0)")
        }
        let (triples, _) = try builder(searcher) { $0.threads = 2 }.run(input)
        #expect(triples.count == 3000)
        var counts: [String: Int] = [:]
        for t in triples { counts[t.negativeId, default: 0] += 1 }
        #expect(counts["doc2"] == nil)
        for id in ["doc0", "doc1", "doc3", "doc4", "doc5"] {
            let n = counts[id, default: 0]
            #expect(n > 500 && n < 700, "\(id): \(n)")
        }
    }

    @Test func theSameSeedGivesTheSameTriplesWhateverTheThreads() throws {
        let hits = (0..<40).map { "doc\($0)" }
        let searcher = FakeSearcher(
            [:],
            fallback: { q in
                // A query-dependent rotation so queries differ.
                let shift = q.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xFFFF } % hits.count
                return Array(hits[shift...] + hits[..<shift])
            })
        let input = (0..<300).map {
            SyntheticQuery(
                lineNumber: $0 + 1, queryId: "\($0)", docId: "doc\($0 % 40)", query: "query \($0)")
        }
        func triples(threads: Int, seed: UInt64) throws -> [Triple] {
            try builder(searcher) {
                $0.threads = threads
                $0.seed = seed
                $0.negatives = 3
            }.run(input).triples
        }
        let one = try triples(threads: 1, seed: 7)
        #expect(one.count == 900)
        #expect(try triples(threads: 2, seed: 7) == one)
        #expect(try triples(threads: 5, seed: 7) == one)
        let other = try triples(threads: 1, seed: 8)
        #expect(other != one)
        #expect(other.map(\.query) == one.map(\.query))
    }

    @Test func queriesWithoutAUsableHitAreCountedAndSkipped() throws {
        let searcher = FakeSearcher([
            "only source": ["doc1"], "nothing": [], "missing": ["gone1", "gone2"],
            "fine": ["doc9", "doc4"],
        ])
        let input = rows([
            ("doc1", "only source", []), ("doc2", "nothing", []), ("doc3", "missing", []),
            ("doc4", "fine", []), ("doc5", " \t", []),
        ])
        let (triples, summary) = try builder(searcher).run(input)
        #expect(triples.map(\.negativeId) == ["doc9"])
        #expect(triples.map(\.rowIndex) == [3])
        #expect(summary.noUsableHit == 3)
        #expect(summary.emptyQuery == 1)
        #expect(summary.hitsMissingFromCorpus == 2)
        #expect(summary.searched == 4)
    }

    @Test func mrrAndRecallOfTheSourceDocument() throws {
        // Source ranks: 1, 4, 12 (outside MRR@10 but within depth), absent.
        // MRR@10 = (1 + 1/4 + 0 + 0) / 4 = 0.3125; Recall@20 = 3/4.
        let filler = (20..<40).map { "doc\($0)" }
        let searcher = FakeSearcher([
            "a": ["doc1"] + filler,
            "b": Array(filler[0..<3]) + ["doc2"] + filler[3...],
            "c": Array(filler[0..<11]) + ["doc3"] + filler[11...],
            "d": filler,
        ])
        let input = rows([
            ("doc1", "a", []), ("doc2", "b", []), ("doc3", "c", []), ("doc4", "d", []),
        ])
        let (_, summary) = try builder(searcher) { $0.depth = 20 }.run(input)
        #expect(abs(summary.mrrAt10 - 0.3125) < 1e-12)
        #expect(summary.recallAtDepth == 0.75)
        #expect(summary.lines.contains("BM25 Recall@20 of the source document: 0.7500"))
    }

    @Test func anUnknownSourceDocumentThrowsOrIsCounted() throws {
        let searcher = FakeSearcher([:], fallback: { _ in ["doc1", "doc2"] })
        let input = rows([("doc3", "q1", []), ("nope", "q2", [])])
        #expect(
            throws: FilterError.unknownDocument(
                path: "in.jsonl", line: 2, docId: "nope", corpus: "corpus.jsonl")
        ) {
            try builder(searcher).run(input)
        }
        let (triples, summary) = try builder(searcher) { $0.skipBadLines = true }.run(input)
        #expect(triples.map(\.positiveId) == ["doc3"])
        #expect(summary.unknownSource == 1)
    }

    @Test func sampleDrawsDistinctSortedIndices() {
        var g = SeededGenerator(seed: 3)
        for n in [0, 1, 5, 100] {
            for k in [1, 3, 200] {
                let s = TripleBuilder.sample(k, of: n, using: &g)
                #expect(s.count == min(k, n))
                #expect(Set(s).count == s.count)
                #expect(s == s.sorted())
                #expect(s.allSatisfy { $0 >= 0 && $0 < n })
            }
        }
    }

    @Test func neighbouringRowsGetUnrelatedStreams() {
        var a = TripleBuilder.generator(seed: 1, index: 0)
        var b = TripleBuilder.generator(seed: 1, index: 1)
        let first = (0..<4).map { _ in a.next() }
        let second = (0..<4).map { _ in b.next() }
        #expect(Set(first).isDisjoint(with: second))
    }

    @Test func tsvFieldsLoseTabsAndNewlines() {
        #expect(TripleBuilder.tsvField("a\tb\nc\r\nd") == "a b c d")
        #expect(TripleBuilder.tsvField("plain") == "plain")
    }
}
