import Foundation
import InparsCore
import InparsHTTP

/// Settings of an OpenAI-compatible server.
public struct OpenAIConfiguration: Sendable, Equatable {
    /// Server base, e.g. `http://localhost:8000/v1` or `https://api.openai.com/v1`. A base
    /// with no path gets `/v1`; the endpoint (`/completions`, `/chat/completions`) is appended.
    public var apiBase: String
    /// The `model` field of each request.
    public var model: String
    /// Use `/v1/chat/completions` (prompt sent as one user message) instead of `/v1/completions`.
    public var chat: Bool
    /// Sent as `Authorization: Bearer <key>` when set.
    public var apiKey: String?
    /// Per-request time limit, seconds.
    public var timeout: Double
    /// Retries of 429, 5xx, connection errors and timeouts.
    public var retry: RetryPolicy
    /// Requests in flight at most.
    public var concurrency: Int

    public init(
        apiBase: String, model: String, chat: Bool = false, apiKey: String? = nil,
        timeout: Double = 60, retry: RetryPolicy = RetryPolicy(), concurrency: Int = 8
    ) {
        self.apiBase = apiBase
        self.model = model
        self.chat = chat
        self.apiKey = apiKey
        self.timeout = timeout
        self.retry = retry
        self.concurrency = concurrency
    }

    /// The endpoint URL requests go to.
    public var endpoint: String {
        var base = apiBase
        while base.hasSuffix("/") { base.removeLast() }
        if let url = URL(string: base), url.path.isEmpty || url.path == "/" { base += "/v1" }
        return base + (chat ? "/chat/completions" : "/completions")
    }
}

/// The generation backend for servers speaking OpenAI's API: vLLM, TGI, llama.cpp server,
/// Ollama, OpenAI. One prompt per request, `concurrency` requests in flight on libcurl
/// threads; `stop: ["\n"]`, log-probs requested (`logprobs: 1` or `logprobs: true`).
public struct OpenAIBackend: GenerationBackend {
    public let configuration: OpenAIConfiguration
    private let client: HTTPClient
    private let sleep: @Sendable (Double) async throws -> Void
    private let onRetry: (@Sendable (RetryEvent) -> Void)?

    /// - Parameters:
    ///   - sleep: how retries wait (tests inject a recorder).
    ///   - onRetry: told of each retry as it happens (for logs).
    public init(
        configuration: OpenAIConfiguration,
        sleep: @escaping @Sendable (Double) async throws -> Void = { seconds in
            try await Task.sleep(for: .seconds(seconds))
        },
        onRetry: (@Sendable (RetryEvent) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.client = HTTPClient(maxConcurrentRequests: max(1, configuration.concurrency))
        self.sleep = sleep
        self.onRetry = onRetry
    }

    public var backendName: String {
        configuration.chat ? "openai-chat" : "openai-completions"
    }
    public var modelName: String { configuration.model }
    public var maxBatchSize: Int { 1 }
    public var maxConcurrentCalls: Int { max(1, configuration.concurrency) }

    public func generate(_ requests: [GenerationRequest]) async throws -> [GenerationOutput] {
        var outputs: [GenerationOutput] = []
        for request in requests { outputs.append(try await generate(request)) }
        return outputs
    }

    /// Sends one request (with retries) and parses the answer.
    public func generate(_ request: GenerationRequest) async throws -> GenerationOutput {
        let url = configuration.endpoint
        let httpRequest = HTTPRequest.postJSON(
            url: url, body: try requestBody(request), headers: authorization,
            timeout: configuration.timeout)
        var random = SeededGenerator(seed: request.seed ^ 0x6A09_E667_F3BC_C908)
        var attempts = 0
        let response: HTTPResponse
        do {
            response = try await configuration.retry.run(
                random: &random, sleep: sleep, onRetry: { onRetry?($0) },
                attempt: { number in
                    attempts = number
                    return try await client.perform(httpRequest)
                })
        } catch let error as HTTPError {
            if case .status(400, let body) = error, Self.isContextOverflow(body) {
                throw GenerationError.promptTooLong(tokens: 0, limit: 0, detail: body)
            }
            throw GenerationError.request(url: url, attempts: attempts, error: error)
        }
        var output =
            configuration.chat
            ? try OpenAIResponse.parseChat(response.body, url: url)
            : try OpenAIResponse.parseCompletion(response.body, url: url)
        output.retries = attempts - 1
        return output
    }

    /// The JSON body for `request`.
    func requestBody(_ request: GenerationRequest) throws -> Data {
        var body: [String: Any] = [
            "model": configuration.model,
            "max_tokens": request.maxNewTokens,
            "temperature": request.temperature,
            "top_p": request.topP,
            "stop": ["\n"],
            "n": 1,
            // 31 bits: some servers keep the seed in a signed 32-bit integer.
            "seed": Int(request.seed & 0x7FFF_FFFF),
        ]
        if configuration.chat {
            body["messages"] = [["role": "user", "content": request.prompt]]
            body["logprobs"] = true
        } else {
            body["prompt"] = request.prompt
            body["logprobs"] = 1
        }
        return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
    }

    private var authorization: [(name: String, value: String)] {
        guard let key = configuration.apiKey, !key.isEmpty else { return [] }
        return [("Authorization", "Bearer \(key)")]
    }

    /// Whether a 400 body says the prompt does not fit the model's context (vLLM, OpenAI,
    /// llama.cpp and TGI word it differently; all mention the context or the length).
    static func isContextOverflow(_ body: String) -> Bool {
        let text = body.lowercased()
        return (text.contains("context") && (text.contains("length") || text.contains("window")))
            || text.contains("maximum context") || text.contains("too many tokens")
            || text.contains("prompt is too long")
    }
}
