import Foundation
import InparsHTTP
import InparsTestSupport
import Testing

@testable import InparsGeneration

/// Records the waits the backend's retry loop asks for instead of sleeping.
final class RecordingSleep: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Double] = []
    var waits: [Double] { lock.withLock { recorded } }
    var sleep: @Sendable (Double) async throws -> Void {
        { [self] seconds in lock.withLock { recorded.append(seconds) } }
    }
}

@Suite struct OpenAIBackendTests {
    func backend(
        _ server: LoopbackHTTPServer, chat: Bool = false, key: String? = nil, attempts: Int = 3,
        timeout: Double = 5, sleep: RecordingSleep = RecordingSleep()
    ) -> OpenAIBackend {
        OpenAIBackend(
            configuration: OpenAIConfiguration(
                apiBase: server.baseURL, model: "tiny-llm", chat: chat, apiKey: key,
                timeout: timeout, retry: RetryPolicy(maxAttempts: attempts), concurrency: 2),
            sleep: sleep.sleep)
    }

    @Test(arguments: [false, true])
    func completionsKeepTheTokensBeforeTheNewline(includeStop: Bool) async throws {
        let server = try LoopbackHTTPServer { _, _ in
            .json(
                OpenAIServer.completion(
                    tokens: [" What", " is", " BM25", "?"], logProbs: [-1.5, -0.25, -2, -0.125],
                    includeStop: includeStop))
        }
        let output = try await backend(server, key: "sk-test").generate(
            GenerationRequest(prompt: "Document: x\nRelevant Query:", maxNewTokens: 32, seed: 42))
        #expect(output.text == " What is BM25?")
        #expect(output.query == "What is BM25?")
        #expect(output.tokens == [" What", " is", " BM25", "?"])
        #expect(output.logProbs == [-1.5, -0.25, -2, -0.125])
        #expect(output.retries == 0)

        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/completions")
        #expect(request.headers["authorization"] == "Bearer sk-test")
        let body = try #require(request.json)
        #expect(body["model"] as? String == "tiny-llm")
        #expect(body["prompt"] as? String == "Document: x\nRelevant Query:")
        #expect(body["max_tokens"] as? Int == 32)
        #expect(body["logprobs"] as? Int == 1)
        #expect(body["stop"] as? [String] == ["\n"])
        #expect(body["temperature"] as? Double == 0)
        #expect(body["seed"] as? Int == 42)
    }

    @Test func aTokenThatHoldsTheNewlineEndsTheQuery() async throws {
        // A BPE token such as "?\n" carries the newline: it and everything after are dropped.
        let server = try LoopbackHTTPServer { _, _ in
            .json(
                OpenAIServer.completion(
                    tokens: [" Why", " now", "?\n", "Example", " 5"],
                    logProbs: [-1, -2, -3, -4, -5]))
        }
        let output = try await backend(server).generate(GenerationRequest(prompt: "p"))
        #expect(output.tokens == [" Why", " now"])
        #expect(output.logProbs == [-1, -2])
        #expect(output.query == "Why now?")
    }

    @Test func chatCompletionsReadTheContentLogProbs() async throws {
        let server = try LoopbackHTTPServer { _, _ in
            .json(
                OpenAIServer.chat(
                    tokens: ["Is", " coffee", " safe", "\n", "x"],
                    logProbs: [-0.5, -1, -0.75, -0.1, -9]))
        }
        let output = try await backend(server, chat: true).generate(
            GenerationRequest(prompt: "Doc\nQ:"))
        #expect(output.query == "Is coffee safe")
        #expect(output.logProbs == [-0.5, -1, -0.75])
        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/chat/completions")
        #expect(request.headers["authorization"] == nil)
        let body = try #require(request.json)
        #expect(body["logprobs"] as? Bool == true)
        let messages = try #require(body["messages"] as? [[String: String]])
        #expect(messages == [["role": "user", "content": "Doc\nQ:"]])
    }

