import Foundation
import InparsTestSupport
import Testing

/// `kill -9` at a random (seeded) point, then the same command again: the result is byte for
/// byte what an uninterrupted run writes, and in between nothing half-written looks whole
/// (issue 16). The kill point is a seeded fraction of an uninterrupted run's duration, so it
/// lands at different stages on machines of different speed; several seeds per command.
@Suite(.serialized) struct KillTests {
    static let model = TestPaths.fixtures.appendingPathComponent("t5-tiny").path
    static let seeds: [UInt64] = [11, 23, 37]

    /// Runs `arguments` to completion and returns how long it took.
    func timedRun(_ arguments: [String]) throws -> Double {
        let start = Date()
        let result = try BuiltProducts.run(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        return Date().timeIntervalSince(start)
    }

    /// Starts `arguments`, kills it with SIGKILL after `delay` seconds (if it is still running).
    func killed(_ arguments: [String], after delay: Double) throws -> BuiltProducts.Result {
        let running = try RunningProduct(arguments)
        usleep(UInt32(delay * 1_000_000))
        running.send(SIGKILL)
        return running.wait()
    }

    /// A seeded fraction of `duration`, between 5% and 95%.
    func killPoint(_ seed: UInt64, _ duration: Double) -> Double {
        var random = TestRandom(seed: seed)
        return duration * Double.random(in: 0.05...0.95, using: &random)
    }

    /// Every regular file under `folder`, by relative path, with its bytes.
    func contents(of folder: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: folder.path)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let url = folder.appendingPathComponent(path)
            FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
            if !isDirectory.boolValue { files[path] = try Data(contentsOf: url) }
        }
        return files
    }

    /// Hidden temporary names left in `folder` (there must be none after a rerun).
    func leftovers(in folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            $0.hasPrefix(".") && ($0.contains(".tmp-") || $0.contains(".old-"))
        }
    }

    @Test func indexKilledAnywhereThenRebuiltIsIdentical() throws {
        let folder = try TestPaths.temporaryDirectory("kill-index")
        var random = TestRandom(seed: 5)
        let words = (0..<400).map { "w\($0)x" }
        let corpus = (0..<6000).map { i in
            "d\(i)\t" + (0..<30).map { _ in words.randomElement(using: &random)! }.joined(separator: " ")
        }.joined(separator: "\n")
        let corpusPath = folder.appendingPathComponent("corpus.tsv").path
        try Data(corpus.utf8).write(to: URL(fileURLWithPath: corpusPath))
        let reference = folder.appendingPathComponent("reference")
        let duration = try timedRun(["index", "--corpus", corpusPath, "--index", reference.path])
        let expected = try contents(of: reference)
        for seed in Self.seeds {
            let index = folder.appendingPathComponent("index-\(seed)")
            let arguments = ["index", "--corpus", corpusPath, "--index", index.path]
            _ = try killed(arguments, after: killPoint(seed, duration))
            // Killed before the final rename: no index; after: a complete one.
            if FileManager.default.fileExists(atPath: index.path) {
                #expect(try contents(of: index) == expected, "seed \(seed): a partial index")
            }
            let rerun = try BuiltProducts.run(arguments)
            #expect(rerun.status == 0, "seed \(seed): \(rerun.stderr)")
            #expect(try contents(of: index) == expected, "seed \(seed)")
            let left = try leftovers(in: folder)
            #expect(left.isEmpty, "seed \(seed): \(left)")
        }
    }

    @Test func generateKilledAnywhereThenResumedIsIdentical() throws {
        let folder = try TestPaths.temporaryDirectory("kill-generate")
        let corpus = (0..<40).map { "d\($0)\tTitle \($0)\tbody \($0) words here" }
            .joined(separator: "\n")
        let corpusPath = folder.appendingPathComponent("corpus.tsv").path
        try Data(corpus.utf8).write(to: URL(fileURLWithPath: corpusPath))
        // A deterministic server (the query names the prompt's document), 5 ms a request.
        let server = try LoopbackHTTPServer { request, _ in
            usleep(5_000)
            let prompt = request.json?["prompt"] as? String ?? ""
            let target = prompt.split(separator: " ").last { $0.hasPrefix("body") } ?? "?"
            let body = try! JSONSerialization.data(withJSONObject: [
                "choices": [[
                    "text": " about \(target)\n",
                    "logprobs": [
                        "tokens": [" about", " \(target)", "\n"],
                        "token_logprobs": [-0.5, -1.5, -0.1],
                    ],
                ]]
            ])
            return ScriptedResponse(
                status: 200, headers: [("Content-Type", "application/json")], body: body)
        }
        func arguments(_ output: URL) -> [String] {
            [
                "generate", "--corpus", corpusPath, "--api-base", server.baseURL + "/v1",
                "--model", "tiny", "--concurrency", "2", "--output", output.path,
            ]
        }
        let reference = folder.appendingPathComponent("reference.jsonl")
        let duration = try timedRun(arguments(reference))
        let expected = try Data(contentsOf: reference)
        for seed in Self.seeds {
            let output = folder.appendingPathComponent("queries-\(seed).jsonl")
            _ = try killed(arguments(output), after: killPoint(seed, duration))
            if let partial = FileManager.default.contents(atPath: output.path) {
                // Whole lines, each a prefix of the uninterrupted output's lines, and at most
                // one torn line at the end (no newline: it never looks whole).
                let text = String(decoding: partial, as: UTF8.self)
                let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex)])
                #expect(
                    String(decoding: expected, as: UTF8.self).hasPrefix(complete),
                    "seed \(seed): the complete lines are the run's first lines")
            }
            let rerun = try BuiltProducts.run(arguments(output))
            #expect(rerun.status == 0, "seed \(seed): \(rerun.stderr)")
            #expect(try Data(contentsOf: output) == expected, "seed \(seed)")
            #expect(try leftovers(in: folder).isEmpty, "seed \(seed)")
        }
    }

    @Test func trainKilledAnywhereThenResumedIsIdentical() throws {
        let folder = try TestPaths.temporaryDirectory("kill-train")
        let triples = (0..<8).map { i in
            let topic = ["cancer", "diabetes", "growth", "hospital"][i % 4]
            return "\(topic)\t\(topic) study \(topic) data\tmodel results set metric\n"
        }.joined()
        let triplesPath = folder.appendingPathComponent("triples.tsv").path
        try Data(triples.utf8).write(to: URL(fileURLWithPath: triplesPath))
        func arguments(_ output: URL) -> [String] {
            [
                "train", "--model", Self.model, "--triples", triplesPath, "--output", output.path,
                "--steps", "8", "--batch-size", "2", "--max-length", "32", "--save-every", "2",
                "--threads", "1", "--dropout", "0.1", "--seed", "5",
            ]
        }
        let reference = folder.appendingPathComponent("reference")
        let duration = try timedRun(arguments(reference))
        let expected = try contents(of: reference.appendingPathComponent("final"))
        let expectedLog = try Data(contentsOf: reference.appendingPathComponent("train_log.jsonl"))
        for seed in Self.seeds {
            let output = folder.appendingPathComponent("run-\(seed)")
            _ = try killed(arguments(output), after: killPoint(seed, duration))
            // Every checkpoint folder present is complete.
            let names = (try? FileManager.default.contentsOfDirectory(atPath: output.path)) ?? []
            for name in names where name.hasPrefix("checkpoint-") {
                let state = output.appendingPathComponent("\(name)/trainer_state.json")
                #expect(FileManager.default.fileExists(atPath: state.path), "seed \(seed): \(name)")
            }
            let resumable = names.contains { $0.hasPrefix("checkpoint-") }
            let rerun = try BuiltProducts.run(arguments(output) + (resumable ? ["--resume"] : []))
            #expect(rerun.status == 0, "seed \(seed): \(rerun.stderr)")
            #expect(
                try contents(of: output.appendingPathComponent("final")) == expected,
                "seed \(seed): final differs from the uninterrupted run's")
            #expect(
                try Data(contentsOf: output.appendingPathComponent("train_log.jsonl"))
                    == expectedLog, "seed \(seed)")
            let left = try leftovers(in: output)
            #expect(left.isEmpty, "seed \(seed): \(left)")
        }
    }
}
