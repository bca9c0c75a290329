import Foundation
import InparsCore
import InparsModels
import InparsTensor
import InparsTokenizers

/// The in-process backend: a T5 / FLAN-T5 checkpoint folder (e.g. doc2query-T5) run with
/// ``InparsModels/T5Model`` and its SentencePiece tokenizer.
///
/// Each ``generate(_:)`` call takes up to ``maxBatchSize`` prompts, sorts them by encoder
/// length and decodes them in groups of `batchSize` (similar lengths together, so padding
/// costs little): the encoder runs once per group, then KV-cached steps until every sequence
/// has stopped. A sequence stops at EOS, at a token whose piece contains a newline (standard
/// T5 vocabularies have none, because SentencePiece normalises `"\n"` to a space — there EOS
/// is the only stop), or after `maxNewTokens`.
///
/// Log-probs are those of the model: `log softmax` of the raw logits at each chosen token,
/// before temperature, top-k and top-p (what the InPars toolkit stores for greedy decoding,
/// and what vLLM returns by default), so a query's score does not depend on the sampling
/// settings that produced it.
public struct T5Backend: GenerationBackend {
    /// `t5`, or `t5-bf16` / `t5-int8` for a converted model (the generate manifest records it,
    /// so a resume at another precision is refused).
    public var backendName: String { model.precision == .fp32 ? "t5" : "t5-\(model.precision.rawValue)" }
    public let modelName: String
    public let maxBatchSize: Int
    public let maxConcurrentCalls = 1
    /// No limit (0): T5's relative positions take any length, and the built-in few-shot
    /// prompts run past the 512 tokens (`model_max_length`) T5 was pretrained on, so a 512
    /// default skipped every prompt (issue 16, finding 5).
    public let defaultMaxPromptTokens = 0
    /// The encoder's context holds the prompt only; generated tokens go to the decoder.
    public let generatedTokensShareContext = false
    public let model: T5Model
    public let tokenizer: SentencePieceTokenizer
    /// Prompts decoded together.
    public let batchSize: Int
    /// `generate --batch-size` when not given: 8, a decoding group of prompts of similar
    /// length (the T5 generation benchmark's batch).
    public static let defaultBatchSize = 8
    /// Vocabulary ids whose piece contains a newline (stop tokens; usually none for T5).
    public let newlineIDs: Set<Int32>

    /// - Parameters:
    ///   - batchSize: prompts decoded together.
    ///   - lengthWindow: prompts per call = `batchSize × lengthWindow`; within a call prompts
    ///     are grouped by length.
    public init(
        model: T5Model, tokenizer: SentencePieceTokenizer, modelName: String,
        batchSize: Int = defaultBatchSize, lengthWindow: Int = 4
    ) throws {
        let perCall = try InProcessGeneration.promptsPerCall(
            batchSize: batchSize, window: lengthWindow)
        self.model = model
        self.tokenizer = tokenizer
        self.modelName = modelName
        self.batchSize = batchSize
        self.maxBatchSize = perCall
        let vocab = min(model.configuration.vocabSize, tokenizer.vocabularySize)
        newlineIDs = Set(
            (0..<vocab).map { Int32($0) }.filter {
                tokenizer.token(forID: $0)?.contains(where: \.isNewline) ?? false
            })
    }

    /// Loads model and tokenizer from one Hugging Face folder; the model name recorded in the
    /// output is the folder's name.
    ///
    /// - Throws: `ModelError`, `CheckpointError` or `TokenizerError` naming the file.
    public static func load(
        directory: URL, batchSize: Int = defaultBatchSize, lengthWindow: Int = 4, precision: Precision = .fp32
    ) throws -> T5Backend {
        let model = try T5Model.load(directory: directory, precision: precision)
        let tokenizer = try SentencePieceTokenizer.load(directory: directory)
        return try T5Backend(
            model: model, tokenizer: tokenizer,
            modelName: ModelFolderName.of(directory), batchSize: batchSize,
            lengthWindow: lengthWindow)
    }

    /// Encoder tokens of `text`, EOS included (what the encoder reads).
    public func tokenCount(_ text: String) -> Int? {
        tokenizer.encode(text, addSpecialTokens: true).count
    }

    /// `text` unchanged when it has at most `maxTokens` tokens (EOS not counted), else the
    /// decoded first `maxTokens` tokens — the toolkit's `decode(tokenize(text)[:n])`, without
    /// leaking special tokens into the prompt.
    public func truncated(_ text: String, maxTokens: Int) -> String? {
        let ids = tokenizer.encode(text, addSpecialTokens: false)
        if ids.count <= maxTokens { return text }
        return tokenizer.decode(Array(ids.prefix(maxTokens)))
    }

    public func generate(_ requests: [GenerationRequest]) async throws -> [GenerationOutput] {
        let inputs = requests.map { tokenizer.encode($0.prompt, addSpecialTokens: true) }
        // Longest first, input order on ties, then groups of batchSize.
        let order = inputs.indices.sorted {
            inputs[$0].count != inputs[$1].count ? inputs[$0].count > inputs[$1].count : $0 < $1
        }
        var outputs = [GenerationOutput?](repeating: nil, count: requests.count)
        for start in stride(from: 0, to: order.count, by: batchSize) {
            try Task.checkCancellation()
            let group = Array(order[start..<min(start + batchSize, order.count)])
            let maxNewTokens = group.map { requests[$0].maxNewTokens }.max() ?? 0
            let generations = model.generate(
                group.map { inputs[$0] },
                sampling: group.map { Self.sampling(requests[$0]) },
                maxNewTokens: maxNewTokens, stopIDs: newlineIDs)
            for (slot, index) in group.enumerated() {
                outputs[index] = output(generations[slot], limit: requests[index].maxNewTokens)
            }
        }
        return outputs.map { $0! }
    }

    static func sampling(_ request: GenerationRequest) -> Sampling {
        Sampling(
            temperature: Float(request.temperature), topK: request.topK,
            topP: Float(request.topP), seed: request.seed)
    }

    private func output(_ generation: GeneratedSequence, limit: Int) -> GenerationOutput {
        let ids = Array(generation.ids.prefix(limit))
        var text = tokenizer.decode(ids)
        if let newline = text.firstIndex(where: \.isNewline) { text = String(text[..<newline]) }
        return GenerationOutput(
            text: text, tokens: ids.map { tokenizer.token(forID: $0) ?? "" },
            logProbs: generation.logProbs.prefix(limit).map(Double.init))
    }
}
