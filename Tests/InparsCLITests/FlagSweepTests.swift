import Foundation
import InparsTestSupport
import Testing

/// No flag value ends in a trap (issue 16, finding 3): every numeric flag of every command is
/// given 0 and a huge value on tiny inputs; each run must exit 0, 1 (a runtime error) or 64
/// (a usage error), never on a signal (a Swift trap is SIGILL or SIGTRAP, 132/133).
@Suite(.serialized) struct FlagSweepTests {
    static let model = TestPaths.fixtures.appendingPathComponent("t5-tiny").path
    static let examples = TestPaths.repositoryRoot.appendingPathComponent("Examples/tiny").path

    /// One command: arguments that work, a fresh output per run, and its numeric flags.
    struct Case: Sendable, CustomTestStringConvertible {
        var command: String
        var base: [String]
        /// The flag that names the output (a fresh path per run), if any.
        var output: String?
        var flags: [String]
        var testDescription: String { command }
    }

    /// Inputs shared by the cases: an index, a run, filtered queries and triples.
    static let inputs: URL = {
        let folder = try! TestPaths.temporaryDirectory("flag-sweep")
        let e = examples
        let steps: [[String]] = [
            ["index", "--corpus", "\(e)/corpus.jsonl", "--index", "\(folder.path)/index"],
            [
                "search", "--index", "\(folder.path)/index", "--queries", "\(e)/queries.jsonl",
                "--k", "5", "--output", "\(folder.path)/bm25.trec",
            ],
            [
                "filter", "--input", "\(e)/synthetic-queries.jsonl", "--strategy", "scores",
                "--output", "\(folder.path)/filtered.jsonl",
            ],
            [
                "triples", "--input", "\(folder.path)/filtered.jsonl", "--index",
                "\(folder.path)/index", "--corpus", "\(e)/corpus.jsonl", "--output",
                "\(folder.path)/triples.tsv",
            ],
        ]
        for step in steps {
            let result = try! BuiltProducts.run(step)
            precondition(result.status == 0, "setup \(step[0]) failed: \(result.stderr)")
        }
        return folder
    }()

    static var cases: [Case] {
        let e = examples
        let w = "<inputs>"
        return [
            Case(
                command: "index", base: ["index", "--corpus", "\(e)/corpus.jsonl"],
                output: "--index", flags: ["--threads"]),
            Case(
                command: "search",
                base: ["search", "--index", "\(w)/index", "--queries", "\(e)/queries.jsonl"],
                output: "--output", flags: ["--k", "--threads", "--k1", "--b"]),
            Case(
                command: "evaluate",
                base: ["evaluate", "--qrels", "\(e)/qrels.tsv", "--run", "\(w)/bm25.trec"],
                output: nil, flags: ["--relevance-threshold"]),
            Case(
                command: "filter",
                base: [
                    "filter", "--input", "\(e)/synthetic-queries.jsonl", "--strategy", "reranker",
                    "--model", model, "--threads", "1",
                ], output: "--output",
                flags: [
                    "--keep-top-k", "--min-tokens", "--max-tokens", "--batch-size",
                    "--max-length", "--consistency-depth", "--consistency-candidates",
                    "--threads",
                ]),
            Case(
                command: "triples",
                base: [
                    "triples", "--input", "\(w)/filtered.jsonl", "--index", "\(w)/index",
                    "--corpus", "\(e)/corpus.jsonl", "--threads", "1",
                ], output: "--output", flags: ["--negatives", "--depth", "--seed", "--threads"]),
            Case(
                command: "rerank",
                base: [
                    "rerank", "--model", model, "--corpus", "\(e)/corpus.jsonl", "--queries",
                    "\(e)/queries.jsonl", "--run", "\(w)/bm25.trec", "--threads", "1",
                ], output: "--output",
                flags: ["--top-k", "--batch-size", "--threads", "--max-length"]),
            Case(
                command: "generate",
                base: [
                    "generate", "--corpus", "\(e)/corpus.jsonl", "--model", model, "--prompt",
                    "\(e)/prompt.txt", "--max-generations", "1", "--max-new-tokens", "2",
                    "--threads", "1",
                ], output: "--output",
                flags: [
                    "--max-generations", "--seed", "--num-queries-per-doc", "--num-examples",
                    "--max-doc-tokens", "--max-prompt-tokens", "--temperature", "--top-p",
                    "--top-k", "--max-new-tokens", "--concurrency", "--timeout",
                    "--max-retries", "--batch-size", "--threads",
                ]),
            Case(
                command: "train",
                base: [
                    "train", "--model", model, "--triples", "\(w)/triples.tsv", "--steps", "1",
                    "--batch-size", "2", "--max-length", "32", "--threads", "1",
                ], output: "--output",
                flags: [
                    "--lr", "--weight-decay", "--warmup-steps", "--batch-size", "--grad-accum",
                    "--max-grad-norm", "--steps", "--dropout", "--seed", "--max-length",
                    "--save-every", "--keep-last", "--log-every", "--threads",
                ]),
        ]
    }

    static let values = ["0", "9223372036854775807"]

    /// The issue's own example: a usage error naming the flag, not SIGILL (exit 132).
    @Test(arguments: ["3", "0"])
    func filterWithATinyMaxLengthIsAUsageError(value: String) throws {
        let scratch = try TestPaths.temporaryDirectory("flag-sweep-filter")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let result = try BuiltProducts.run([
            "filter", "--input", "\(Self.examples)/synthetic-queries.jsonl", "--strategy",
            "reranker", "--model", Self.model, "--max-length", value, "--output",
            scratch.appendingPathComponent("out.jsonl").path,
        ])
        #expect(result.signal == nil)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("--max-length must be between 16 and"), "\(result.stderr)")
    }

    @Test(arguments: cases)
    func noNumericFlagValueTraps(_ testCase: Case) throws {
        let folder = Self.inputs
        var failures: [String] = []
        for flag in testCase.flags {
            for value in Self.values {
                var arguments = testCase.base.map {
                    $0.replacingOccurrences(of: "<inputs>", with: folder.path)
                }
                if let index = arguments.firstIndex(of: flag) {
                    arguments[index + 1] = value
                } else {
                    arguments += [flag, value]
                }
                let scratch = try TestPaths.temporaryDirectory("flag-sweep-run")
                defer { try? FileManager.default.removeItem(at: scratch) }
                if let output = testCase.output {
                    arguments += [output, scratch.appendingPathComponent("out").path]
                }
                let result = try BuiltProducts.run(arguments, timeout: 120)
                if result.signal != nil || ![0, 1, 64].contains(result.status) {
                    failures.append(
                        "\(flag) \(value): status \(result.status), signal \(result.signal.map(String.init) ?? "none"): \(result.stderr.suffix(300))"
                    )
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
