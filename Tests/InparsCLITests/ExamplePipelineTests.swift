import Foundation
import InparsTestSupport
import Testing

/// Runs the commands of `Examples/README.md` exactly as written, in order, and checks that each
/// stage's output is what the next stage needs (the README cannot rot).
@Suite struct ExamplePipelineTests {
    /// The README's shell block as argument vectors, with `$I $E $M $W` substituted.
    static func readmeCommands(work: URL) throws -> [[String]] {
        let readme = try String(
            contentsOf: TestPaths.repositoryRoot.appendingPathComponent("Examples/README.md"),
            encoding: .utf8)
        guard let start = readme.range(of: "```sh\n"),
            let end = readme.range(of: "\n```", range: start.upperBound..<readme.endIndex)
        else { throw CocoaError(.fileReadCorruptFile) }
        let block = readme[start.upperBound..<end.lowerBound]
            .replacingOccurrences(of: "\\\n", with: " ")
        let root = TestPaths.repositoryRoot.path
        let variables = [
            "$E": root + "/Examples/tiny", "$M": root + "/Tests/Fixtures/t5-tiny",
            "$W": work.path,
        ]
        return block.split(separator: "\n").compactMap { line -> [String]? in
            let words = line.split(separator: " ").map(String.init)
            guard words.first == "$I" else { return nil }
            return words.dropFirst().map { word in
                variables.reduce(word) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
            }
        }
    }

    static func jsonRows(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    static func mean(_ row: [String: Any]) -> Double {
        let values = (row["log_probs"] as? [Double]) ?? []
        return values.reduce(0, +) / Double(values.count)
    }

    @Test func theExamplesReadmeRunsEndToEndAndStagesFitTogether() throws {
        let work = try TestPaths.temporaryDirectory("inpars-example")
        defer { try? FileManager.default.removeItem(at: work) }
        let commands = try Self.readmeCommands(work: work)
        #expect(commands.map(\.first) == [
            "generate", "filter", "filter", "index", "triples", "search", "evaluate", "train",
            "rerank", "evaluate",
        ])
        var outputs = [String]()
        for arguments in commands {
            let result = try BuiltProducts.run(arguments)
            try #require(
                result.status == 0, "inpars \(arguments.joined(separator: " ")): \(result.stderr)")
            outputs.append(result.stdout)
        }

        // generate → filter: our generate output is read by filter without conversion, and
        // the score is the mean token log-prob, best first.
        let generated = try Self.jsonRows(work.appendingPathComponent("generated.jsonl"))
        #expect(generated.count == 8)
        let kept = try Self.jsonRows(work.appendingPathComponent("generated-filtered.jsonl"))
        #expect(kept.count == 6)
        for row in kept {
            let score = try #require(row["score"] as? Double)
            #expect(abs(score - Self.mean(row)) < 1e-9)
        }
        #expect(kept.map(Self.mean) == kept.map(Self.mean).sorted(by: >))
        let best6 = generated.map(Self.mean).sorted(by: >).prefix(6)
        #expect(zip(kept.map(Self.mean), best6).allSatisfy { abs($0 - $1) < 1e-12 })

        // toolkit-format file → filter → triples: positives are the source documents,
        // negatives are other documents.
        let filtered = try Self.jsonRows(work.appendingPathComponent("filtered.jsonl"))
        #expect(filtered.count == 10)
        let sources = Set(filtered.compactMap { $0["doc_id"] as? String })
        let ids = try String(contentsOf: work.appendingPathComponent("triple-ids.tsv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        #expect(!ids.isEmpty)
        for row in ids {
            #expect(row.count == 3)
            #expect(sources.contains(row[1]))
            #expect(row[2] != row[1])
        }
        let triples = try String(contentsOf: work.appendingPathComponent("triples.tsv"), encoding: .utf8)
            .split(separator: "\n")
        #expect(triples.count == ids.count)
        #expect(triples.allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == 3 })

        // search → evaluate: the table's nDCG@10 equals one computed here from the run file.
        let run = try String(contentsOf: work.appendingPathComponent("bm25.trec"), encoding: .utf8)
        let qrels: [String: [String: Int]] = try String(
            contentsOf: TestPaths.repositoryRoot.appendingPathComponent("Examples/tiny/qrels.tsv"),
            encoding: .utf8
        ).split(separator: "\n").dropFirst().reduce(into: [:]) { table, line in
            let f = line.split(separator: "\t")
            table[String(f[0]), default: [:]][String(f[1])] = Int(f[2])!
        }
        var ranked = [String: [String]]()
        for line in run.split(separator: "\n") {
            let f = line.split(separator: " ")
            ranked[String(f[0]), default: []].append(String(f[2]))
        }
        let ndcgs = qrels.keys.map { query -> Double in
            let gains = (ranked[query] ?? []).prefix(10).map { Double(qrels[query]?[$0] ?? 0) }
            let dcg = gains.enumerated().reduce(0.0) { $0 + (pow(2, $1.element) - 1) / log2(Double($1.offset) + 2) }
            let ideal = qrels[query]!.values.map(Double.init).sorted(by: >).prefix(10)
            let idcg = ideal.enumerated().reduce(0.0) { $0 + (pow(2, $1.element) - 1) / log2(Double($1.offset) + 2) }
            return dcg / idcg
        }
        let expected = ndcgs.reduce(0, +) / Double(ndcgs.count)
        let table = outputs[6]
        let reported = try #require(
            table.split(separator: "\n").first { $0.hasPrefix("ndcg@10") }?.split(separator: "\t").last
                .flatMap { Double($0) })
        #expect(abs(reported - expected) < 5e-5, "evaluate said \(reported), expected \(expected)")

        // train → rerank: the final model folder loads, and reranking keeps the candidate set.
        let final = work.appendingPathComponent("model/final")
        for file in ["config.json", "model.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: final.appendingPathComponent(file).path))
        }
        let log = try String(contentsOf: work.appendingPathComponent("model/final/train_log.jsonl"), encoding: .utf8)
        #expect(log.contains("ndcg@10") || log.contains("ndcg"))
        let reranked = try String(contentsOf: work.appendingPathComponent("reranked.trec"), encoding: .utf8)
        func pairs(_ text: String) -> Set<String> {
            Set(text.split(separator: "\n").map { line in
                let f = line.split(separator: " ")
                return "\(f[0]) \(f[2])"
            })
        }
        #expect(pairs(reranked) == pairs(run))
        #expect(outputs[9].contains("ndcg@10"))
    }
}