    @Test(arguments: [
        (
            false, #"{"choices":[{"index":0,"text":" a query","finish_reason":"stop"}]}"#,
            "choices[0].logprobs"
        ),
        (false, #"{"choices":[{"text":" a query","logprobs":null}]}"#, "choices[0].logprobs"),
        (
            false, #"{"choices":[{"text":" a query","logprobs":{"tokens":[" a"," query"]}}]}"#,
            "choices[0].logprobs.token_logprobs"
        ),
        (
            true, #"{"choices":[{"message":{"role":"assistant","content":"a query"}}]}"#,
            "choices[0].logprobs.content"
        ),
    ])
    func aResponseWithoutLogProbsIsAClearError(chat: Bool, body: String, field: String) async throws
    {
        let server = try LoopbackHTTPServer { _, _ in .json(body) }
        let url = server.baseURL + (chat ? "/v1/chat/completions" : "/v1/completions")
        do {
            _ = try await backend(server, chat: chat).generate(GenerationRequest(prompt: "p"))
            Issue.record("expected an error")
        } catch let error as GenerationError {
            #expect(error == .missingLogProbs(url: url, field: field))
            #expect(error.stopsTheRun)
            let message = error.localizedDescription
            #expect(message.contains(url) && message.contains(field))
        }
        #expect(server.requests.count == 1)
    }

    @Test func malformedJSONIsReportedWithAnExcerpt() async throws {
        let server = try LoopbackHTTPServer { _, _ in .json(#"{"choices": [{"text": "unterminated"#)
        }
        do {
            _ = try await backend(server).generate(GenerationRequest(prompt: "p"))
            Issue.record("expected an error")
        } catch let error as GenerationError {
            #expect(
                error
                    == .malformedResponse(
                        url: server.baseURL + "/v1/completions", reason: "not valid JSON",
                        excerpt: #"{"choices": [{"text": "unterminated"#))
            #expect(error.localizedDescription.contains("unterminated"))
            #expect(!error.stopsTheRun)
        }
    }

    @Test func rateLimitsAndServerErrorsAreRetried() async throws {
        let server = try LoopbackHTTPServer { _, index in
            switch index {
            case 0:
                .json(#"{"error":"rate limited"}"#, status: 429, headers: [("Retry-After", "3")])
            case 1: .json("boom", status: 500)
            default: .json(OpenAIServer.completion(tokens: [" ok"], logProbs: [-0.5]))
            }
        }
        let sleep = RecordingSleep()
        let output = try await backend(server, attempts: 3, sleep: sleep).generate(
            GenerationRequest(prompt: "p"))
        #expect(output.query == "ok")
        #expect(output.retries == 2)
        #expect(server.requests.count == 3)
        #expect(sleep.waits.count == 2)
        #expect(sleep.waits.first == 3)
        // Second wait: full jitter under the 1.0 s cap of the second retry.
        #expect(sleep.waits.last.map { $0 >= 0 && $0 < 1 } == true)
    }

    @Test func aSlowServerTimesOutOnEveryAttempt() async throws {
        let server = try LoopbackHTTPServer { _, _ in .json("{}", delay: 2) }
        let url = server.baseURL + "/v1/completions"
        await #expect(
            throws: GenerationError.request(url: url, attempts: 2, error: .timeout(seconds: 0.2))
        ) {
            _ = try await backend(server, attempts: 2, timeout: 0.2).generate(
                GenerationRequest(prompt: "p"))
        }
        #expect(server.requests.count == 2)
    }

    @Test func aRefusedConnectionFailsAfterTheRetries() async throws {
        let port = try LoopbackHTTPServer.unusedPort()
        let sleep = RecordingSleep()
        let backend = OpenAIBackend(
            configuration: OpenAIConfiguration(
                apiBase: "http://127.0.0.1:\(port)/v1", model: "m",
                retry: RetryPolicy(maxAttempts: 3)),
            sleep: sleep.sleep)
        do {
            _ = try await backend.generate(GenerationRequest(prompt: "p"))
            Issue.record("expected an error")
        } catch let error as GenerationError {
            guard case .request(let url, let attempts, .curl(let code, _)) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(url == "http://127.0.0.1:\(port)/v1/completions")
            #expect(attempts == 3 && code == 7)
            #expect(error.localizedDescription.contains("after 3 attempts"))
        }
        #expect(sleep.waits.count == 2)
    }

    @Test func aContextOverflowIsReportedAsATooLongPrompt() async throws {
        let message =
            #"{"error":{"message":"This model's maximum context length is 2048 tokens. However, you requested 2100 tokens"}}"#
        let server = try LoopbackHTTPServer { _, _ in .json(message, status: 400) }
        await #expect(throws: GenerationError.promptTooLong(tokens: 0, limit: 0, detail: message)) {
            _ = try await backend(server).generate(GenerationRequest(prompt: "p"))
        }
        #expect(server.requests.count == 1)
    }

    @Test func anUnauthorisedRequestStopsTheRun() async throws {
        let server = try LoopbackHTTPServer { _, _ in
            .json(#"{"error":"invalid key"}"#, status: 401)
        }
        do {
            _ = try await backend(server, key: "bad").generate(GenerationRequest(prompt: "p"))
            Issue.record("expected an error")
        } catch let error as GenerationError {
            #expect(error.stopsTheRun)
            #expect(error.localizedDescription.contains("HTTP 401"))
        }
        #expect(server.requests.count == 1)
    }

    @Test(arguments: [
        ("http://h:8000", false, "http://h:8000/v1/completions"),
        ("http://h:8000/", true, "http://h:8000/v1/chat/completions"),
        ("https://api.openai.com/v1", false, "https://api.openai.com/v1/completions"),
        ("http://h/proxy/v1/", true, "http://h/proxy/v1/chat/completions"),
    ])
    func endpointsAreBuiltFromTheBase(base: String, chat: Bool, expected: String) {
        #expect(OpenAIConfiguration(apiBase: base, model: "m", chat: chat).endpoint == expected)
    }
}
