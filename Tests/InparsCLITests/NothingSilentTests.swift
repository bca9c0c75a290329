import Foundation
import InparsTestSupport
import Testing

/// A run that produces nothing, or skips most of its work, says so and exits non-zero
/// (issue 16, finding 5).
@Suite struct NothingSilentTests {
    static let model = TestPaths.fixtures.appendingPathComponent("t5-tiny").path
    static let examples = TestPaths.repositoryRoot.appendingPathComponent("Examples/tiny").path

    func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    @Test func generateWithT5AndTheDefaultPromptWritesQueries() throws {
        let folder = try TestPaths.temporaryDirectory("silent-generate")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("queries.jsonl").path
        let result = try BuiltProducts.run([
            "generate", "--corpus", "\(Self.examples)/corpus.jsonl", "--model", Self.model,
            "--max-generations", "1", "--max-new-tokens", "1", "--max-doc-tokens", "8",
            "--threads", "1", "--output", output,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("wrote 1,"), "\(result.stderr)")
    }

    @Test func generateThatSkipsMostPromptsFailsAndSaysWhy() throws {
        let folder = try TestPaths.temporaryDirectory("silent-generate-skip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("queries.jsonl").path
        let result = try BuiltProducts.run([
            "generate", "--corpus", "\(Self.examples)/corpus.jsonl", "--model", Self.model,
            "--prompt", "\(Self.examples)/prompt.txt", "--max-generations", "3",
            "--max-new-tokens", "2", "--max-prompt-tokens", "20", "--threads", "1",
            "--output", output,
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("skipped 3 of 3 generations"), "\(result.stderr)")
        #expect(result.stderr.contains("--max-prompt-tokens"), "\(result.stderr)")
    }

    @Test func aPromptFileWithoutADocumentPlaceholderIsAnError() throws {
        let folder = try TestPaths.temporaryDirectory("silent-prompt")
        defer { try? FileManager.default.removeItem(at: folder) }
        let prompt = try write("Write a query:\n{query}", "prompt.txt", in: folder)
        let result = try BuiltProducts.run([
            "generate", "--corpus", "\(Self.examples)/corpus.jsonl", "--model", Self.model,
            "--prompt", prompt, "--output", folder.appendingPathComponent("q.jsonl").path,
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("{document}"), "\(result.stderr)")
        #expect(result.stderr.contains(prompt), "\(result.stderr)")
    }

    @Test func indexAndSearchRefuseEmptyInputs() throws {
        let folder = try TestPaths.temporaryDirectory("silent-bm25")
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = folder.appendingPathComponent("index").path
        for corpus in ["", "\n\n", "{\"_id\": \"d1\", \"text\": \"\"}\n"] {
            let file = try write(corpus, "corpus.jsonl", in: folder)
            let result = try BuiltProducts.run(["index", "--corpus", file, "--index", index])
            #expect(result.status == 1, "\(corpus.debugDescription): \(result.stderr)")
            #expect(result.stderr.contains(file), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: index))
        }
        let built = try BuiltProducts.run([
            "index", "--corpus", "\(Self.examples)/corpus.jsonl", "--index", index,
        ])
        #expect(built.status == 0, "\(built.stderr)")
        let run = folder.appendingPathComponent("run.trec").path
        let empty = try write("\n", "queries.jsonl", in: folder)
        let noQueries = try BuiltProducts.run([
            "search", "--index", index, "--queries", empty, "--output", run,
        ])
        #expect(noQueries.status == 1, "\(noQueries.stderr)")
        #expect(noQueries.stderr.contains(empty), "\(noQueries.stderr)")
        let qrels = try write("qX\t0\td1\t1\n", "qrels.txt", in: folder)
        let unjudged = try BuiltProducts.run([
            "search", "--index", index, "--queries", "\(Self.examples)/queries.jsonl", "--qrels",
            qrels, "--output", run,
        ])
        #expect(unjudged.status == 1, "\(unjudged.stderr)")
        #expect(unjudged.stderr.contains(qrels), "\(unjudged.stderr)")
        let noHits = try write("q1\tzzzz qqqq\n", "nohits.tsv", in: folder)
        let nothing = try BuiltProducts.run([
            "search", "--index", index, "--queries", noHits, "--output", run,
        ])
        #expect(nothing.status == 1, "\(nothing.stderr)")
        #expect(nothing.stderr.contains("no hits"), "\(nothing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: run))
    }

    @Test func rerankThatMatchesNoQueryOrDocumentFails() throws {
        let folder = try TestPaths.temporaryDirectory("silent-rerank")
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try write("q1 Q0 d1 1 2.0 bm25\nq1 Q0 d2 2 1.0 bm25\n", "run.trec", in: folder)
        let otherQueries = try write("qA\tcats\n", "queries.tsv", in: folder)
        let output = folder.appendingPathComponent("reranked.trec").path
        let result = try BuiltProducts.run([
            "rerank", "--model", Self.model, "--corpus", "\(Self.examples)/corpus.jsonl",
            "--queries", otherQueries, "--run", run, "--output", output, "--threads", "1",
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains(otherQueries), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        let otherCorpus = try write("dX\tcats\n", "corpus.tsv", in: folder)
        let queries = try write("q1\tcats\n", "q1.tsv", in: folder)
        let noDocuments = try BuiltProducts.run([
            "rerank", "--model", Self.model, "--corpus", otherCorpus, "--queries", queries,
            "--run", run, "--output", output, "--threads", "1",
        ])
        #expect(noDocuments.status == 1, "\(noDocuments.stderr)")
        #expect(noDocuments.stderr.contains(otherCorpus), "\(noDocuments.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
