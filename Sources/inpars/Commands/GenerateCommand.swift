import ArgumentParser
import Foundation
import InparsCore
import InparsGeneration
import InparsHTTP
import InparsModels
import InparsTensor

/// `inpars generate`: synthetic queries for sampled corpus documents, with per-token log-probs.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate synthetic queries (with log-probs) for sampled corpus documents.",
        discussion: """
            Prompts an OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama, OpenAI; \
            --api-base, with --model the server's model name) or a model folder run in process \
            (--model DIR without --api-base; config.json's model_type picks the family: T5, \
            FLAN-T5 and mT5 today) with a few-shot template and each sampled document, and \
            writes one JSONL line per query (doc_id, text, query, log_probs, prompt_text, \
            fewshot_examples, model, backend, query_index) in sample order. Rerunning the same \
            command resumes: generations already in --output are kept, a torn last line is \
            dropped. Generations that fail after all retries are listed and the command exits \
            1; rerun to retry them. See Docs/generation.md.
            """)

    // MARK: Data

    @OptionGroup var corpus: CorpusOptions

    @Option(
        help:
            "Output JSONL (appended to on resume; a manifest <output>.manifest.json sits beside it)."
    )
    var output: String

    @Option(help: "Documents to sample without replacement (clipped to the corpus size).")
    var maxGenerations: Int = 100_000

    @OptionGroup var seed: SeedOptions

    @Option(help: "Queries to generate per document.")
    var numQueriesPerDoc: Int = 1

    @OptionGroup var resume: ResumeOptions

    // MARK: Prompt

    @Option(
        help: """
            Template: inpars, inpars-gbq, promptagator-<dataset>, or a file with {document} and \
            {query} placeholders.
            """)
    var prompt: String = "inpars"

    @Option(
        help:
            "JSONL of {\"query\", \"document\"} examples for dynamic templates (promptagator-*, or a file template)."
    )
    var fewshotExamples: String?

    @Option(help: "Examples drawn per prompt from --fewshot-examples.")
    var numExamples: Int = 3

    @Option(
        help:
            "Documents are cut to this many tokens (words when the tokenizer is unknown; 0 = no cut)."
    )
    var maxDocTokens: Int = 256

    @Option(
        help:
            "Prompts longer than this (plus --max-new-tokens for servers) are skipped and counted (0 = no check; default 2048, 512 for T5)."
    )
    var maxPromptTokens: Int?

    // MARK: Model

    @Option(
        help:
            "OpenAI-compatible server, e.g. http://localhost:8000/v1 (omit to run a --model folder in process)."
    )
    var apiBase: String?

    @Option(
        help: ArgumentHelp(
            "With --api-base: the model name sent to the server; without: a model folder run in process (config.json's model_type picks the family: \(ModelRegistry.supportedModelTypes))."
        ))
    var model: String

    @Flag(help: "Use /chat/completions (the prompt as one user message) instead of /completions.")
    var chat = false

    @Option(
        help: "Environment variable holding the API key (default OPENAI_API_KEY; no key if unset).")
    var apiKeyEnv: String?

    @Option(help: "Sampling temperature (0 = greedy, as InPars).")
    var temperature: Double = 0

    @Option(help: "Nucleus sampling mass.")
    var topP: Double = 1

    @Option(help: "Top-k sampling (in-process models only; 0 = off).")
    var topK: Int = 0

    @Option(help: "Most tokens generated per query; the query ends at the first newline.")
    var maxNewTokens: Int = 64

    // MARK: Runtime

    @Option(help: "Requests in flight.")
    var concurrency: Int = 8

    @Option(help: "Per-request time limit, seconds.")
    var timeout: Double = 60

    @Option(help: "Retries per request on 429, 5xx, connection errors and timeouts.")
    var maxRetries: Int = 5

    @OptionGroup var batch: BatchSizeOptions
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        if maxGenerations < 1 { throw ValidationError("--max-generations must be at least 1.") }
        if numQueriesPerDoc < 1 {
            throw ValidationError("--num-queries-per-doc must be at least 1.")
        }
        if numExamples < 1 { throw ValidationError("--num-examples must be at least 1.") }
        if maxDocTokens < 0 || (maxPromptTokens ?? 0) < 0 {
            throw ValidationError("--max-doc-tokens and --max-prompt-tokens must be ≥ 0.")
        }
        if maxNewTokens < 1 { throw ValidationError("--max-new-tokens must be at least 1.") }
        if temperature < 0 { throw ValidationError("--temperature must be ≥ 0.") }
        if !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1].") }
        if topK < 0 { throw ValidationError("--top-k must be ≥ 0.") }
        if concurrency < 1 { throw ValidationError("--concurrency must be at least 1.") }
        if !(timeout > 0) { throw ValidationError("--timeout must be positive.") }
        if maxRetries < 0 { throw ValidationError("--max-retries must be ≥ 0.") }
        if output.hasSuffix(".gz") {
            throw ValidationError(
                "--output cannot be gzip-compressed (it is appended to on resume).")
        }
        guard let apiBase else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory),
                isDirectory.boolValue
            else {
                throw ValidationError(
                    "--api-base is required unless --model is a T5 checkpoint folder or another model folder run in process (model_type \(ModelRegistry.supportedModelTypes)); '\(model)' is not a directory."
                )
            }
            if chat {
                throw ValidationError(
                    "--chat needs --api-base (a model run in process has no chat endpoint).")
            }
            return
        }
        if topK != 0 {
            throw ValidationError(
                "--top-k is not available with --api-base (the OpenAI API has none).")
        }
        guard let url = URL(string: apiBase), let scheme = url.scheme?.lowercased(),
            ["http", "https"].contains(scheme), url.host != nil
        else {
            throw ValidationError(
                "--api-base must be an http:// or https:// URL, got '\(apiBase)'.")
        }
    }

    func run() async throws {
        if let apiBase {
            try await run(
                backend: makeServerBackend(apiBase: apiBase),
                info: ["api_base": apiBase, "concurrency": String(concurrency)])
        } else {
            BLAS.threads = threads.count
            let directory = URL(fileURLWithPath: model)
            try await run(
                backend: InProcessGeneration.load(directory: directory, batchSize: batch.batchSize),
                info: [
                    "model_path": directory.standardizedFileURL.path,
                    "batch_size": String(batch.batchSize), "threads": String(threads.count),
                ])
        }
    }

    private func makeServerBackend(apiBase: String) throws -> OpenAIBackend {
        let stderr = StandardErrorProgressSink()
        let keyVariable = apiKeyEnv ?? "OPENAI_API_KEY"
        let apiKey = ProcessInfo.processInfo.environment[keyVariable]
        if apiKeyEnv != nil && apiKey == nil {
            throw GenerationError.missingAPIKey(variable: keyVariable)
        }
        return OpenAIBackend(
            configuration: OpenAIConfiguration(
                apiBase: apiBase, model: model, chat: chat, apiKey: apiKey, timeout: timeout,
                retry: RetryPolicy(maxAttempts: maxRetries + 1), concurrency: concurrency),
            onRetry: RetryNotice(sink: stderr).note)
    }

    private func run(backend: some GenerationBackend, info: [String: String]) async throws {
        let stderr = StandardErrorProgressSink()
        if numQueriesPerDoc > 1 && temperature == 0 && topK != 1 {
            stderr.emit(
                "warning: with --temperature 0 the \(numQueriesPerDoc) queries of a document"
                    + " will usually be identical; set --temperature for diverse queries",
                transient: false)
        }
        let examples =
            try fewshotExamples.map { try FewShotExample.read(URL(fileURLWithPath: $0)) } ?? []
        let template = try PromptTemplate.load(prompt, dynamic: fewshotExamples != nil)
        let prompts = try PromptBuilder(
            template: template, examples: examples, examplesPath: fewshotExamples ?? "",
            numExamples: numExamples, maxDocTokens: maxDocTokens,
            maxPromptTokens: maxPromptTokens ?? backend.defaultMaxPromptTokens,
            maxNewTokens: backend.generatedTokensShareContext ? maxNewTokens : 0,
            seed: seed.seed,
            tokenizer: .of(backend))
        let options = GenerateOptions(
            corpus: corpus.url, output: URL(fileURLWithPath: output),
            maxGenerations: maxGenerations, seed: seed.seed, queriesPerDocument: numQueriesPerDoc,
            maxNewTokens: maxNewTokens, temperature: temperature, topP: topP,
            topK: topK > 0 ? topK : nil, overwrite: resume.overwrite, info: info,
            shard: resume.shard)

        let summary = try await GenerateRun.run(
            options: options, prompts: prompts, backend: backend, progress: stderr)

        stderr.emit(
            "generate: \(summary.sampledDocuments) documents sampled; wrote \(summary.written),"
                + " already done \(summary.alreadyDone), skipped \(summary.skipped) (prompt too"
                + " long), failed \(summary.failures.count), retries \(summary.retries) → \(output)",
            transient: false)
        if !summary.failures.isEmpty {
            for failure in summary.failures.prefix(20) {
                stderr.emit(
                    "  failed: doc \(failure.docID) query \(failure.queryIndex):"
                        + " \(failure.error.localizedDescription)", transient: false)
            }
            if summary.failures.count > 20 {
                stderr.emit("  … and \(summary.failures.count - 20) more", transient: false)
            }
            throw GenerationError.incompleteRun(failed: summary.failures.count, output: output)
        }
    }
}

/// Tells the user why requests are being retried, at most once every 10 seconds (the progress
/// line counts every retry).
///
/// Invariant behind `@unchecked Sendable`: `lastNote` is only touched under `lock`.
private final class RetryNotice: @unchecked Sendable {
    private let lock = NSLock()
    private var lastNote = -Double.infinity
    private let sink: ProgressSink

    init(sink: ProgressSink) { self.sink = sink }

    var note: @Sendable (RetryEvent) -> Void {
        { [self] event in
            let now = ProcessInfo.processInfo.systemUptime
            let due = lock.withLock {
                guard now - lastNote >= 10 else { return false }
                lastNote = now
                return true
            }
            if due {
                sink.emit(
                    "generate: retrying a request in \(String(format: "%.1f", event.delay)) s after"
                        + " attempt \(event.attempt): \(event.error.localizedDescription)",
                    transient: false)
            }
        }
    }
}
