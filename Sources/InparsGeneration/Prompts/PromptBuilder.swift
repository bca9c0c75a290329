import InparsCore

/// A prompt ready to send, with the ids of the few-shot examples it shows.
public struct BuiltPrompt: Sendable, Equatable {
    public var text: String
    /// `FewShotExample.id` of each drawn example, in prompt order (empty for static prompts).
    public var exampleIDs: [String]
}

/// Builds one prompt per document, as the InPars toolkit's `StaticPrompt`/`DynamicPrompt`:
/// documents cut to `maxDocTokens`, dynamic examples drawn per document with the seed, and a
/// length check against `maxPromptTokens`.
public struct PromptBuilder: Sendable {
    public var template: PromptTemplate
    /// The pool dynamic templates draw from.
    public var examples: [FewShotExample]
    /// Examples per prompt (dynamic templates).
    public var numExamples: Int
    /// Target and example documents are cut to this many tokens (0 = no cut).
    public var maxDocTokens: Int
    /// Example queries are cut to this many tokens (0 = no cut; the toolkit's default is 200).
    public var maxQueryTokens: Int
    /// A prompt whose tokens plus `maxNewTokens` exceed this is refused (0 = no check).
    public var maxPromptTokens: Int
    /// The generation budget counted against `maxPromptTokens`.
    public var maxNewTokens: Int
    /// The run's `--seed`.
    public var seed: UInt64

    /// Token counting and truncation: the generator's tokenizer, or words.
    public var tokenizer: PromptTokenizer

    /// - Throws: ``GenerationError/missingFewShotExamples(template:)`` or
    ///   ``GenerationError/notEnoughExamples(path:available:requested:)`` for a dynamic
    ///   template without enough examples.
    public init(
        template: PromptTemplate, examples: [FewShotExample] = [], examplesPath: String = "",
        numExamples: Int = 3, maxDocTokens: Int = 256, maxQueryTokens: Int = 200,
        maxPromptTokens: Int = 2048, maxNewTokens: Int = 64, seed: UInt64 = 1,
        tokenizer: PromptTokenizer = .words
    ) throws {
        if template.mode == .dynamic {
            if examples.isEmpty && examplesPath.isEmpty {
                throw GenerationError.missingFewShotExamples(template: template.name)
            }
            if examples.count < numExamples {
                throw GenerationError.notEnoughExamples(
                    path: examplesPath, available: examples.count, requested: numExamples)
            }
        }
        self.template = template
        self.examples = examples
        self.numExamples = numExamples
        self.maxDocTokens = maxDocTokens
        self.maxQueryTokens = maxQueryTokens
        self.maxPromptTokens = maxPromptTokens
        self.maxNewTokens = maxNewTokens
        self.seed = seed
        self.tokenizer = tokenizer
    }

    /// The prompt for `document`, the `position`-th sampled document (which seeds the
    /// choice of examples).
    ///
    /// - Throws: ``GenerationError/promptTooLong(tokens:limit:detail:)`` when the prompt
    ///   does not fit; the run skips the document and counts it.
    public func build(document: String, position: Int) throws -> BuiltPrompt {
        var drawn: [FewShotExample] = []
        if template.mode == .dynamic {
            var generator = SeededGenerator(
                seed: RandomSampling.derivedSeed(seed, 1, UInt64(position)))
            drawn = RandomSampling.sample(numExamples, from: examples.count, using: &generator)
                .map { examples[$0] }
        }
        let text = render(document: document, examples: drawn)
        if maxPromptTokens > 0 {
            let tokens = tokenizer.count(text)
            if tokens + maxNewTokens > maxPromptTokens {
                throw GenerationError.promptTooLong(
                    tokens: tokens, limit: maxPromptTokens,
                    detail: tokenizer.isWords ? "counted in words: no tokenizer is known" : "")
            }
        }
        return BuiltPrompt(text: text, exampleIDs: drawn.map(\.id))
    }

    /// The prompt for `document` with these examples in this order: each example rendered
    /// with its (cut) document and query, concatenated with nothing in between, then the
    /// target rendered with an empty query and right-stripped.
    public func render(document: String, examples: [FewShotExample]) -> String {
        var text = ""
        for example in examples {
            text += template.render(
                document: cut(example.document, maxDocTokens),
                query: cut(example.query, maxQueryTokens))
        }
        return text + template.renderTarget(document: cut(document, maxDocTokens))
    }

    private func cut(_ text: String, _ limit: Int) -> String {
        limit > 0 ? tokenizer.truncate(text, limit) : text
    }
}

/// How prompts are measured and documents cut: with the generator's tokenizer when the backend
/// has one, else by whitespace-separated words (``WordTruncation``).
public struct PromptTokenizer: Sendable {
    let count: @Sendable (String) -> Int
    let truncate: @Sendable (String, Int) -> String
    /// Whether this counts words rather than tokens.
    public let isWords: Bool

    public init(
        count: @escaping @Sendable (String) -> Int,
        truncate: @escaping @Sendable (String, Int) -> String
    ) {
        self.count = count
        self.truncate = truncate
        self.isWords = false
    }

    private init(words: Void) {
        count = { WordTruncation.count($0) }
        truncate = { WordTruncation.truncate($0, maxWords: $1) }
        isWords = true
    }

    /// Words as tokens.
    public static let words = PromptTokenizer(words: ())

    /// The backend's tokenizer when it has one (probed with an empty string), else words.
    public static func of(_ backend: some GenerationBackend) -> PromptTokenizer {
        guard backend.tokenCount("") != nil else { return .words }
        return PromptTokenizer(
            count: { backend.tokenCount($0) ?? WordTruncation.count($0) },
            truncate: {
                backend.truncated($0, maxTokens: $1) ?? WordTruncation.truncate($0, maxWords: $1)
            })
    }
}
