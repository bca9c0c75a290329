import Foundation
import InparsCore
import InparsModels
import InparsTensor
import InparsTokenizers

/// The in-process backend for decoder-only LMs (`model_type` `llama`, `mistral`, `qwen2`,
/// `qwen3`): ``InparsModels/CausalLM`` with the folder's `tokenizer.json`.
///
/// Each ``generate(_:)`` call takes up to ``maxBatchSize`` prompts and decodes them with
/// continuous batching, `batchSize` sequences at a time (a finished sequence leaves, the next
/// prompt is prefilled and joins). Prompts are tokenized as `tokenizer(prompt)` does by
/// default (the post-processor's BOS), and stop at EOS (`config.json` and
/// `generation_config.json`), at the first token whose decoded text holds a line feed
/// (the query ends there, as with servers), or after `maxNewTokens`.
///
/// Shared prefix: the first call with two or more prompts fixes the longest token prefix they
/// share (the few-shot part of a static prompt, or the instructions of a dynamic one); its
/// keys and values are computed once and every later prompt that starts with it is prefilled
/// from a fork of that cache. A causal model's keys and values for a prefix do not depend on
/// what follows, so this changes no token, only float rounding.
///
/// Rows are those of the HTTP backend: the text up to its first newline, and per token the
/// decoded text and the model's log-probability (`log softmax` of the raw logits at the chosen
/// token, before temperature, top-k and top-p).
public struct CausalLMBackend: GenerationBackend {
    /// `local`, or `local-bf16` / `local-int8` for converted linear layers (the name is part of
    /// the resume manifest, so a resume at another precision is refused).
    public var backendName: String { model.precision == .fp32 ? "local" : "local-\(model.precision.rawValue)" }
    public let modelName: String
    public let maxBatchSize: Int
    public let maxConcurrentCalls = 1
    public let model: CausalLM
    public let tokenizer: any Tokenizer
    /// Sequences decoded together.
    public let batchSize: Int
    /// `generate --batch-size` when not given: 64 rows a decoding step. A step reads every
    /// weight once for all its rows (1.98 GB in fp32 for Qwen2.5-0.5B), so more rows amortise
    /// it; 64 rows also keep the products on our own fp32 kernel (`f32gemm.c`, up to 64 rows)
    /// and peak memory below transformers' (Docs/performance.md, "Session 7").
    public static let defaultBatchSize = 64
    /// Whether prompts start from a shared prefix's cache (see the type's documentation).
    public let sharesPrefix: Bool
    /// Ids whose decoded text holds a line feed (U+000A; a lone `\r` does not end the query,
    /// as with the servers' `"\n"` stop).
    public let newlineIDs: Set<Int32>
    /// EOS ids of `config.json` and `generation_config.json`.
    public let eosIDs: Set<Int32>
    private let prefix = PrefixSlot()

    /// Tokens of the shared prefix once fixed (`nil` before, or when prompts share too few).
    public var sharedPrefixLength: Int? { prefix.length }

    /// The model's context (`max_position_embeddings`, or a shorter sliding window): prompts
    /// over it, less `--max-new-tokens`, are skipped and counted.
    public var defaultMaxPromptTokens: Int { model.configuration.contextLength }

    /// - Parameters:
    ///   - batchSize: sequences decoded together.
    ///   - window: prompts per call = `batchSize × window`, so that finished sequences have
    ///     waiting prompts to take their place.
    public init(
        model: CausalLM, tokenizer: any Tokenizer, modelName: String,
        batchSize: Int = defaultBatchSize,
        window: Int = 4, sharesPrefix: Bool = true, extraEOS: [Int] = []
    ) throws {
        maxBatchSize = try InProcessGeneration.promptsPerCall(batchSize: batchSize, window: window)
        self.model = model
        self.tokenizer = tokenizer
        self.modelName = modelName
        self.batchSize = batchSize
        self.sharesPrefix = sharesPrefix
        let vocab = min(model.configuration.vocabSize, tokenizer.vocabularySize)
        newlineIDs = Set(
            (0..<vocab).map { Int32($0) }.filter {
                tokenizer.decode([$0], skipSpecialTokens: false).utf8.contains(0x0A)
            })
        eosIDs = Set((model.configuration.eosTokenIDs + extraEOS).map { Int32($0) })
    }

    /// Loads model and tokenizer from one Hugging Face folder, the linear layers at
    /// `precision` (``InparsModels/CausalLM/load(directory:precision:)``); the model name
    /// recorded in the output is the folder's name.
    ///
    /// - Throws: `ModelError`, `CheckpointError` or `TokenizerError` naming the file.
    public static func load(
        directory: URL, batchSize: Int = defaultBatchSize, precision: Precision = .fp32
    ) throws -> CausalLMBackend {
        let model = try CausalLM.load(directory: directory, precision: precision)
        let tokenizer = try TokenizerLoader.load(directory: directory)
        return try CausalLMBackend(
            model: model, tokenizer: tokenizer, modelName: ModelFolderName.of(directory),
            batchSize: batchSize, extraEOS: try generationConfigEOS(directory))
    }

