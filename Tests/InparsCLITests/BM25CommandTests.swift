import Foundation
import InparsTestSupport
import Testing

/// End-to-end runs of `inpars index`, `search` and `evaluate` on a tiny corpus.
@Suite struct BM25CommandTests {
    func write(_ text: String, _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    static let corpus = """
        {"_id": "d1", "title": "Cats", "text": "Cats chase mice."}
        {"_id": "d2", "title": "", "text": "Dogs chase cats."}
        {"_id": "d3", "title": "Cheese", "text": "Mice eat cheese."}
        {"_id": "d4", "title": "", "text": ""}

        """

    @Test func indexSearchEvaluateRoundTrip() throws {
        let dir = try TestPaths.temporaryDirectory("cli-bm25")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try write(Self.corpus, "corpus.jsonl", in: dir)
        let queries = try write("q1\tcats\nq2\tcheese mice\n", "queries.tsv", in: dir)
        let qrels = try write("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t2\n", "qrels.tsv", in: dir)
        let index = dir.appendingPathComponent("idx").path
        let indexed = try BuiltProducts.run(["index", "--corpus", corpus, "--index", index])
        #expect(indexed.status == 0, "\(indexed.stderr)")
        #expect(indexed.stdout.isEmpty)
        #expect(indexed.stderr.contains("indexed 4 documents (3 with terms)"))
        let run = dir.appendingPathComponent("run.trec").path
        let searched = try BuiltProducts.run(
            ["search", "--index", index, "--queries", queries, "--k", "2", "--output", run,
             "--scores", "raw"])
        #expect(searched.status == 0, "\(searched.stderr)")
        let lines = try String(contentsOfFile: run, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("q1 Q0 d1 1 "))
        #expect(lines[2].hasPrefix("q2 Q0 d3 1 "))
        let evaluated = try BuiltProducts.run(
            ["evaluate", "--qrels", qrels, "--run", run, "--metrics", "ndcg@10,mrr@10", "--json"])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as! [String: Any]
        let metrics = json["metrics"] as! [String: Double]
        #expect(metrics["ndcg@10"] == 1.0)
        #expect(metrics["mrr@10"] == 1.0)
        let table = try BuiltProducts.run(["evaluate", "--qrels", qrels, "--run", run, "--per-query"])
        #expect(table.stdout.contains("ndcg@10\tq1\t1.0000"))
        #expect(table.stdout.contains("ndcg@10\tall\t1.0000"))
    }

    /// Issue 16, item 9: the new flag names (`index --output`, `search --hits`, trec_eval's
    /// metric names) give what the old ones give.
    @Test func newAndOldFlagNamesAgree() throws {
        let dir = try TestPaths.temporaryDirectory("cli-bm25-names")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try write(Self.corpus, "corpus.jsonl", in: dir)
        let queries = try write("q1\tcats\nq2\tcheese mice\n", "queries.tsv", in: dir)
        let qrels = try write("query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td3\t2\n", "qrels.tsv", in: dir)
        let index = dir.appendingPathComponent("idx").path
        #expect(try BuiltProducts.run(["index", "--corpus", corpus, "--output", index]).status == 0)
        let both = try BuiltProducts.run(
            ["index", "--corpus", corpus, "--output", index, "--index", index])
        #expect(both.status != 0 && both.stderr.contains("once"), "\(both.stderr)")
        var runs: [String] = []
        for flag in ["--hits", "--k"] {
            let run = dir.appendingPathComponent("run\(flag).trec").path
            let searched = try BuiltProducts.run(
                ["search", "--index", index, "--queries", queries, flag, "1", "--output", run])
            #expect(searched.status == 0, "\(searched.stderr)")
            runs.append(try String(contentsOfFile: run, encoding: .utf8))
        }
        #expect(runs[0] == runs[1])
        #expect(runs[0].split(separator: "\n").count == 2, "one hit per query")
        // trec_eval's names print the same values as ours.
        let run = dir.appendingPathComponent("run--hits.trec").path
        let ours = try BuiltProducts.run(
            ["evaluate", "--qrels", qrels, "--run", run, "--metrics", "ndcg@10,mrr,p@1,recall@100"])
        let trec = try BuiltProducts.run(
            ["evaluate", "--qrels", qrels, "--run", run, "--metrics",
             "ndcg_cut_10,recip_rank,P.1,recall_100"])
        #expect(ours.status == 0 && trec.status == 0, "\(trec.stderr)")
        #expect(ours.stdout == trec.stdout && !ours.stdout.isEmpty)
    }

    @Test func malformedCorpusLineNamesFileAndLineUnlessSkipped() throws {
        let dir = try TestPaths.temporaryDirectory("cli-bm25-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try write(
            "{\"_id\": \"d1\", \"text\": \"fine\"}\n{\"_id\": \"d2\", \"text\": oops}\n"
                + "{\"_id\": \"d3\", \"text\": \"also fine\"}\n", "corpus.jsonl", in: dir)
        let index = dir.appendingPathComponent("idx").path
        let failed = try BuiltProducts.run(["index", "--corpus", corpus, "--index", index])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("corpus.jsonl' at line 2, field 'text'"))
        #expect(!FileManager.default.fileExists(atPath: index))
        let skipped = try BuiltProducts.run(
            ["index", "--corpus", corpus, "--index", index, "--skip-bad-lines"])
        #expect(skipped.status == 0)
        #expect(skipped.stderr.contains("indexed 2 documents"))
        #expect(skipped.stderr.contains("skipped 1 malformed lines"))
    }

    @Test func duplicateIdsAndMissingIndexAreClearErrors() throws {
        let dir = try TestPaths.temporaryDirectory("cli-bm25-dup")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try write("d1\tone\nd2\ttwo\nd1\tthree\n", "corpus.tsv", in: dir)
        let duplicate = try BuiltProducts.run(
            ["index", "--corpus", corpus, "--index", dir.appendingPathComponent("idx").path])
        #expect(duplicate.status == 1)
        #expect(duplicate.stderr.contains("Duplicate id 'd1'"))
        #expect(duplicate.stderr.contains("line 3"))
        let queries = try write("q\ttext\n", "q.tsv", in: dir)
        let missing = try BuiltProducts.run(
            ["search", "--index", dir.appendingPathComponent("none").path, "--queries", queries])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("run 'inpars index' first"))
    }

    @Test func invalidUTF8IsReplacedCountedAndReported() throws {
        let dir = try TestPaths.temporaryDirectory("cli-bm25-utf8")
        defer { try? FileManager.default.removeItem(at: dir) }
        var bytes = Array("{\"_id\": \"d1\", \"text\": \"caf".utf8) + [0xC3, 0x28]
        bytes += Array("\"}\n{\"_id\": \"d2\", \"text\": \"fine\"}\n".utf8)
        let corpus = dir.appendingPathComponent("corpus.jsonl")
        try Data(bytes).write(to: corpus)
        let result = try BuiltProducts.run(
            ["index", "--corpus", corpus.path, "--index", dir.appendingPathComponent("idx").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("indexed 2 documents"))
        #expect(result.stderr.contains("replaced invalid UTF-8 in 1 lines"))
    }
}
