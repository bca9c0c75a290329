import Foundation
import InparsBM25
import InparsCore
import InparsTestSupport
import Testing

@testable import inpars

/// `inpars triples` end to end through the built binary, on a small index built in the test.
@Suite struct TriplesCommandTests {
    struct Setup {
        var folder: URL
        var corpus: String
        var index: String
        var input: String
    }

    func setUp() throws -> Setup {
        let folder = try TestPaths.temporaryDirectory("triples-cli")
        var documents = [
            Document(id: "d0", title: "Aspirin", text: "aspirin lowers fever\tin adults"),
            Document(id: "d1", text: "statins reduce heart attacks"),
            Document(id: "d2", text: "fever and chills\nafter vaccination"),
            Document(id: "d3", text: "aspirin and fever in children"),
            Document(id: "d4", text: "the heart pumps blood"),
        ]
        for i in 5..<40 {
            documents.append(
                Document(id: "d\(i)", text: "fever heart aspirin filler text number \(i)"))
        }
        let builder = BM25IndexBuilder()
        var corpusText = ""
        for d in documents {
            builder.add(d)
            let title = d.title.replacingOccurrences(of: "\"", with: "")
            let text = d.text.replacingOccurrences(of: "\t", with: "\\t").replacingOccurrences(
                of: "\n", with: "\\n")
            corpusText += #"{"_id": "\#(d.id)", "title": "\#(title)", "text": "\#(text)"}"# + "\n"
        }
        let index = folder.appendingPathComponent("index")
        _ = try builder.write(to: index)
        let corpus = folder.appendingPathComponent("corpus.jsonl")
        try corpusText.write(to: corpus, atomically: true, encoding: .utf8)
        var rows = [
            #"{"doc_id": "d0", "query": "aspirin fever", "query_id": "g1"}"#,
            #"{"doc_id": "d2", "question": "fever\tchills", "log_probs": [-1]}"#,
            #"{"doc_id": "d4", "query": "zebra"}"#,  // no hit at all
        ]
        for i in 0..<60 {
            rows.append(#"{"doc_id": "d\#(5 + i % 35)", "query": "heart fever \#(i)"}"#)
        }
        let input = folder.appendingPathComponent("queries.jsonl")
        try (rows.joined(separator: "\n") + "\n").write(
            to: input, atomically: true, encoding: .utf8)
        return Setup(folder: folder, corpus: corpus.path, index: index.path, input: input.path)
    }

    @Test func writesTriplesAndIdsWithoutThePositive() throws {
        let s = try setUp()
        defer { try? FileManager.default.removeItem(at: s.folder) }
        let output = s.folder.appendingPathComponent("triples.tsv").path
        let ids = s.folder.appendingPathComponent("ids.tsv").path
        let result = try BuiltProducts.run([
            "triples", "--input", s.input, "--index", s.index, "--corpus", s.corpus,
            "--output", output, "--ids-output", ids, "--negatives", "2", "--depth", "10",
            "--threads", "1",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        let triples = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        let idRows = try String(contentsOfFile: ids, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(triples.count == idRows.count)
        #expect(triples.allSatisfy { $0.count == 3 })
        #expect(idRows.allSatisfy { $0.count == 3 && $0[1] != $0[2] })
        // First query: own id, title + space + text, tab replaced by a space.
        #expect(idRows[0][0] == "g1" && idRows[0][1] == "d0")
        #expect(triples[0][0] == "aspirin fever")
        #expect(triples[0][1] == "Aspirin aspirin lowers fever in adults")
        // Second query: 0-based line number as id, v1 field name, tab in the query replaced.
        let second = idRows.firstIndex { $0[1] == "d2" }!
        #expect(idRows[second][0] == "1")
        #expect(triples[second][0] == "fever chills")
        #expect(triples[second][1] == "fever and chills after vaccination")
        // 'zebra' has no hit: skipped and counted; the other 62 queries get 2 negatives each.
        #expect(triples.count == 124)
        #expect(result.stderr.contains("no usable BM25 hit: 1"))
        #expect(result.stderr.contains("BM25 MRR@10 of the source document"))
        #expect(result.stderr.contains("BM25 Recall@10 of the source document"))
    }

    @Test func outputIsTheSameWhateverTheThreads() throws {
        let s = try setUp()
        defer { try? FileManager.default.removeItem(at: s.folder) }
        var outputs: [String] = []
        for threads in ["1", "3"] {
            let output = s.folder.appendingPathComponent("t\(threads).tsv").path
            let result = try BuiltProducts.run([
                "triples", "--input", s.input, "--index", s.index, "--corpus", s.corpus,
                "--output", output, "--seed", "5", "--threads", threads, "--depth", "30",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            outputs.append(try String(contentsOfFile: output, encoding: .utf8))
        }
        #expect(outputs[0] == outputs[1])
        #expect(!outputs[0].isEmpty)
    }

    @Test func anUnknownSourceDocumentIsAClearError() throws {
        let s = try setUp()
        defer { try? FileManager.default.removeItem(at: s.folder) }
        let input = s.folder.appendingPathComponent("bad.jsonl")
        try
            (#"{"doc_id": "d0", "query": "aspirin"}"# + "\n" + #"{"doc_id": "nope", "query": "x"}"#
            + "\n")
            .write(to: input, atomically: true, encoding: .utf8)
        let output = s.folder.appendingPathComponent("t.tsv").path
        let result = try BuiltProducts.run([
            "triples", "--input", input.path, "--index", s.index, "--corpus", s.corpus,
            "--output", output,
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("Unknown document id 'nope'") && result.stderr.contains("line 2")
        )
        #expect(!FileManager.default.fileExists(atPath: output))
        let lenient = try BuiltProducts.run([
            "triples", "--input", input.path, "--index", s.index, "--corpus", s.corpus,
            "--output", output, "--skip-bad-lines",
        ])
        #expect(lenient.status == 0, "\(lenient.stderr)")
        #expect(lenient.stderr.contains("unknown source document id: 1"))
    }
}
