import Foundation
import InparsTestSupport
import Testing

/// Every error names the file (and line and field where there is one) and says what to do,
/// in the user's terms (issue 16, finding 7).
@Suite struct MessageTests {
    static let model = TestPaths.fixtures.appendingPathComponent("t5-tiny")
    static let examples = TestPaths.repositoryRoot.appendingPathComponent("Examples/tiny").path

    func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// No Foundation internals in a message.
    func expectPlain(_ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for fragment in ["NSCocoaErrorDomain", "Code=", ".tmp-", "The data couldn’t be read",
            "The data couldn't be read", "not in the correct format", "The operation could not"]
        {
            #expect(!message.contains(fragment), "\(message)", sourceLocation: sourceLocation)
        }
    }

    @Test func theSkipHintAppearsOnlyWhereTheFlagExists() throws {
        let folder = try TestPaths.temporaryDirectory("messages-skip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = try write(
            "{\"_id\": \"d1\", \"text\": \"cats\"}\n{\"_id\": \"d2\", \"text\": oops}\n",
            "corpus.jsonl", in: folder)
        let run = try write("q1 Q0 d1 1 2.0 bm25\n", "run.trec", in: folder)
        let queries = try write("q1\tcats\n", "queries.tsv", in: folder)
        let badRun = try write("q1 Q0 d1 one 2.0 bm25\n", "bad.trec", in: folder)
        let badQrels = try write("q1 0 d1\n", "bad-qrels.txt", in: folder)
        let out = folder.appendingPathComponent("out").path
        let withoutFlag: [([String], String)] = [
            (["rerank", "--model", Self.model.path, "--corpus", corpus, "--queries", queries,
              "--run", run, "--output", out, "--threads", "1"], "\(corpus)' at line 2"),
            (["evaluate", "--qrels", badQrels, "--run", run], "\(badQrels)' at line 1"),
            (["evaluate", "--qrels", "\(Self.examples)/qrels.tsv", "--run", badRun],
             "\(badRun)' at line 1, field 'rank'"),
            (["generate", "--corpus", corpus, "--model", Self.model.path, "--output", out],
             "\(corpus)' at line 2"),
        ]
        for (arguments, location) in withoutFlag {
            let result = try BuiltProducts.run(arguments)
            #expect(result.status == 1, "\(arguments[0]): \(result.stderr)")
            #expect(result.stderr.contains(location), "\(arguments[0]): \(result.stderr)")
            #expect(!result.stderr.contains("--skip-bad-lines"), "\(arguments[0]): \(result.stderr)")
        }
        let index = try BuiltProducts.run([
            "index", "--corpus", corpus, "--index", folder.appendingPathComponent("idx").path,
        ])
        #expect(index.status == 1)
        #expect(index.stderr.contains("use --skip-bad-lines"), "\(index.stderr)")
    }

    @Test func aByteOrderMarkBeforeTheFirstLineIsAccepted() throws {
        let folder = try TestPaths.temporaryDirectory("messages-bom")
        defer { try? FileManager.default.removeItem(at: folder) }
        let bom = "\u{FEFF}"
        let corpus = try write(
            bom + "{\"_id\": \"d1\", \"text\": \"cats chase mice\"}\n{\"_id\": \"d2\", \"text\": \"dogs\"}\n",
            "corpus.jsonl", in: folder)
        let queries = try write(bom + "{\"_id\": \"q1\", \"text\": \"cats\"}\n", "q.jsonl", in: folder)
        let tsv = try write(bom + "q1\tcats\n", "q.tsv", in: folder)
        let index = folder.appendingPathComponent("idx").path
        let indexed = try BuiltProducts.run(["index", "--corpus", corpus, "--index", index])
        #expect(indexed.status == 0, "\(indexed.stderr)")
        #expect(indexed.stderr.contains("indexed 2 documents"), "\(indexed.stderr)")
        for file in [queries, tsv] {
            let searched = try BuiltProducts.run(["search", "--index", index, "--queries", file])
            #expect(searched.status == 0, "\(searched.stderr)")
            #expect(searched.stdout.hasPrefix("q1 Q0 d1 1 "), "\(searched.stdout)")
        }
        let synthetic = try write(
            bom + #"{"doc_id": "d1", "text": "cats chase mice", "query": "what do cats chase", "log_probs": [-1, -1, -1]}"#
                + "\n", "synthetic.jsonl", in: folder)
        let filtered = try BuiltProducts.run([
            "filter", "--input", synthetic, "--strategy", "scores", "--output",
            folder.appendingPathComponent("filtered.jsonl").path,
        ])
        #expect(filtered.status == 0, "\(filtered.stderr)")
    }

