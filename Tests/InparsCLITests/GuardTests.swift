import Foundation
import InparsTestSupport
import Testing

/// Guards against silently wrong results (issue 16): identical scores are reported (pygaggle
/// #325), and rerank, filter and train say how many documents --max-length truncated.
@Suite struct GuardTests {
    static let model = TestPaths.fixtures.appendingPathComponent("t5-tiny")

    func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// A copy of the tiny model with every weight zero: every input gets the same score.
    func flatModel(in folder: URL) throws -> String {
        let copy = folder.appendingPathComponent("flat-model")
        try FileManager.default.copyItem(at: Self.model, to: copy)
        let weights = copy.appendingPathComponent("model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: weights))
        let headerLength = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        for i in (8 + headerLength)..<bytes.count { bytes[i] = 0 }
        try Data(bytes).write(to: weights)
        return copy.path
    }

    /// Two short documents and two far longer than 32 tokens.
    func corpus(in folder: URL) throws -> String {
        let long = Array(repeating: "cancer study results with many more words", count: 8)
            .joined(separator: " ")
        return try write(
            "d1\tcats\nd2\tdogs\nd3\t\(long)\nd4\tbread \(long)\n", "corpus.tsv", in: folder)
    }

    @Test func rerankWarnsOnIdenticalScoresAndCountsTruncation() throws {
        let folder = try TestPaths.temporaryDirectory("guards-rerank")
        let corpus = try corpus(in: folder)
        let queries = try write("q1\tcats\nq2\tbread\n", "queries.tsv", in: folder)
        let run = try write(
            ["q1 Q0 d1 1 4 x", "q1 Q0 d3 2 3 x", "q2 Q0 d4 1 2 x", "q2 Q0 d2 2 1 x"]
                .joined(separator: "\n") + "\n", "run.trec", in: folder)
        func rerank(_ model: String, _ output: String) throws -> BuiltProducts.Result {
            try BuiltProducts.run([
                "rerank", "--model", model, "--corpus", corpus, "--queries", queries, "--run",
                run, "--output", folder.appendingPathComponent(output).path, "--max-length",
                "32", "--threads", "1",
            ])
        }
        let good = try rerank(Self.model.path, "good.trec")
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stderr.contains("2 documents truncated to --max-length"), "\(good.stderr)")
        #expect(!good.stderr.contains("same score"), "\(good.stderr)")
        let flat = try rerank(try flatModel(in: folder), "flat.trec")
        #expect(flat.status == 0, "\(flat.stderr)")
        #expect(
            flat.stderr.contains("the same score for 2 of 2 queries"), "\(flat.stderr)")
    }

    @Test func filterWarnsOnIdenticalScoresAndCountsTruncation() throws {
        let folder = try TestPaths.temporaryDirectory("guards-filter")
        let long = Array(repeating: "a much longer document text", count: 10)
            .joined(separator: " ")
        let rows = [
            #"{"doc_id": "d1", "text": "cats", "query": "cats"}"#,
            #"{"doc_id": "d2", "text": "\#(long)", "query": "long text"}"#,
            #"{"doc_id": "d3", "text": "bread", "query": "what is bread"}"#,
        ]
        let input = try write(rows.joined(separator: "\n") + "\n", "queries.jsonl", in: folder)
        func filter(_ model: String, _ output: String) throws -> BuiltProducts.Result {
            try BuiltProducts.run([
                "filter", "--input", input, "--strategy", "reranker", "--model", model,
                "--max-length", "32", "--min-tokens", "0", "--threads", "1", "--output",
                folder.appendingPathComponent(output).path,
            ])
        }
        let good = try filter(Self.model.path, "good.jsonl")
        #expect(good.status == 0, "\(good.stderr)")
        #expect(
            good.stderr.contains("documents truncated to --max-length by the scorer: 1"),
            "\(good.stderr)")
        #expect(!good.stderr.contains("same score"), "\(good.stderr)")
        let flat = try filter(try flatModel(in: folder), "flat.jsonl")
        #expect(flat.status == 0, "\(flat.stderr)")
        #expect(flat.stderr.contains("the reranker gave distinct"), "\(flat.stderr)")
    }

    @Test func trainCountsTruncatedDocuments() throws {
        let folder = try TestPaths.temporaryDirectory("guards-train")
        let long = Array(repeating: "cancer study results with many more words", count: 8)
            .joined(separator: " ")
        // 4 triples: every negative is long (4 truncated), one positive is long too.
        let triples = try write(
            [
                "cats\tcats chase mice\t\(long)", "dogs\tdogs bark\t\(long)",
                "bread\t\(long) bread\t\(long)", "mice\tmice eat cheese\t\(long)",
            ].joined(separator: "\n") + "\n", "triples.tsv", in: folder)
        let result = try BuiltProducts.run([
            "train", "--model", Self.model.path, "--triples", triples, "--output",
            folder.appendingPathComponent("out").path, "--epochs", "1", "--batch-size", "2",
            "--max-length", "32", "--threads", "1",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "5 of the 8 training examples had their document truncated to --max-length 32"),
            "\(result.stderr)")
    }
}
