import Foundation
import InparsTestSupport
import Testing

/// No command removes or overwrites what it did not write (issue 16, finding 1): an output of
/// the same kind written earlier may be replaced; anything else is an error naming the path,
/// and the user's file or folder is left exactly as it was.
@Suite struct OutputSafetyTests {
    let model = TestPaths.fixtures.appendingPathComponent("t5-tiny").path

    func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A folder with a corpus, queries, a run and triples for the commands below.
    func inputs() throws -> URL {
        let folder = try TestPaths.temporaryDirectory("output-safety")
        _ = try write(
            """
            {"_id": "d1", "title": "Cats", "text": "Cats chase mice."}
            {"_id": "d2", "title": "", "text": "Dogs chase cats."}
            {"_id": "d3", "title": "Cheese", "text": "Mice eat cheese."}

            """, "corpus.jsonl", in: folder)
        _ = try write("q1\tcats\nq2\tcheese mice\n", "queries.tsv", in: folder)
        _ = try write("q1 Q0 d1 1 2.0 bm25\nq1 Q0 d2 2 1.0 bm25\n", "run.trec", in: folder)
        _ = try write(
            #"{"doc_id": "d1", "text": "Cats chase mice.", "query": "what do cats chase", "log_probs": [-0.5, -0.5, -0.5]}"#
                + "\n", "generated.jsonl", in: folder)
        return folder
    }

