import ArgumentParser
import Foundation
import InparsCore
import InparsHub
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
            FLAN-T5 and mT5 (t5, mt5), and decoder-only LMs such as Llama 2/3, TinyLlama, \
            SmolLM, Mistral, Qwen2/2.5 and Qwen3 (llama, mistral, qwen2, qwen3; safetensors in \
            f32, bf16 or f16; backend "local", with the static few-shot prefix computed once \
            and continuous batching)) with a few-shot template and each sampled document, and \
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
            "Prompts longer than this (plus --max-new-tokens for servers and decoder-only models) are skipped and counted (0 = no check; default 2048 with --api-base, the model's context for llama/mistral/qwen folders, no check for T5)."
    )
    var maxPromptTokens: Int?

    // MARK: Model

    @Option(
        help:
            "OpenAI-compatible server, e.g. http://localhost:8000/v1 (omit to run a --model folder in process); repeat for a fleet serving the same model: each request goes to the server with the fewest in flight, a failing server is rested."
    )
    var apiBase: [String] = []

    @Option(
        help:
            "Write the requests still missing from --output as an OpenAI batch file (JSONL for 'vllm run-batch' or the OpenAI Batch API) instead of sending them; --model is the model name."
    )
    var batchExport: String?

    @Option(
        help:
            "Read an OpenAI batch results file (of this command's --batch-export) into --output; failed lines are listed and left for the next export."
    )
    var batchImport: String?

    @Option(
        help: ArgumentHelp(
            "With --api-base: the model name sent to the server; without: a model folder or Hub id org/name[@revision] run in process (config.json's model_type picks the family: \(ModelRegistry.supportedModelTypes))."
        ))
    var model: String

    @OptionGroup var revision: RevisionOptions

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

    @Option(help: "Requests in flight (over all --api-base servers).")
    var concurrency: Int = 8

    @Option(help: "Per-request time limit, seconds.")
    var timeout: Double = 60

    @Option(help: "Retries per request on 429, 5xx, connection errors and timeouts.")
    var maxRetries: Int = 5

    @OptionGroup var batch: GenerationBatchOptions
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        if maxGenerations < 1 { throw ValidationError("--max-generations must be at least 1.") }
        try requireFlag("--num-queries-per-doc", numQueriesPerDoc, in: 1...Limits.queriesPerDocument)
        if numExamples < 1 { throw ValidationError("--num-examples must be at least 1.") }
        try requireFlag("--max-doc-tokens", maxDocTokens, in: 0...Limits.tokens)
        try requireFlag("--max-prompt-tokens", maxPromptTokens ?? 0, in: 0...Limits.tokens)
        try requireFlag("--max-new-tokens", maxNewTokens, in: 1...Limits.tokens)
        if temperature < 0 { throw ValidationError("--temperature must be ≥ 0.") }
        if !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1].") }
        if topK < 0 { throw ValidationError("--top-k must be ≥ 0.") }
        try requireFlag("--concurrency", concurrency, in: 1...Limits.batch)
        try requireFlag("--timeout", timeout, in: 0.001...1e6)
        try requireFlag("--max-retries", maxRetries, in: 0...1000)
        if output.hasSuffix(".gz") {
            throw ValidationError(
                "--output cannot be gzip-compressed (it is appended to on resume).")
        }
        if batchExport != nil && batchImport != nil {
            throw ValidationError("--batch-export and --batch-import are two steps; give one.")
        }
        if (batchExport != nil || batchImport != nil) && !apiBase.isEmpty {
            throw ValidationError(
                "--batch-export and --batch-import replace --api-base (no requests are sent); drop it.")
        }
        let usesServers = !apiBase.isEmpty || batchExport != nil || batchImport != nil
        guard usesServers else {
            var isDirectory: ObjCBool = false
            let isFolder =
                FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory)
                && isDirectory.boolValue
            guard isFolder || (try? ModelLocator.reference(model, revision: revision.revision)) != nil
            else {
                throw ValidationError(
                    "--api-base is required unless --model is a T5 checkpoint folder or another model folder run in process (model_type \(ModelRegistry.supportedModelTypes)), or a Hub id (org/name); '\(model)' is neither."
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
        if precision.precision != .fp32 {
            throw ValidationError(
                "--precision applies to a model run in process; a server chooses its own (drop it).")
        }
        for base in apiBase {
            guard let url = URL(string: base), let scheme = url.scheme?.lowercased(),
                ["http", "https"].contains(scheme), url.host != nil
            else {
                throw ValidationError(
                    "--api-base must be an http:// or https:// URL, got '\(base)'.")
            }
        }
        if Set(apiBase).count != apiBase.count {
            throw ValidationError("--api-base names a server twice.")
        }
    }

    func run() async throws {
        Interrupts.install(
            message: "interrupted: the generations written so far stay in \(output); run the"
                + " same command again to resume.")
        let stderr = StandardErrorProgressSink()
        if let batchExport {
            let configuration = try serverConfiguration(apiBases: ["batch"])
            let summary = try GenerateRun.exportBatch(
                options: try options(info: ["batch_export": batchExport]),
                prompts: makePrompts(
                    defaultMaxPromptTokens: OpenAIConfiguration.defaultMaxPromptTokens,
                    sharesContext: true, tokenizer: .words),
                configuration: configuration, to: URL(fileURLWithPath: batchExport))
            stderr.emit(
                "generate: \(summary.sampledDocuments) documents sampled; exported \(summary.requests)"
                    + " requests to \(batchExport) (\(configuration.endpointPath)), already done"
                    + " \(summary.alreadyDone), skipped \(summary.skipped) (prompt too long). Run them"
                    + " (vllm run-batch -i \(batchExport) -o results.jsonl --model \(model), or the"
                    + " OpenAI Batch API), then rerun this command with --batch-import results.jsonl"
                    + " instead of --batch-export.", transient: false)
        } else if let batchImport {
            let (summary, unreadable) = try await GenerateRun.importBatch(
                options: try options(info: ["batch_import": batchImport]),
                prompts: makePrompts(
                    defaultMaxPromptTokens: OpenAIConfiguration.defaultMaxPromptTokens,
                    sharesContext: true, tokenizer: .words),
                configuration: try serverConfiguration(apiBases: ["batch"]),
                results: URL(fileURLWithPath: batchImport), progress: stderr)
            for (line, reason) in unreadable.prefix(10) {
                stderr.emit("  skipped line \(line) of \(batchImport): \(reason)", transient: false)
            }
            if unreadable.count > 10 {
                stderr.emit("  … and \(unreadable.count - 10) more unreadable lines", transient: false)
            }
            try report(summary, hint: "export the missing generations again with --batch-export")
        } else if !apiBase.isEmpty {
            let backend = OpenAIBackend(
                configuration: try serverConfiguration(apiBases: apiBase),
                onRetry: RetryNotice(sink: stderr).note,
                onRest: { url, seconds in
                    stderr.emit(
                        "generate: \(url) failed 3 times in a row; resting it for \(Int(seconds)) s",
                        transient: false)
                })
            let info = [
                "api_base": apiBase.joined(separator: " "), "concurrency": String(concurrency),
            ]
            try await run(backend: backend, info: info) {
                if apiBase.count > 1 {
                    for endpoint in backend.endpointStatistics {
                        stderr.emit(
                            "generate: \(endpoint.url): \(endpoint.requests) requests,"
                                + " \(endpoint.failures) failed, rested \(endpoint.rests) times",
                            transient: false)
                    }
                }
            }
        } else {
            BLAS.threads = threads.count
            let directory = try revision.folder(model)
            let batchSize = try batch.batchSize ?? InProcessGeneration.defaultBatchSize(directory: directory)
            try await run(
                backend: InProcessGeneration.load(
                    directory: directory, batchSize: batchSize, precision: precision.chosen()),
                info: [
                    "model_path": directory.standardizedFileURL.path,
                    "batch_size": String(batchSize), "threads": String(threads.count),
                ])
        }
    }

    /// The servers' settings (for the batch routes, `apiBases` is a placeholder: no request is
    /// sent).
    private func serverConfiguration(apiBases: [String]) throws -> OpenAIConfiguration {
        let keyVariable = apiKeyEnv ?? "OPENAI_API_KEY"
        let apiKey = ProcessInfo.processInfo.environment[keyVariable]
        if apiKeyEnv != nil && apiKey == nil {
            throw GenerationError.missingAPIKey(variable: keyVariable)
        }
        return OpenAIConfiguration(
            apiBases: apiBases, model: model, chat: chat, apiKey: apiKey, timeout: timeout,
            retry: RetryPolicy(maxAttempts: maxRetries + 1), concurrency: concurrency)
    }

    /// The prompt builder, for a generator with these properties.
    private func makePrompts(
        defaultMaxPromptTokens: Int, sharesContext: Bool, tokenizer: PromptTokenizer
    ) throws -> PromptBuilder {
        let examples =
            try fewshotExamples.map { try FewShotExample.read(URL(fileURLWithPath: $0)) } ?? []
        let template = try PromptTemplate.load(prompt, dynamic: fewshotExamples != nil)
        return try PromptBuilder(
            template: template, examples: examples, examplesPath: fewshotExamples ?? "",
            numExamples: numExamples, maxDocTokens: maxDocTokens,
            maxPromptTokens: maxPromptTokens ?? defaultMaxPromptTokens,
            maxNewTokens: sharesContext ? maxNewTokens : 0,
            seed: seed.seed, tokenizer: tokenizer)
    }

    /// The run's options.
    private func options(info: [String: String]) throws -> GenerateOptions {
        GenerateOptions(
            corpus: try corpus.url, output: URL(fileURLWithPath: output),
            maxGenerations: maxGenerations, seed: seed.seed, queriesPerDocument: numQueriesPerDoc,
            maxNewTokens: maxNewTokens, temperature: temperature, topP: topP,
            topK: topK > 0 ? topK : nil, overwrite: resume.overwrite, info: info,
            shard: resume.shard)
    }

    private func run(
        backend: some GenerationBackend, info: [String: String],
        afterwards: () -> Void = {}
    ) async throws {
        let stderr = StandardErrorProgressSink()
        if numQueriesPerDoc > 1 && temperature == 0 && topK != 1 {
            stderr.emit(
                "warning: with --temperature 0 the \(numQueriesPerDoc) queries of a document"
                    + " will usually be identical; set --temperature for diverse queries",
                transient: false)
        }
        let prompts = try makePrompts(
            defaultMaxPromptTokens: backend.defaultMaxPromptTokens,
            sharesContext: backend.generatedTokensShareContext, tokenizer: .of(backend))
        let summary = try await GenerateRun.run(
            options: try options(info: info), prompts: prompts, backend: backend, progress: stderr)
        afterwards()
        try report(summary, hint: nil, maxPromptTokens: prompts.maxPromptTokens)
    }

    /// The summary line, the failures, and the exit status.
    private func report(
        _ summary: GenerateSummary, hint: String?, maxPromptTokens: Int? = nil
    ) throws {
        let stderr = StandardErrorProgressSink()
        stderr.emit(
            "generate: \(summary.sampledDocuments) documents sampled; wrote \(summary.written),"
                + " already done \(summary.alreadyDone), skipped \(summary.skipped) (prompt too"
                + " long), failed \(summary.failures.count), retries \(summary.retries) → \(output)"
                + resume.shardNote,
            transient: false)
        guard !summary.failures.isEmpty else {
            if let maxPromptTokens { try summary.check(maxPromptTokens: maxPromptTokens) }
            return
        }
        for failure in summary.failures.prefix(20) {
            stderr.emit(
                "  failed: doc \(failure.docID) query \(failure.queryIndex):"
                    + " \(failure.error.localizedDescription)", transient: false)
        }
        if summary.failures.count > 20 {
            stderr.emit("  … and \(summary.failures.count - 20) more", transient: false)
        }
        if let hint { stderr.emit("generate: \(hint)", transient: false) }
        throw GenerationError.incompleteRun(failed: summary.failures.count, output: output)
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