    /// `eos_token_id` of `generation_config.json` (an id or a list), when the file exists.
    static func generationConfigEOS(_ directory: URL) throws -> [Int] {
        let url = directory.appendingPathComponent("generation_config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.invalidConfiguration(path: url.path, reason: "not a JSON object")
        }
        switch object["eos_token_id"] {
        case let id as Int: return [id]
        case let ids as [Int]: return ids
        case nil, is NSNull: return []
        default:
            throw ModelError.invalidConfiguration(
                path: url.path, reason: "field 'eos_token_id' is not a token id or a list of ids")
        }
    }

    /// Prompt tokens as the model reads them (special tokens included).
    public func tokenCount(_ text: String) -> Int? {
        tokenizer.encode(text, addSpecialTokens: true).count
    }

    /// `text` unchanged when it has at most `maxTokens` tokens, else the decoded first
    /// `maxTokens` (the toolkit's `decode(tokenize(text)[:n])`).
    public func truncated(_ text: String, maxTokens: Int) -> String? {
        let ids = tokenizer.encode(text, addSpecialTokens: false)
        if ids.count <= maxTokens { return text }
        return tokenizer.decode(Array(ids.prefix(maxTokens)), skipSpecialTokens: true)
    }

    public func generate(_ requests: [GenerationRequest]) async throws -> [GenerationOutput] {
        try Task.checkCancellation()
        let prompts = try requests.map { request -> CausalLMRequest in
            let ids = tokenizer.encode(request.prompt, addSpecialTokens: true)
            try check(ids, request)
            return CausalLMRequest(
                ids: ids, sampling: T5Backend.sampling(request), maxNewTokens: request.maxNewTokens)
        }
        let shared = sharesPrefix ? prefix.value(for: prompts.map(\.ids), model: model) : nil
        let sequences = model.generate(
            prompts, batchSize: batchSize, stopIDs: newlineIDs.union(eosIDs), prefix: shared)
        return sequences.map(output)
    }

    /// Refuses a prompt the model cannot run exactly: empty, with ids outside the model's
    /// vocabulary, or longer than its context with the new tokens.
    private func check(_ ids: [Int32], _ request: GenerationRequest) throws {
        let context = model.configuration.contextLength
        guard !ids.isEmpty else {
            throw GenerationError.invalidOption(
                name: "prompt", value: request.id,
                reason: "it tokenizes to no tokens and this tokenizer adds no BOS")
        }
        if let id = ids.first(where: { Int($0) >= model.configuration.vocabSize || $0 < 0 }) {
            throw GenerationError.invalidOption(
                name: "prompt", value: request.id,
                reason:
                    "token id \(id) is outside the model's vocabulary of \(model.configuration.vocabSize) (tokenizer.json and config.json come from different models)"
            )
        }
        guard ids.count + request.maxNewTokens <= context else {
            throw GenerationError.promptTooLong(
                tokens: ids.count, limit: context,
                detail:
                    "the model's context is \(context) tokens; set --max-prompt-tokens to \(context) or less so such prompts are skipped"
            )
        }
    }

    /// The row: text up to the first newline (the stop token's text before it included),
    /// tokens and log-probs before the stop token.
    private func output(_ sequence: GeneratedSequence) -> GenerationOutput {
        var textIDs = sequence.ids
        if sequence.stop == .stopToken, let id = sequence.stopID, newlineIDs.contains(id) {
            textIDs.append(id)
        }
        var text = tokenizer.decode(textIDs, skipSpecialTokens: true)
        if let newline = text.utf8.firstIndex(of: 0x0A) { text = String(text[..<newline]) }
        return GenerationOutput(
            text: text,
            tokens: sequence.ids.map { tokenizer.decode([$0], skipSpecialTokens: false) },
            logProbs: sequence.logProbs.map(Double.init))
    }
}

/// The shared prefix of a backend, fixed by the first call with two or more prompts.
private final class PrefixSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var decided = false
    private var prefix: SharedPrefix?

    var length: Int? {
        lock.lock()
        defer { lock.unlock() }
        return prefix?.ids.count
    }

    /// Shortest prefix worth a cache of its own.
    static let minimumLength = 4

    func value(for prompts: [[Int32]], model: CausalLM) -> SharedPrefix? {
        lock.lock()
        defer { lock.unlock() }
        if decided || prompts.count < 2 { return prefix }
        decided = true
        var length = prompts.map(\.count).min() ?? 0
        for prompt in prompts.dropFirst() {
            length = min(length, zip(prompts[0], prompt).prefix { $0 == $1 }.count)
        }
        // Every prompt must keep at least one token of its own to prefill.
        length = min(length, (prompts.map(\.count).min() ?? 1) - 1)
        if length >= Self.minimumLength {
            prefix = model.sharedPrefix(Array(prompts[0].prefix(length)))
        }
        return prefix
    }
}
