import Foundation
import InparsTestSupport
import Testing

/// Ctrl-C (issue 16, finding 6): `train` saves a checkpoint after the current step on the
/// first SIGINT or SIGTERM and says how to resume; a second signal stops at once; `generate`
/// prints its resume hint. Exit status 130 either way.
@Suite(.serialized) struct InterruptTests {
    static let model = TestPaths.fixtures.appendingPathComponent("t5-tiny").path
    static let examples = TestPaths.repositoryRoot.appendingPathComponent("Examples/tiny").path

    static let triples = (0..<8).map { i in
        let topic = ["cancer", "diabetes", "growth", "hospital"][i % 4]
        return "\(topic)\t\(topic) study \(topic) data\tmodel results set metric\n"
    }.joined()

    func trainArguments(_ folder: URL, steps: Int) throws -> [String] {
        let triples = folder.appendingPathComponent("triples.tsv")
        if !FileManager.default.fileExists(atPath: triples.path) {
            try Data(Self.triples.utf8).write(to: triples)
        }
        return [
            "train", "--model", Self.model, "--triples", triples.path, "--output",
            folder.appendingPathComponent("out").path, "--steps", String(steps), "--batch-size",
            "2", "--max-length", "32", "--threads", "1", "--log-every", "1", "--save-every",
            "100000",
        ]
    }

    func steps(in output: URL) throws -> [Int] {
        try FileManager.default.contentsOfDirectory(atPath: output.path)
            .filter { $0.hasPrefix("checkpoint-") }.compactMap { Int($0.dropFirst(11)) }.sorted()
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func trainSavesACheckpointOnTheFirstSignalAndResumes(signal: Int32) throws {
        let folder = try TestPaths.temporaryDirectory("interrupt-train")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out")
        let running = try RunningProduct(try trainArguments(folder, steps: 100_000))
        #expect(running.waitForStderr { $0.contains("step 2/100000") }, "\(running.stderr)")
        running.send(signal)
        let result = running.wait()
        #expect(result.signal == nil)
        #expect(result.status == 130, "\(result.stderr)")
        #expect(result.stderr.contains("saving a checkpoint after the current step"))
        #expect(result.stderr.contains("--resume"), "\(result.stderr)")
        let saved = try steps(in: output)
        #expect(saved.count == 1 && saved[0] >= 2, "\(saved)")
        guard let step = saved.first else { return }
        #expect(result.stderr.contains("interrupted after step \(step)"), "\(result.stderr)")
        // --save-every was never reached: without the signal nothing would have been saved.
        let resumed = try BuiltProducts.run(
            try trainArguments(folder, steps: step + 1) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming at step \(step)"), "\(resumed.stderr)")
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("final").path))
    }

    @Test func aSecondSignalStopsAtOnceAndLeavesNothingHalfWritten() throws {
        let folder = try TestPaths.temporaryDirectory("interrupt-train-twice")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out")
        let running = try RunningProduct(try trainArguments(folder, steps: 100_000))
        #expect(running.waitForStderr { $0.contains("step 1/100000") }, "\(running.stderr)")
        running.send(SIGINT)
        #expect(running.waitForStderr { $0.contains("Ctrl-C again") })
        running.send(SIGINT)
        let result = running.wait()
        #expect(result.signal == nil)
        #expect(result.status == 130, "\(result.stderr)")
        // Whatever was saved is complete; no half-written folder has a checkpoint's name.
        for step in try steps(in: output) {
            let state = output.appendingPathComponent("checkpoint-\(step)/trainer_state.json")
            #expect(FileManager.default.fileExists(atPath: state.path))
        }
    }

    @Test func generatePrintsTheResumeHint() throws {
        let folder = try TestPaths.temporaryDirectory("interrupt-generate")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("queries.jsonl").path
        // A slow server (50 ms a request, one at a time): the run cannot finish first.
        let server = try LoopbackHTTPServer { _, _ in
            usleep(50_000)
            let body = #"{"choices": [{"text": " a query\n", "logprobs": {"tokens": [" a", " query", "\n"], "token_logprobs": [-0.5, -1.0, -0.1]}}]}"#
            return ScriptedResponse(
                status: 200, headers: [("Content-Type", "application/json")], body: Data(body.utf8))
        }
        let arguments = [
            "generate", "--corpus", "\(Self.examples)/corpus.jsonl", "--api-base",
            server.baseURL + "/v1", "--model", "tiny", "--prompt",
            "\(Self.examples)/prompt.txt", "--concurrency", "1", "--output", output,
        ]
        let running = try RunningProduct(arguments)
        #expect(running.waitForStderr { $0.contains("/12 (") }, "\(running.stderr)")
        running.send(SIGINT)
        let result = running.wait()
        #expect(result.status == 130, "\(result.stderr)")
        #expect(result.stderr.contains("run the same command again to resume"), "\(result.stderr)")
        let written = try String(contentsOfFile: output, encoding: .utf8)
        #expect(written.hasSuffix("\n") || written.isEmpty, "only whole lines")
        let rerun = try BuiltProducts.run(arguments)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("resuming"), "\(rerun.stderr)")
        #expect(rerun.stderr.contains("wrote "), "\(rerun.stderr)")
    }
}
