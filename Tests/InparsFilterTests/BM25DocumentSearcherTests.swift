import Foundation
import InparsBM25
import InparsCore
import InparsTestSupport
import Testing

@testable import InparsFilter

@Suite struct BM25DocumentSearcherTests {
    static func makeIndex() throws -> URL {
        let builder = BM25IndexBuilder()
        let texts = [
            ("d0", "aspirin lowers fever in adults"),
            ("d1", "statins reduce heart attacks"),
            ("d2", "fever and chills after vaccination"),
            ("d3", "aspirin aspirin aspirin"),
            ("d4", "the heart pumps blood"),
            ("d5", "unrelated text about cooking pasta"),
        ]
        for (id, text) in texts { builder.add(Document(id: id, text: text)) }
        let url = try TestPaths.temporaryDirectory("inpars-filter-index").appendingPathComponent(
            "index")
        _ = try builder.write(to: url)
        return url
    }

    @Test func returnsIdsOfMatchingDocumentsOnly() throws {
        let searcher = try BM25DocumentSearcher(directory: try Self.makeIndex())
        let hits = try searcher.search("aspirin fever", k: 10)
        #expect(Set(hits) == ["d0", "d2", "d3"])
        #expect(hits.first == "d0")  // the only document with both terms
        #expect(try searcher.search("heart", k: 1).count == 1)
        #expect(try searcher.search("zebra", k: 10).isEmpty)
    }

    @Test func concurrentSearchesMatchSequentialOnes() throws {
        let searcher = try BM25DocumentSearcher(directory: try Self.makeIndex())
        let queries = (0..<200).map {
            ["aspirin fever", "heart", "fever chills", "pasta heart"][$0 % 4]
        }
        let sequential = try queries.map { try searcher.search($0, k: 3) }
        let parallel = try parallelMap(count: queries.count, threads: 4, chunk: 1) {
            try searcher.search(queries[$0], k: 3)
        }
        #expect(parallel == sequential)
    }

    @Test func triplesFromARealIndexExcludeTheSource() throws {
        let searcher = try BM25DocumentSearcher(directory: try Self.makeIndex())
        let ids: Set<String> = ["d0", "d1", "d2", "d3", "d4", "d5"]
        var configuration = TripleConfiguration()
        configuration.negatives = 5
        let builder = TripleBuilder(
            configuration: configuration, searcher: searcher, inCorpus: { ids.contains($0) })
        let input = [
            SyntheticQuery(lineNumber: 1, queryId: "0", docId: "d0", query: "aspirin fever")
        ]
        let (triples, summary) = try builder.run(input)
        #expect(Set(triples.map(\.negativeId)) == ["d2", "d3"])
        #expect(summary.mrrAt10 == 1)
        #expect(summary.recallAtDepth == 1)
    }
}

/// Forwards only the string API, to force ``TripleBuilder``'s id-string path.
struct StringOnlySearcher: DocumentSearcher {
    let base: BM25DocumentSearcher
    func search(_ query: String, k: Int) throws -> [String] { try base.search(query, k: k) }
}

@Suite struct TripleBuilderPathTests {
    @Test func documentNumbersAndIdStringsGiveTheSameTriples() throws {
        // 300 documents over a 40-word vocabulary; every 7th is missing from the "corpus".
        var random = TestRandom(seed: 11)
        let vocabulary = (0..<40).map { "word\($0)x" }
        let builder = BM25IndexBuilder()
        for i in 0..<300 {
            let words = (0..<12).map { _ in vocabulary[Int(random.next() % 40)] }
            builder.add(Document(id: "doc\(i)", text: words.joined(separator: " ")))
        }
        let url = try TestPaths.temporaryDirectory("inpars-filter-paths").appendingPathComponent(
            "index")
        _ = try builder.write(to: url)
        let searcher = try BM25DocumentSearcher(directory: url)
        let input = (0..<120).map { q in
            SyntheticQuery(
                lineNumber: q + 1, queryId: "\(q)", docId: "doc\((q * 13) % 300 / 7 * 7 + 1)",
                query: (0..<3).map { _ in vocabulary[Int(random.next() % 40)] }.joined(
                    separator: " "))
        }
        var configuration = TripleConfiguration()
        configuration.negatives = 4
        configuration.depth = 50
        configuration.threads = 3
        let inCorpus: @Sendable (String) -> Bool = { id in Int(id.dropFirst(3))! % 7 != 0 }
        let fast = try TripleBuilder(
            configuration: configuration, searcher: searcher, inCorpus: inCorpus
        )
        .run(input)
        let slow = try TripleBuilder(
            configuration: configuration, searcher: StringOnlySearcher(base: searcher),
            inCorpus: inCorpus
        ).run(input)
        #expect(fast.triples == slow.triples)
        #expect(fast.summary == slow.summary)
        #expect(fast.summary.hitsMissingFromCorpus > 0)
        #expect(fast.summary.sourceFound > 0)
        #expect(
            fast.triples.allSatisfy { $0.negativeId != $0.positiveId && inCorpus($0.negativeId) })
    }
}