    func expectRefused(_ result: BuiltProducts.Result, naming path: String) {
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("'\(path)'"), "\(result.stderr)")
        #expect(result.stderr.contains("Refusing to replace"), "\(result.stderr)")
    }

    // MARK: index

    @Test func indexNeverRemovesAFolderOrFileItDidNotWrite() throws {
        let folder = try inputs()
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = folder.appendingPathComponent("corpus.jsonl").path

        // A user's folder with files in it.
        let notes = try write("my notes\n", "work/notes.txt", in: folder)
        let work = folder.appendingPathComponent("work").path
        expectRefused(
            try BuiltProducts.run(["index", "--corpus", corpus, "--index", work]), naming: work)
        #expect(contents(notes) == "my notes\n")

        // The current directory.
        let dot = try BuiltProducts.run(
            ["index", "--corpus", corpus, "--index", "."],
            currentDirectory: folder.appendingPathComponent("work"))
        #expect(dot.status == 1, "\(dot.stderr)")
        #expect(dot.stderr.contains("Refusing to replace"), "\(dot.stderr)")
        #expect(contents(notes) == "my notes\n")

        // A regular file.
        let file = try write("precious\n", "precious.txt", in: folder)
        expectRefused(
            try BuiltProducts.run(["index", "--corpus", corpus, "--index", file]), naming: file)
        #expect(contents(file) == "precious\n")

        // Our own index, and an empty folder, are replaced.
        let index = folder.appendingPathComponent("idx").path
        try FileManager.default.createDirectory(atPath: index, withIntermediateDirectories: false)
        for _ in 0..<2 {
            let built = try BuiltProducts.run(["index", "--corpus", corpus, "--index", index])
            #expect(built.status == 0, "\(built.stderr)")
        }
        // Our index with a file of the user's added is no longer ours alone.
        let added = try write("mine\n", "idx/mine.txt", in: folder)
        expectRefused(
            try BuiltProducts.run(["index", "--corpus", corpus, "--index", index]), naming: index)
        #expect(contents(added) == "mine\n")
        // Nothing half-written was left beside the outputs.
        let hidden = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasPrefix(".") }
        #expect(hidden.isEmpty, "\(hidden)")
    }

    // MARK: search and rerank (TREC runs)

    @Test func runWritersReplaceOnlyRuns() throws {
        let folder = try inputs()
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = folder.appendingPathComponent("corpus.jsonl").path
        let queries = folder.appendingPathComponent("queries.tsv").path
        let index = folder.appendingPathComponent("idx").path
        #expect(try BuiltProducts.run(["index", "--corpus", corpus, "--index", index]).status == 0)

        // search over the query file it reads, over a notes file, over a folder.
        let notes = try write("# my notes\nnot a run\n", "notes.txt", in: folder)
        for target in [queries, notes] {
            let before = contents(target)
            expectRefused(
                try BuiltProducts.run([
                    "search", "--index", index, "--queries", queries, "--output", target,
                ]), naming: target)
            #expect(contents(target) == before)
        }
        expectRefused(
            try BuiltProducts.run([
                "search", "--index", index, "--queries", queries, "--output", folder.path,
            ]), naming: folder.path)
        // An earlier run (and an empty file) are replaced.
        let run = folder.appendingPathComponent("bm25.trec").path
        FileManager.default.createFile(atPath: run, contents: Data())
        for _ in 0..<2 {
            let searched = try BuiltProducts.run([
                "search", "--index", index, "--queries", queries, "--output", run,
            ])
            #expect(searched.status == 0, "\(searched.stderr)")
        }

        // rerank over the corpus.
        let before = contents(corpus)
        expectRefused(
            try BuiltProducts.run([
                "rerank", "--model", model, "--corpus", corpus, "--queries", queries, "--run", run,
                "--output", corpus, "--threads", "1",
            ]), naming: corpus)
        #expect(contents(corpus) == before)
        // Its own input run is a run, but still an input: refused.
        let runBefore = contents(run)
        expectRefused(
            try BuiltProducts.run([
                "rerank", "--model", model, "--corpus", corpus, "--queries", queries, "--run", run,
                "--output", run, "--threads", "1",
            ]), naming: run)
        #expect(contents(run) == runBefore)
        let reranked = folder.appendingPathComponent("reranked.trec").path
        for _ in 0..<2 {
            let result = try BuiltProducts.run([
                "rerank", "--model", model, "--corpus", corpus, "--queries", queries, "--run", run,
                "--output", reranked, "--threads", "1",
            ])
            #expect(result.status == 0, "\(result.stderr)")
        }
    }

    // MARK: filter and triples

    @Test func filterAndTriplesReplaceOnlyTheirOwnOutputs() throws {
        let folder = try inputs()
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = folder.appendingPathComponent("corpus.jsonl").path
        let generated = folder.appendingPathComponent("generated.jsonl").path
        let before = contents(generated)

        // filter over its own input (generate output, not filter output).
        expectRefused(
            try BuiltProducts.run([
                "filter", "--input", generated, "--output", generated, "--strategy", "scores",
            ]), naming: generated)
        #expect(contents(generated) == before)
        let filtered = folder.appendingPathComponent("filtered.jsonl").path
        for _ in 0..<2 {
            let result = try BuiltProducts.run([
                "filter", "--input", generated, "--output", filtered, "--strategy", "scores",
            ])
            #expect(result.status == 0, "\(result.stderr)")
        }

        let index = folder.appendingPathComponent("idx").path
        #expect(try BuiltProducts.run(["index", "--corpus", corpus, "--index", index]).status == 0)
        let triplesArguments = [
            "triples", "--input", filtered, "--index", index, "--corpus", corpus, "--threads", "1",
        ]
        // triples over the corpus, and --ids-output over the filtered queries.
        let corpusBefore = contents(corpus)
        expectRefused(
            try BuiltProducts.run(triplesArguments + ["--output", corpus]), naming: corpus)
        #expect(contents(corpus) == corpusBefore)
        let triples = folder.appendingPathComponent("triples.tsv").path
        let filteredBefore = contents(filtered)
        expectRefused(
            try BuiltProducts.run(
                triplesArguments + ["--output", triples, "--ids-output", filtered]),
            naming: filtered)
        #expect(contents(filtered) == filteredBefore)
        #expect(!FileManager.default.fileExists(atPath: triples), "nothing written on refusal")
        for _ in 0..<2 {
            let result = try BuiltProducts.run(
                triplesArguments + [
                    "--output", triples, "--ids-output", folder.appendingPathComponent("ids.tsv").path,
                ])
            #expect(result.status == 0, "\(result.stderr)")
        }
    }

    // MARK: generate

    @Test func generateOverwriteRemovesOnlyItsOwnOutput() throws {
        let folder = try inputs()
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = folder.appendingPathComponent("corpus.jsonl").path
        let prompt = try write("Document: {document}\nQuery: {query}", "prompt.txt", in: folder)
        let arguments = [
            "generate", "--corpus", corpus, "--model", model, "--max-generations", "2",
            "--max-new-tokens", "2", "--threads", "1", "--prompt", prompt, "--overwrite",
        ]
        // --overwrite over the corpus (no manifest: not our output).
        let before = contents(corpus)
        expectRefused(try BuiltProducts.run(arguments + ["--output", corpus]), naming: corpus)
        #expect(contents(corpus) == before)
        // A notes file without a trailing newline is not cut either.
        let notes = try write("line one\nline two", "notes.jsonl", in: folder)
        expectRefused(try BuiltProducts.run(arguments + ["--output", notes]), naming: notes)
        let resumed = try BuiltProducts.run(
            Array(arguments.dropLast()) + ["--output", notes])
        #expect(resumed.status == 1)
        #expect(contents(notes) == "line one\nline two", "a file of the user's is never cut")
        // Our own output is replaced.
        let output = folder.appendingPathComponent("queries.jsonl").path
        for _ in 0..<2 {
            let result = try BuiltProducts.run(arguments + ["--output", output])
            #expect(result.status == 0, "\(result.stderr)")
        }
    }

    // MARK: train

    @Test func trainReplacesOnlyItsOwnFoldersInTheOutput() throws {
        let folder = try inputs()
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try write(
            "cats\tcats chase mice\tbread and butter\ndogs\tdogs bark\tcheese is food\n",
            "triples.tsv", in: folder)
        let output = folder.appendingPathComponent("out")
        // The user's own "final" folder inside --output.
        let notes = try write("keep me\n", "out/final/notes.txt", in: folder)
        let arguments = [
            "train", "--model", model, "--triples", triples, "--output", output.path,
            "--steps", "1", "--batch-size", "2", "--max-length", "32", "--threads", "1",
        ]
        let refused = try BuiltProducts.run(arguments)
        expectRefused(refused, naming: output.appendingPathComponent("final").path)
        #expect(contents(notes) == "keep me\n")
        // --output naming a file.
        let file = try write("precious\n", "precious.txt", in: folder)
        var onFileArguments = arguments
        onFileArguments[6] = file
        let onFile = try BuiltProducts.run(onFileArguments)
        #expect(onFile.status == 1, "\(onFile.stderr)")
        #expect(onFile.stderr.contains(file), "\(onFile.stderr)")
        #expect(contents(file) == "precious\n")
    }
}
