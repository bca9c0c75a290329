import Foundation
import InparsTestSupport
import Testing

@testable import inpars

/// `inpars train` end to end on the tiny fixture model.
@Suite struct TrainCommandTests {
    let model = TestPaths.fixtures.appendingPathComponent("t5-tiny").path

    func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Eight triples: the positive repeats the query word, the negative does not have it.
    let triples = (0..<8).map { i in
        let topic = ["cancer", "diabetes", "growth", "hospital"][i % 4]
        return "\(topic)\t\(topic) study \(topic) data\tmodel results set metric\n"
    }.joined()

    @Test func trainWritesCheckpointsThatRerankLoads() throws {
        let folder = try TestPaths.temporaryDirectory("train-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triplesFile = try write(triples, "triples.tsv", in: folder)
        let corpus = try write(
            "d1\tcancer study cancer samples\nd2\tgroup effect set metric\n", "corpus.tsv",
            in: folder)
        let queries = try write("q1\tcancer\n", "queries.tsv", in: folder)
        let run = try write("q1 Q0 d2 1 2.0 bm25\nq1 Q0 d1 2 1.0 bm25\n", "run.trec", in: folder)
        let qrels = try write("q1\t0\td1\t1\n", "qrels.txt", in: folder)
        let output = folder.appendingPathComponent("out")
        let result = try BuiltProducts.run([
            "train", "--model", model, "--triples", triplesFile, "--output", output.path,
            "--steps", "4", "--batch-size", "4", "--max-length", "32", "--save-every", "2",
            "--threads", "1", "--seed", "3", "--log-every", "1", "--lr", "1e-3",
            "--eval-queries", queries, "--eval-qrels", qrels, "--eval-run", run,
            "--eval-corpus", corpus, "--eval-every", "2", "--eval-top-k", "2",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("training data: 8 triples → 16 examples"))
        #expect(
            result.stderr.contains(
                "this run sees 16 examples: 4 steps × batch 4 × accumulation 1 = 1.00 epochs of the 16 training examples"
            ), "\(result.stderr)")
        #expect(result.stderr.contains("dropout 0.0"), "the fixture config's dropout_rate is 0")
        for step in 1...4 { #expect(result.stderr.contains("step \(step)/4: loss ")) }
        #expect(result.stderr.contains("examples/s, ETA"))
        #expect(result.stderr.contains("eval at step 4: nDCG@10"))
        let names = try FileManager.default.contentsOfDirectory(atPath: output.path).sorted()
        #expect(names == ["checkpoint-2", "checkpoint-4", "final", "train_log.jsonl"])
        let log = try String(
            contentsOf: output.appendingPathComponent("train_log.jsonl"), encoding: .utf8
        ).split(separator: "\n")
        #expect(log.filter { $0.contains("\"loss\"") }.count == 4)
        #expect(log.filter { $0.contains("\"eval_ndcg@10\"") }.count == 3)  // steps 0, 2, 4

        // The final folder reranks; its scores differ from the untrained model's.
        func rerank(_ modelPath: String, _ name: String) throws -> [String] {
            let out = folder.appendingPathComponent(name).path
            let r = try BuiltProducts.run([
                "rerank", "--model", modelPath, "--corpus", corpus, "--queries", queries,
                "--run", run, "--output", out, "--threads", "1", "--max-length", "32",
            ])
            #expect(r.status == 0, "\(r.stderr)")
            return try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
                .map(String.init)
        }
        let trained = try rerank(output.appendingPathComponent("final").path, "trained.trec")
        let untrained = try rerank(model, "untrained.trec")
        #expect(trained.count == 2 && trained.allSatisfy { $0.split(separator: " ").count == 6 })
        #expect(trained != untrained)
        let resumed = try BuiltProducts.run([
            "train", "--model", model, "--triples", triplesFile, "--output", output.path,
            "--steps", "6", "--batch-size", "4", "--max-length", "32", "--threads", "1",
            "--seed", "3", "--lr", "1e-3", "--resume",
        ])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming at step 4"))
        #expect(resumed.stderr.contains("step 6/6: loss "))
    }

    @Test func thePlanWarnsWhenTheRunSeesLessThanTheData() throws {
        let folder = try TestPaths.temporaryDirectory("train-cli-plan")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triplesFile = try write(triples, "triples.tsv", in: folder)
        let result = try BuiltProducts.run([
            "train", "--model", model, "--triples", triplesFile, "--output",
            folder.appendingPathComponent("out").path, "--epochs", "0.5", "--batch-size", "2",
            "--grad-accum", "2", "--max-length", "32", "--threads", "1",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "this run sees 8 examples: 2 steps × batch 2 × accumulation 2 = 0.50 epochs of the 16 training examples (only 50% of the data will be seen)"
            ), "\(result.stderr)")
    }

    @Test func badInputGetsClearErrors() throws {
        let folder = try TestPaths.temporaryDirectory("train-cli-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let bad = try write("q\tpos\tneg\nq\tpos\n", "bad.tsv", in: folder)
        let output = folder.appendingPathComponent("out").path
        let malformed = try BuiltProducts.run([
            "train", "--model", model, "--triples", bad, "--output", output, "--steps", "1",
        ])
        #expect(malformed.status == 1)
        #expect(
            malformed.stderr.contains(
                "Error: \(bad):2: expected 3 tab-separated fields (query, positive, negative), found 2"
            ),
            "\(malformed.stderr)")
        let skipped = try BuiltProducts.run([
            "train", "--model", model, "--triples", bad, "--output", output, "--steps", "1",
            "--batch-size", "2", "--max-length", "32", "--threads", "1", "--skip-bad-lines",
        ])
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(skipped.stderr.contains("warning: skipped 1 malformed lines"))
        #expect(skipped.stderr.contains("1 malformed lines skipped"))

        let empty = try write("", "empty.tsv", in: folder)
        let emptyRun = try BuiltProducts.run([
            "train", "--model", model, "--triples", empty, "--output", output, "--steps", "1",
        ])
        #expect(emptyRun.status == 1)
        #expect(emptyRun.stderr.contains("training file '\(empty)' holds no training examples"))

        let odd = try BuiltProducts.run([
            "train", "--model", model, "--triples", bad, "--output", output, "--steps", "1",
            "--batch-size", "3",
        ])
        #expect(odd.status == 64)
        #expect(odd.stderr.contains("--batch-size must be even with --triples"))

        let both = try BuiltProducts.run([
            "train", "--model", model, "--triples", bad, "--output", output,
        ])
        #expect(both.status == 64)
        #expect(both.stderr.contains("give exactly one of --steps and --epochs"))
    }
}