    @Test func anOutputThatCannotBeWrittenIsNamedPlainly() throws {
        let folder = try TestPaths.temporaryDirectory("messages-unwritable")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try write("not a folder\n", "file.txt", in: folder)
        let corpus = "\(Self.examples)/corpus.jsonl"
        let index = folder.appendingPathComponent("idx").path
        #expect(try BuiltProducts.run(["index", "--corpus", corpus, "--index", index]).status == 0)
        let missing = folder.appendingPathComponent("no/such/folder").path
        for parent in [file, missing] {
            let cases: [[String]] = [
                ["index", "--corpus", corpus, "--index", "\(parent)/idx"],
                ["search", "--index", index, "--queries", "\(Self.examples)/queries.jsonl",
                 "--output", "\(parent)/run.trec"],
                ["filter", "--input", "\(Self.examples)/synthetic-queries.jsonl", "--strategy",
                 "scores", "--output", "\(parent)/filtered.jsonl"],
                ["generate", "--corpus", corpus, "--model", Self.model.path, "--output",
                 "\(parent)/q.jsonl", "--max-generations", "1", "--max-new-tokens", "1"],
                ["train", "--model", Self.model.path, "--triples", "\(Self.examples)/qrels.tsv",
                 "--steps", "1", "--batch-size", "2", "--output", "\(parent)/model"],
            ]
            // train creates its output folder (and missing parents), as before.
            for arguments in cases where !(arguments[0] == "train" && parent == missing) {
                let result = try BuiltProducts.run(arguments)
                #expect(result.status == 1, "\(arguments[0]): \(result.stderr)")
                #expect(result.stderr.contains(parent), "\(arguments[0]): \(result.stderr)")
                expectPlain(result.stderr)
            }
        }
    }

    /// A copy of the tiny model with one file replaced.
    func brokenModel(_ folder: URL, _ file: String, _ contents: Data) throws -> URL {
        let copy = folder.appendingPathComponent("model")
        try FileManager.default.copyItem(at: Self.model, to: copy)
        try contents.write(to: copy.appendingPathComponent(file))
        return copy
    }

    @Test func aGarbageTokenizerJSONIsNamedWithWhereItBreaks() throws {
        let folder = try TestPaths.temporaryDirectory("messages-tokenizer")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try brokenModel(folder, "tokenizer.json", Data("{\"model\": [1, 2,".utf8))
        let result = try BuiltProducts.run([
            "rerank", "--model", model.path, "--corpus", "\(Self.examples)/corpus.jsonl",
            "--queries", "\(Self.examples)/queries.jsonl", "--run", "\(Self.examples)/qrels.tsv",
            "--output", folder.appendingPathComponent("out.trec").path,
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(model.appendingPathComponent("tokenizer.json").path),
            "\(result.stderr)")
        #expect(result.stderr.contains("not valid JSON"), "\(result.stderr)")
        expectPlain(result.stderr)
    }

    @Test func aShapeMismatchNamesTheWeightsAndTheConfiguration() throws {
        let folder = try TestPaths.temporaryDirectory("messages-shape")
        defer { try? FileManager.default.removeItem(at: folder) }
        var config = try String(
            contentsOf: Self.model.appendingPathComponent("config.json"), encoding: .utf8)
        config = config.replacingOccurrences(of: "\"d_ff\": 128", with: "\"d_ff\": 96")
        let model = try brokenModel(folder, "config.json", Data(config.utf8))
        let result = try BuiltProducts.run([
            "generate", "--corpus", "\(Self.examples)/corpus.jsonl", "--model", model.path,
            "--output", folder.appendingPathComponent("q.jsonl").path,
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(model.appendingPathComponent("model.safetensors").path),
            "\(result.stderr)")
        #expect(
            result.stderr.contains(model.appendingPathComponent("config.json").path),
            "\(result.stderr)")
        #expect(result.stderr.contains("[96, 64]"), "\(result.stderr)")
    }
}
