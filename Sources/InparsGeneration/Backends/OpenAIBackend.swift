import Foundation
import InparsCore
import InparsHTTP

/// Settings of one or more OpenAI-compatible servers serving the same model.
public struct OpenAIConfiguration: Sendable, Equatable {
    /// Server bases, e.g. `http://localhost:8000/v1` or `https://api.openai.com/v1` (several:
    /// a fleet, see ``EndpointPool``). A base with no path gets `/v1`; the endpoint
    /// (`/completions`, `/chat/completions`) is appended.
    public var apiBases: [String]
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
    /// Requests in flight at most (over all servers).
    public var concurrency: Int

    public init(
        apiBases: [String], model: String, chat: Bool = false, apiKey: String? = nil,
        timeout: Double = 60, retry: RetryPolicy = RetryPolicy(), concurrency: Int = 8
    ) {
        precondition(!apiBases.isEmpty, "OpenAIConfiguration needs a server")
        self.apiBases = apiBases
        self.model = model
        self.chat = chat
        self.apiKey = apiKey
        self.timeout = timeout
        self.retry = retry
        self.concurrency = concurrency
    }

    /// One server.
    public init(
        apiBase: String, model: String, chat: Bool = false, apiKey: String? = nil,
        timeout: Double = 60, retry: RetryPolicy = RetryPolicy(), concurrency: Int = 8
    ) {
        self.init(
            apiBases: [apiBase], model: model, chat: chat, apiKey: apiKey, timeout: timeout,
            retry: retry, concurrency: concurrency)
    }

    /// The endpoint URL requests go to (of the first server).
    public var endpoint: String { endpoints[0] }

    /// Every server's endpoint URL.
    public var endpoints: [String] {
        apiBases.map { apiBase in
            var base = apiBase
            while base.hasSuffix("/") { base.removeLast() }
            if let url = URL(string: base), url.path.isEmpty || url.path == "/" { base += "/v1" }
            return base + (chat ? "/chat/completions" : "/completions")
        }
    }

    /// The prompt limit for a server whose context is unknown (also the batch routes'):
    /// 2048 tokens fits the smallest common LLM contexts.
    public static let defaultMaxPromptTokens = 2048

    /// The `backend` field of the records these servers generate.
    public var backendName: String { chat ? "openai-chat" : "openai-completions" }

    /// The path of the endpoint (`/v1/completions`, `/v1/chat/completions`), as an OpenAI
    /// batch file names it.
    public var endpointPath: String { chat ? "/v1/chat/completions" : "/v1/completions" }

    /// The JSON body for `request` (also a line's `body` in an OpenAI batch file).
    public func requestBody(_ request: GenerationRequest) throws -> Data {
        var body: [String: Any] = [
            "model": model,
            "max_tokens": request.maxNewTokens,
            "temperature": request.temperature,
            "top_p": request.topP,
            "stop": ["\n"],
            "n": 1,
            // 31 bits: some servers keep the seed in a signed 32-bit integer.
            "seed": Int(request.seed & 0x7FFF_FFFF),
        ]
        if chat {
            body["messages"] = [["role": "user", "content": request.prompt]]
            body["logprobs"] = true
        } else {
            body["prompt"] = request.prompt
            body["logprobs"] = 1
        }
        return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
    }
}

/// The generation backend for servers speaking OpenAI's API: vLLM, TGI, llama.cpp server,
/// Ollama, OpenAI. One prompt per request, `concurrency` requests in flight on libcurl
/// threads; `stop: ["\n"]`, log-probs requested (`logprobs: 1` or `logprobs: true`).
///
/// With several servers (``OpenAIConfiguration/apiBases``) each attempt goes to the one with
/// the fewest requests in flight, a server that keeps failing is rested, and a failed attempt
/// is retried on another server (``EndpointPool``); ``endpointStatistics`` counts requests and
/// failures per server.
public struct OpenAIBackend: GenerationBackend {
    public let configuration: OpenAIConfiguration
    private let client: HTTPClient
    private let pool: EndpointPool
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
        onRetry: (@Sendable (RetryEvent) -> Void)? = nil,
        onRest: (@Sendable (_ endpoint: String, _ seconds: Double) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.client = HTTPClient(maxConcurrentRequests: max(1, configuration.concurrency))
        self.pool = EndpointPool(urls: configuration.endpoints, onRest: onRest)
        self.sleep = sleep
        self.onRetry = onRetry
    }

    public var backendName: String { configuration.backendName }
    public var modelName: String { configuration.model }
    public var maxBatchSize: Int { 1 }
    public var maxConcurrentCalls: Int { max(1, configuration.concurrency) }

    public func generate(_ requests: [GenerationRequest]) async throws -> [GenerationOutput] {
        var outputs: [GenerationOutput] = []
        for request in requests { outputs.append(try await generate(request)) }
        return outputs
    }

    /// Requests and failures per server, in the order given.
    public var endpointStatistics: [EndpointStatistics] { pool.statistics }

    /// Sends one request (with retries, on other servers when there are several) and parses
    /// the answer.
    public func generate(_ request: GenerationRequest) async throws -> GenerationOutput {
        let body = try configuration.requestBody(request)
        var random = SeededGenerator(seed: request.seed ^ 0x6A09_E667_F3BC_C908)
        var attempts = 0
        var url = configuration.endpoint
        var failedOn: Set<Int> = []
        let servers = pool.count
        let response: HTTPResponse
        do {
            response = try await configuration.retry.run(
                random: &random, sleep: sleep, onRetry: { onRetry?($0) },
                // Another server may well answer what this one could not (its own 404, 401).
                shouldRetry: { error in
                    error.isTransient
                        || (servers > 1 && failedOn.count < servers && Self.isServerSpecific(error))
                },
                attempt: { number in
                    attempts = number
                    let endpoint = pool.acquire(avoiding: failedOn)
                    url = endpoint.url
                    do {
                        let response = try await client.perform(
                            .postJSON(
                                url: endpoint.url, body: body, headers: authorization,
                                timeout: configuration.timeout))
                        pool.release(endpoint.index, succeeded: response.isSuccess)
                        if !response.isSuccess { failedOn.insert(endpoint.index) }
                        return response
                    } catch {
                        pool.release(endpoint.index, succeeded: false)
                        failedOn.insert(endpoint.index)
                        throw error
                    }
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

    /// Whether a failure may be particular to the server that answered (a model it does not
    /// serve, a key it does not accept), so that another server is worth a try.
    static func isServerSpecific(_ error: HTTPError) -> Bool {
        if case .status(let code, _) = error { return [401, 403, 404].contains(code) }
        return false
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
