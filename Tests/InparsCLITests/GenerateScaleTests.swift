import Foundation
import InparsCore
import InparsTestSupport
import Testing

/// The `/v1/completions` body a fake server answers for `prompt`: a query naming the prompt's
/// target document, with log-probs that differ per document.
private func completionBody(prompt: String) -> [String: Any] {
    let target =
        prompt.range(of: "Document: ", options: .backwards).map {
            String(prompt[$0.upperBound...].prefix { !$0.isWhitespace })
        } ?? "?"
    let weight = -Double(target.utf8.reduce(0) { $0 + Int($1) } % 97) / 64
    return [
        "id": "cmpl-1", "object": "text_completion", "model": "tiny",
        "choices": [
            [
                "index": 0, "text": " what is \(target)\nmore", "finish_reason": "stop",
                "logprobs": [
                    "tokens": [" what", " is", " \(target)", "\n"],
                    "token_logprobs": [-0.25, weight, -1.0 / 3.0, -0.01],
                ],
            ]
        ],
    ]
}

private func completionHandler(_ request: RecordedRequest, _ index: Int) -> ScriptedResponse {
    let prompt = request.json?["prompt"] as? String ?? ""
    let data = try! JSONSerialization.data(withJSONObject: completionBody(prompt: prompt))
    return ScriptedResponse(status: 200, headers: [("Content-Type", "application/json")], body: data)
}

/// `generate`: shards and merge, a fleet of servers, the batch route.
@Suite struct GenerateScaleTests {
    func corpus(_ fixture: StageFixture) throws -> String {
        try fixture.write(
            (0..<11).map { "doc\($0)\tTitle\($0) body \($0) words here" }.joined(separator: "\n")
                + "\n", "corpus.tsv")
    }

    func arguments(_ fixture: StageFixture, output: String, _ extra: [String]) throws -> [String] {
        try arguments(fixture, path: fixture.path(output), extra)
    }

    func arguments(_ fixture: StageFixture, path: String, _ extra: [String]) throws -> [String] {
        [
            "generate", "--corpus", try corpus(fixture), "--output", path,
            "--model", "tiny", "--max-generations", "9", "--num-queries-per-doc", "2",
            "--temperature", "0.5", "--concurrency", "3", "--seed", "7",
        ] + extra
    }

    @Test func generateShardsMergeIntoTheUnshardedOutput() throws {
        let fixture = try StageFixture("generate-shards")
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let server = try LoopbackHTTPServer(handler: completionHandler)
        let base = server.baseURL + "/v1"
        try fixture.succeed(try arguments(fixture, output: "reference.jsonl", ["--api-base", base]))
        #expect(try String(contentsOfFile: fixture.path("reference.jsonl"), encoding: .utf8).split(separator: "\n").count == 18)
        #expect(try fixture.manifest("reference.jsonl")?.state == .complete)
        for count in 1...3 {
            try fixture.shardAndMerge(count: count, reference: "reference.jsonl", name: "gen") {
                (try? arguments(fixture, path: $1, ["--api-base", base, "--shard", $0])) ?? []
            }
        }
        // A shard of a run with another seed is refused.
        try fixture.succeed(
            try arguments(fixture, output: "other.2.1", ["--api-base", base, "--shard", "1/2"])
                .map { $0 == "7" ? "8" : $0 })
        let foreign = try fixture.run(["merge", "--output", fixture.path("m"), fixture.path("gen.2.0"), fixture.path("other.2.1")])
        #expect(foreign.status == 1 && foreign.stderr.contains("seed: 7 → 8"), "\(foreign.stderr)")
        let missing = try fixture.run(["merge", "--output", fixture.path("m"), fixture.path("gen.2.1")])
        #expect(missing.status == 1 && missing.stderr.contains("shard 0/2 of this run is missing"), "\(missing.stderr)")
    }

    @Test func aFleetRoutesAroundAFailingServer() throws {
        let fixture = try StageFixture("generate-fleet")
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let good = try LoopbackHTTPServer(handler: completionHandler)
        let bad = try LoopbackHTTPServer { _, _ in .json(#"{"error": "overloaded"}"#, status: 503) }
        try fixture.succeed(try arguments(fixture, output: "reference.jsonl", ["--api-base", good.baseURL + "/v1"]))
        let result = try fixture.succeed(
            try arguments(
                fixture, output: "fleet.jsonl",
                ["--api-base", bad.baseURL + "/v1", "--api-base", good.baseURL + "/v1", "--max-retries", "3"]))
        // Every generation is there, as one server would have written it.
        #expect(try fixture.bytes("fleet.jsonl") == fixture.bytes("reference.jsonl"))
        #expect(result.stderr.contains("wrote 18,") && result.stderr.contains("failed 0"), "\(result.stderr)")
        let badLine = try #require(
            result.stderr.split(separator: "\n").first { $0.contains(bad.baseURL + "/v1/completions:") })
        let goodLine = try #require(
            result.stderr.split(separator: "\n").first { $0.contains(good.baseURL + "/v1/completions:") })
        // The failing server saw some requests (each failed, each retried on the other) and was
        // rested; the healthy one answered all 18.
        #expect(bad.requests.count >= 1 && badLine.contains("\(bad.requests.count) requests, \(bad.requests.count) failed"), "\(badLine)")
        #expect(goodLine.contains("18 requests, 0 failed"), "\(goodLine)")
        #expect(bad.requests.count < 18, "a failing server should be rested, not tried for every request")
    }

