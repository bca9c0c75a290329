import Foundation

/// One prompt to continue, with the decoding settings.
public struct GenerationRequest: Sendable, Equatable {
    /// The full prompt; the model continues it.
    public var prompt: String
    /// Most tokens to generate (the query is cut at the first newline before that).
    public var maxNewTokens: Int
    /// Sampling temperature; 0 means greedy.
    public var temperature: Double
    /// Nucleus sampling mass (1 = off).
    public var topP: Double
    /// Top-k sampling (nil = off; the OpenAI API has no such knob and ignores it).
    public var topK: Int?
    /// Per-request seed, derived from `--seed`, the document and the query index.
    public var seed: UInt64
    /// Names the generation, `<doc_id>#<query_index>` (a batch file's `custom_id` carries it).
    public var id: String

    public init(
        prompt: String, maxNewTokens: Int = 64, temperature: Double = 0, topP: Double = 1,
        topK: Int? = nil, seed: UInt64 = 0, id: String = ""
    ) {
        self.prompt = prompt
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.seed = seed
        self.id = id
    }
}

/// A generated continuation, cut before the first newline.
public struct GenerationOutput: Sendable, Equatable {
    /// The generated text up to (not including) the first newline, not yet stripped.
    public var text: String
    /// The generated tokens up to (not including) the first token that contains a newline.
    public var tokens: [String]
    /// Natural-log probability of each token in `tokens` (same count).
    public var logProbs: [Double]
    /// Retries spent on this request (0 when the first attempt succeeded).
    public var retries: Int

    public init(text: String, tokens: [String], logProbs: [Double], retries: Int = 0) {
        self.text = text
        self.tokens = tokens
        self.logProbs = logProbs
        self.retries = retries
    }

    /// The query as stored: `text` with surrounding whitespace removed (as the toolkit does).
    public var query: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// Something that continues prompts and reports the log-probability of each generated token.
///
/// Two kinds exist: a server behind an OpenAI-compatible API (``OpenAIBackend``: one prompt
/// per call, many calls in flight) and an in-process model (``T5Backend``: many prompts per
/// call, one call at a time, since compute runs on one lane), which
/// ``InProcessGeneration/load(directory:batchSize:)`` picks from a model folder's family.
/// ``GenerateRun`` only sees this protocol: it groups work into batches of ``maxBatchSize`` and
/// keeps ``maxConcurrentCalls`` calls in flight.
public protocol GenerationBackend: Sendable {
    /// Written to each record's `backend` field, e.g. `openai-completions`, `t5`.
    var backendName: String { get }
    /// Written to each record's `model` field.
    var modelName: String { get }
    /// Most requests one ``generate(_:)`` call takes (1 for HTTP).
    var maxBatchSize: Int { get }
    /// Most ``generate(_:)`` calls in flight at once.
    var maxConcurrentCalls: Int { get }
    /// The prompt-length limit in tokens when the user gives none (0 = no check): none for
    /// T5 (relative positions), 2048 for a server whose context is unknown.
    var defaultMaxPromptTokens: Int { get }
    /// Whether generated tokens share the context window with the prompt, so the prompt limit
    /// must leave room for `maxNewTokens` (decoder-only models, servers). An encoder-decoder's
    /// encoder holds the prompt alone; generated tokens go to the decoder.
    var generatedTokensShareContext: Bool { get }

    /// Tokens in `text` for the generator's own tokenizer, or `nil` when none is known
    /// (prompt lengths are then estimated in words).
    func tokenCount(_ text: String) -> Int?

    /// `text` cut to its first `maxTokens` generator tokens, or `nil` when no tokenizer is
    /// known (documents are then cut by words).
    func truncated(_ text: String, maxTokens: Int) -> String?

    /// Continues each prompt.
    ///
    /// - Parameter requests: 1 to ``maxBatchSize`` requests.
    /// - Returns: one output per request, in the same order.
    /// - Throws: ``GenerationError`` (the whole batch fails together).
    func generate(_ requests: [GenerationRequest]) async throws -> [GenerationOutput]
}

extension GenerationBackend {
    /// A server's context is unknown; 2048 fits the smallest common LLM contexts.
    public var defaultMaxPromptTokens: Int { OpenAIConfiguration.defaultMaxPromptTokens }
    /// True for servers and decoder-only models.
    public var generatedTokensShareContext: Bool { true }
    public func tokenCount(_ text: String) -> Int? { nil }
    public func truncated(_ text: String, maxTokens: Int) -> String? { nil }
}
