import Foundation
import InparsTestSupport
import Testing

@testable import inpars

/// A `/v1/completions` answer whose query names the prompt's target document.
private func completionHandler(_ request: RecordedRequest, _ index: Int) -> ScriptedResponse {
    let prompt = request.json?["prompt"] as? String ?? ""
    let target =
        prompt.range(of: "Document: ", options: .backwards).map {
            String(prompt[$0.upperBound...].prefix { !$0.isWhitespace })
        } ?? "?"
    let body: [String: Any] = [
        "choices": [
            [
                "text": " about \(target)\n",
                "logprobs": [
                    "tokens": [" about", " \(target)", "\n"], "token_logprobs": [-0.5, -1.5, -0.1],
                ],
            ]
        ]
    ]
    let data = try! JSONSerialization.data(withJSONObject: body)
    return ScriptedResponse(
        status: 200, headers: [("Content-Type", "application/json")], body: data)
}

@Suite struct GenerateCommandTests {
    func corpus(in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent("corpus.tsv")
        let rows = (0..<6).map { "doc\($0)\tTitle \($0)\tbody\($0) words here" }
        try Data((["id\ttitle\ttext"] + rows).joined(separator: "\n").utf8).write(to: url)
        return url
    }

    func arguments(_ corpus: URL, _ output: URL, _ server: String, _ extra: [String] = [])
        -> [String]
    {
        [
            "generate", "--corpus", corpus.path, "--output", output.path, "--api-base", server,
            "--model", "tiny", "--max-generations", "5", "--concurrency", "2",
        ] + extra
    }

    @Test func generateWritesTheOutputAndReportsOnStderr() throws {
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try LoopbackHTTPServer(handler: completionHandler)
        let output = folder.appendingPathComponent("q.jsonl")
        var environment = ProcessInfo.processInfo.environment
        environment["OPENAI_API_KEY"] = "sk-cli"
        let result = try BuiltProducts.run(
            arguments(try corpus(in: folder), output, server.baseURL + "/v1"),
            environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr.contains("wrote 5, already done 0, skipped 0 (prompt too long), failed 0")
        )
        let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        let first = try #require(
            try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        let text = try #require(first["text"] as? String)
        #expect(text.hasPrefix("Title "))
        #expect(first["query"] as? String == "about Title")
        #expect(first["log_probs"] as? [Double] == [-0.5, -1.5])
        #expect(server.requests.allSatisfy { $0.headers["authorization"] == "Bearer sk-cli" })
        #expect(FileManager.default.fileExists(atPath: output.path + ".manifest.json"))
    }

    @Test func failedGenerationsExitNonZeroAndARerunCompletesThem() throws {
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = try corpus(in: folder)
        let output = folder.appendingPathComponent("q.jsonl")
        let failing = try LoopbackHTTPServer { request, index in
            index < 3
                ? completionHandler(request, index)
                : ScriptedResponse(status: 500, body: Data("down".utf8))
        }
        let first = try BuiltProducts.run(
            arguments(
                corpus, output, failing.baseURL, ["--max-retries", "0", "--concurrency", "1"]))
        #expect(first.status == 1)
        #expect(first.stderr.contains("failed: doc"))
        #expect(first.stderr.contains("HTTP 500"))
        #expect(first.stderr.contains("2 generations failed after all retries"))
        #expect(first.stderr.contains("rerun the same command"))

        let healthy = try LoopbackHTTPServer(handler: completionHandler)
        let second = try BuiltProducts.run(arguments(corpus, output, healthy.baseURL))
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("wrote 2, already done 3"))
        let ids = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["doc_id"]
                as? String
        }
        #expect(ids.count == 5 && Set(ids).count == 5)
    }

    @Test func badFlagsAreUsageErrors() throws {
        let result = try BuiltProducts.run([
            "generate", "--corpus", "c", "--output", "o", "--api-base", "localhost:8000",
            "--model", "m",
        ])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--api-base must be an http:// or https:// URL"))
        let topP = try BuiltProducts.run([
            "generate", "--corpus", "c", "--output", "o", "--api-base", "http://h", "--model", "m",
            "--top-p", "0",
        ])
        #expect(topP.status == 64)
    }

    @Test func aNamedKeyVariableMustExist() throws {
        let result = try BuiltProducts.run([
            "generate", "--corpus", "c", "--output", "o", "--api-base", "http://127.0.0.1:9",
            "--model", "m", "--api-key-env", "INPARS_TEST_NO_SUCH_KEY",
        ])
        #expect(result.status == 1)
        #expect(result.stderr.contains("INPARS_TEST_NO_SUCH_KEY"))
    }

    @Test func generateParsesItsDefaults() throws {
        let command = try #require(
            try Inpars.parseAsRoot([
                "generate", "--corpus", "c", "--output", "o", "--api-base", "http://h", "--model",
                "m",
            ])
                as? GenerateCommand)
        #expect(command.prompt == "inpars")
        #expect(command.maxNewTokens == 64 && command.maxDocTokens == 256)
        #expect(command.numQueriesPerDoc == 1 && command.seed.seed == 1)
        #expect(command.temperature == 0 && command.topP == 1)
        #expect(!command.chat)
    }
}
