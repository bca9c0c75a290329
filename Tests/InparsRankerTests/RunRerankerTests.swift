import Foundation
import InparsCore
import InparsRanker
import InparsTestSupport
import Testing

@Suite struct RunRerankerTests {
    let documents: [String: Document] = Dictionary(
        uniqueKeysWithValues: ["d1", "d2", "d3", "d4", "d5"].map {
            ($0, Document(id: $0, title: "T\($0)", text: "text \($0)"))
        })
    let queries = ["q1": Query(id: "q1", text: "first"), "q2": Query(id: "q2", text: "second")]

    /// Scores from a table keyed by document id (the scorer sees `title text`).
    func table(_ scores: [String: Float]) -> (String, [String]) -> [Float] {
        { _, texts in
            texts.map { text in scores[String(text.split(separator: " ")[0].dropFirst())]! }
        }
    }

    @Test func topKIsReorderedTiesKeepFirstStageOrderAndTheTailStaysBelow() throws {
        // First-stage ranks deliberately not in file order.
        let run = Run([
            RunEntry(queryId: "q1", docId: "d3", rank: 3, score: 7),
            RunEntry(queryId: "q1", docId: "d1", rank: 1, score: 9),
            RunEntry(queryId: "q1", docId: "d2", rank: 2, score: 8),
            RunEntry(queryId: "q1", docId: "d4", rank: 4, score: 6),
            RunEntry(queryId: "q1", docId: "d5", rank: 5, score: 5),
        ])
        let (output, summary) = try RunReranker(topK: 3).rerank(
            run: run, documents: documents, queries: queries,
            score: table(["d1": -2, "d2": -0.5, "d3": -2]))
        let list = try #require(output.entries["q1"])
        #expect(list.map(\.docId) == ["d2", "d1", "d3", "d4", "d5"])  // d1/d3 tie: first stage wins
        #expect(list.map(\.rank) == [1, 2, 3, 4, 5])
        #expect(list.map(\.score) == [-0.5, -2, -2, -3, -4])
        #expect(summary.pairsScored == 3 && summary.entriesKeptBelowTopK == 2)
    }

    @Test func unknownQueriesAndDocumentsAreSkippedAndCounted() throws {
        let run = Run([
            RunEntry(queryId: "q1", docId: "d1", rank: 1, score: 2),
            RunEntry(queryId: "q1", docId: "nope", rank: 2, score: 1),
            RunEntry(queryId: "q1", docId: "d2", rank: 3, score: 0),
            RunEntry(queryId: "qX", docId: "d1", rank: 1, score: 1),
            RunEntry(queryId: "qX", docId: "d2", rank: 2, score: 1),
        ])
        let (output, summary) = try RunReranker(topK: 10).rerank(
            run: run, documents: documents, queries: queries, score: table(["d1": -1, "d2": -0.1]))
        #expect(output.queryIds == ["q1"])
        #expect(output.entries["q1"]!.map(\.docId) == ["d2", "d1"])
        #expect(summary.unknownQueries == 1 && summary.entriesOfUnknownQueries == 2)
        #expect(summary.unknownDocuments == 1 && summary.pairsScored == 2)
    }

    /// The end-to-end path: a run file, the fixture model, the output file.
    @Test func aSmallRunIsRerankedWithTheFixtureModelToGoldenScores() throws {
        let golden = try MonoT5Golden.load("t5-tiny-v11")
        let cases = golden.cases.filter { $0.max_length == 512 }
        let reranker = try MonoT5Reranker.load(
            directory: TestPaths.fixtures.appendingPathComponent("t5-tiny-v11"),
            options: .init(batchSize: 2))
        // One query per distinct query text; each case's document under its query.
        var queries: [String: Query] = [:]
        var documents: [String: Document] = [:]
        var entries: [RunEntry] = []
        var expected: [String: Float] = [:]
        for (index, item) in cases.enumerated() {
            let queryId = "q\(Set(cases.prefix(index + 1).map(\.query)).count)"
            let existing = queries.first { $0.value.text == item.query }?.key
            let qid = existing ?? queryId
            queries[qid] = Query(id: qid, text: item.query)
            documents["doc\(index)"] = Document(id: "doc\(index)", text: item.document)
            entries.append(
                RunEntry(
                    queryId: qid, docId: "doc\(index)",
                    rank: entries.filter { $0.queryId == qid }.count + 1, score: 10))
            expected["doc\(index)"] = item.score_true_false
        }
        let (output, _) = try RunReranker(topK: 100).rerank(
            run: Run(entries), documents: documents, queries: queries
        ) { query, texts in reranker.score(query: query, documents: texts) }

        let folder = try TestPaths.temporaryDirectory("rerank")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("out.trec")
        try output.write(to: url, tag: "monoT5", decimals: nil)
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == cases.count)
        var lastScore: [String: Double] = [:]
        for line in lines {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            try #require(fields.count == 6, "not 6 space-separated fields: \(line)")
            #expect(fields[1] == "Q0" && fields[5] == "monoT5")
            let score = try #require(Double(fields[4]))
            let want = try #require(expected[String(fields[2])])
            #expect(abs(Float(score) - want) <= 1e-4, "\(fields[2]): \(score) vs \(want)")
            if let previous = lastScore[String(fields[0])] { #expect(score <= previous) }
            lastScore[String(fields[0])] = score
        }
    }
}