    /// A results file in the OpenAI batch output format for the requests in `requests`,
    /// answered like the loopback server, in reverse order, with the request `failing` answered
    /// by an error line and one unreadable line.
    func results(for requests: String, failing: String?) throws -> String {
        var lines: [String] = []
        for (i, line) in requests.split(separator: "\n").enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let custom = try #require(object["custom_id"] as? String)
            let body = try #require(object["body"] as? [String: Any])
            var result: [String: Any] = ["id": "batch_req_\(i)", "custom_id": custom]
            if let failing, custom.hasSuffix(failing) {
                result["response"] = NSNull()
                result["error"] = ["code": "server_error", "message": "The model crashed"]
            } else {
                result["response"] = [
                    "status_code": 200, "request_id": "req_\(i)",
                    "body": completionBody(prompt: try #require(body["prompt"] as? String)),
                ]
                result["error"] = NSNull()
            }
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: result), as: UTF8.self))
        }
        lines.reverse()
        if failing != nil { lines.insert("this line is not JSON", at: 1) }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func batchExportAndImportWriteTheOnlineRows() throws {
        let fixture = try StageFixture("generate-batch")
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let server = try LoopbackHTTPServer(handler: completionHandler)
        try fixture.succeed(try arguments(fixture, output: "online.jsonl", ["--api-base", server.baseURL + "/v1"]))
        let online = server.requests

        // Export: one /v1/completions request per generation, bodies as the server got them.
        let command = try arguments(fixture, output: "batch.jsonl", [])
        let exported = try fixture.succeed(command + ["--batch-export", fixture.path("requests.jsonl")])
        #expect(exported.stderr.contains("exported 18 requests"), "\(exported.stderr)")
        let requests = try String(contentsOfFile: fixture.path("requests.jsonl"), encoding: .utf8)
        let rows = try requests.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(rows.count == 18)
        #expect(rows.allSatisfy { $0["method"] as? String == "POST" && $0["url"] as? String == "/v1/completions" })
        let ids = rows.compactMap { $0["custom_id"] as? String }
        #expect(Set(ids).count == 18)
        let runID = try #require(try fixture.manifest("batch.jsonl")?.runID)
        #expect(ids.allSatisfy { $0.hasPrefix(String(runID.prefix(8)) + ":doc") })
        #expect(ids.contains { $0.hasSuffix("#1") })
        let onlineBodies = Set(online.map { String(decoding: $0.body, as: UTF8.self) })
        for line in requests.split(separator: "\n") {
            let body = String(line[line.range(of: "\"body\":")!.upperBound...].dropLast())
            #expect(onlineBodies.contains(body), "exported body not sent online: \(body)")
        }

        // Import with one error line and one unreadable line: 17 rows, the failure listed.
        let failingID = String(ids[5].split(separator: ":", maxSplits: 1)[1])
        try fixture.write(try results(for: requests, failing: failingID), "results.jsonl")
        let partial = try fixture.run(command + ["--batch-import", fixture.path("results.jsonl")])
        #expect(partial.status == 1)
        #expect(partial.stderr.contains("wrote 17,") && partial.stderr.contains("failed 1"), "\(partial.stderr)")
        #expect(partial.stderr.contains("The model crashed") && partial.stderr.contains("skipped line 2"), "\(partial.stderr)")
        #expect(partial.stderr.contains("--batch-export"))

        // Export again: only the failed generation; import it: the rows of the online run.
        try fixture.succeed(command + ["--batch-export", fixture.path("requests2.jsonl")])
        let again = try String(contentsOfFile: fixture.path("requests2.jsonl"), encoding: .utf8)
        #expect(again.split(separator: "\n").count == 1 && again.contains(failingID))
        try fixture.write(try results(for: again, failing: nil), "results2.jsonl")
        try fixture.succeed(command + ["--batch-import", fixture.path("results2.jsonl")])
        #expect(try fixture.bytes("batch.jsonl") == fixture.bytes("online.jsonl"))

        // Results of another export (other settings) are refused.
        let other = try fixture.run(
            try arguments(fixture, output: "other.jsonl", ["--batch-import", fixture.path("results.jsonl")])
                .map { $0 == "0.5" ? "0.9" : $0 })
        #expect(other.status == 1 && other.stderr.contains("exported with other settings"), "\(other.stderr)")
    }
}
