import Foundation
import InparsCore

/// The `generate` stage: sample documents, build prompts, ask a backend, write queries.
///
/// Documents are drawn without replacement with `--seed` (prefix-stable, so a larger
/// `--max-generations` extends a run). Each (document, query index) pair is one generation.
/// Generations go to the backend in batches of `maxBatchSize`, `maxConcurrentCalls` batches in
/// flight; results are written as they arrive but in sample order (a reorder buffer holds
/// early arrivals), one line each, so an interrupted run leaves a prefix of the final file.
///
/// Resume: generations already in the output (by `doc_id` and `query_index`) are not redone; a
/// torn last line is cut off first. A manifest beside the output (``InparsCore/OutputManifest``,
/// command `generate`) pins the settings and the corpus; a rerun with other settings refuses
/// unless `overwrite` is set. When every generation is in, the manifest is marked complete
/// (with the output's size and checksum, which `inpars merge` checks) and, should retried
/// generations have been appended after later ones, the file is rewritten in sample order, so
/// it is byte-identical to an uninterrupted run.
///
/// Shards (`options.shard`): a contiguous block of the sampled documents (all their queries);
/// prompts, few-shot draws and seeds use each document's position in the whole sample, so the
/// shards' outputs concatenated in order are the unsharded output.
///
/// Failures: a prompt too long for the model is skipped and counted; a generation whose
/// request fails after all retries is counted, listed in the summary and not written (a rerun
/// retries it); an error that would repeat for every request (bad key, unknown model, a server
/// without log-probs) stops the run after writing what is complete.
public enum GenerateRun {
    /// Runs the stage.
    ///
    /// - Parameters:
    ///   - prompts: the template, examples and length limits.
    ///   - backend: the model.
    ///   - progress: where progress and notes go (stderr in the CLI).
    /// - Returns: counts and failures; the caller decides the exit status.
    /// - Throws: corpus, output and manifest errors, and errors that stop the run.
    public static func run(
        options: GenerateOptions, prompts: PromptBuilder, backend: some GenerationBackend,
        progress sink: ProgressSink
    ) async throws -> GenerateSummary {
        let plan = try prepare(
            options: options, prompts: prompts, backendName: backend.backendName,
            modelName: backend.modelName)
        return try await run(
            plan: plan, options: options, prompts: prompts, backend: backend, progress: sink)
    }

    /// Runs a prepared plan.
    static func run(
        plan: Plan, options: GenerateOptions, prompts: PromptBuilder,
        backend: some GenerationBackend, progress sink: ProgressSink
    ) async throws -> GenerateSummary {
        var summary = plan.summary
        let reporter = GenerationProgress(total: plan.items.count, sink: sink)
        for note in plan.notes(output: options.output) { reporter.message(note) }

        let output = try GenerationOutputFile(appendingTo: options.output)
        var runner = Runner(
            options: options, prompts: prompts, documents: plan.documents,
            firstPosition: plan.firstPosition, items: plan.items,
            backendName: backend.backendName, modelName: backend.modelName,
            batchSize: max(1, backend.maxBatchSize), output: output, reporter: reporter)
        do {
            try await runner.run(backend: backend, concurrency: max(1, backend.maxConcurrentCalls))
        } catch {
            try? output.close()
            reporter.finish()
            throw error
        }
        try output.close()
        reporter.finish()
        if runner.failures.isEmpty {
            try finish(plan.manifest, documents: plan.documents, options: options)
        }
        summary.written = reporter.written
        summary.skipped = reporter.skipped
        summary.retries = reporter.retries
        summary.failures = runner.failures
        summary.seconds = reporter.elapsed
        return summary
    }

    /// What a run (or a batch export) does: this shard's sampled documents and the
    /// generations the output still lacks.
    struct Plan {
        var documents: [Document]
        /// Sample position of `documents[0]`.
        var firstPosition: Int
        var items: [WorkItem]
        var manifest: OutputManifest
        /// Counts known before any work.
        var summary: GenerateSummary

        /// Notes for people about a torn line and the generations already done.
        func notes(output: URL) -> [String] {
            var notes: [String] = []
            if summary.tornBytesDropped > 0 {
                notes.append(
                    "generate: dropped a torn last line (\(summary.tornBytesDropped) bytes) from"
                        + " '\(output.path)'")
            }
            if summary.alreadyDone > 0 {
                notes.append(
                    "generate: resuming: \(summary.alreadyDone) of \(summary.plannedGenerations)"
                        + " generations already in '\(output.path)'")
            }
            return notes
        }
    }

    /// Samples the documents, checks (or starts) the manifest, scans the output.
    static func prepare(
        options: GenerateOptions, prompts: PromptBuilder, backendName: String, modelName: String
    ) throws -> Plan {
        let manifestURL = OutputManifest.url(for: options.output)
        try outputKind.check(options.output, inputs: [options.corpus])
        if options.overwrite {
            // Only a manifest of ours is removed (reading throws for anything else).
            if try OutputManifest.read(manifestURL) != nil {
                try? FileManager.default.removeItem(at: options.output)
                try? FileManager.default.removeItem(at: manifestURL)
            }
        }

        // Sample the documents: count, draw positions, then collect this shard's in draw order.
        let corpusCount = try countDocuments(options.corpus)
        let sampleSize = min(max(0, options.maxGenerations), corpusCount)
        var generator = SeededGenerator(seed: RandomSampling.derivedSeed(options.seed, 0, 0))
        let positions = RandomSampling.sample(sampleSize, from: corpusCount, using: &generator)
        let block = (options.shard ?? .whole).range(of: sampleSize)
        let documents = try collect(Array(positions[block]), from: options.corpus)

        // Check or write the manifest, then see what the output already has.
        var manifest = try makeManifest(
            options: options, prompts: prompts, backendName: backendName, modelName: modelName,
            corpusCount: corpusCount)
        manifest.shard?.items = sampleSize
        try checkManifest(manifest, at: manifestURL, output: options.output)
        let scan = try GenerationOutputFile.scan(options.output)
        manifest.state = .running
        try manifest.write(to: manifestURL)

        var summary = GenerateSummary()
        summary.sampledDocuments = documents.count
        summary.plannedGenerations = documents.count * options.queriesPerDocument
        summary.tornBytesDropped = scan.tornBytes
        var items: [WorkItem] = []
        items.reserveCapacity(summary.plannedGenerations)
        for (slot, document) in documents.enumerated() {
            for index in 0..<options.queriesPerDocument
            where !scan.done.contains(.init(docID: document.id, queryIndex: index)) {
                items.append(WorkItem(position: block.lowerBound + slot, queryIndex: index))
            }
        }
        summary.alreadyDone = summary.plannedGenerations - items.count
        return Plan(
            documents: documents, firstPosition: block.lowerBound, items: items,
            manifest: manifest, summary: summary)
    }

    /// Documents in a corpus file (checking ids are unique).
    static func countDocuments(_ url: URL) throws -> Int {
        let reader = try CorpusReader(url: url)
        var count = 0
        while try reader.next() != nil { count += 1 }
        try reader.requireDocuments()
        return count
    }

    /// The documents at `positions` (0-based corpus order), in the order of `positions`.
    static func collect(_ positions: [Int], from url: URL) throws -> [Document] {
        var slot: [Int: Int] = [:]
        slot.reserveCapacity(positions.count)
        for (order, position) in positions.enumerated() { slot[position] = order }
        var documents = [Document?](repeating: nil, count: positions.count)
        let reader = try CorpusReader(url: url, checkDuplicates: false)
        var position = 0
        while let document = try reader.next() {
            if let order = slot[position] { documents[order] = document }
            position += 1
        }
        return documents.map { $0! }
    }

    static func makeManifest(
        options: GenerateOptions, prompts: PromptBuilder, backendName: String, modelName: String,
        corpusCount: Int
    ) throws -> OutputManifest {
        var exampleHash = FNV1a()
        for example in prompts.examples {
            exampleHash.add(example.id)
            exampleHash.add(example.query)
            exampleHash.add(example.document)
        }
        var templateHash = FNV1a()
        templateHash.add(prompts.template.text)
        var settings: [String: String] = [
            "corpus_documents": String(corpusCount),
            "seed": String(options.seed),
            "num_queries_per_doc": String(options.queriesPerDocument),
            "prompt": prompts.template.name,
            "prompt_mode": prompts.template.mode.rawValue,
            "prompt_sha": templateHash.hex,
            "max_doc_tokens": String(prompts.maxDocTokens),
            "max_query_tokens": String(prompts.maxQueryTokens),
            "max_prompt_tokens": String(prompts.maxPromptTokens),
            "token_unit": prompts.tokenizer.isWords ? "words" : "tokenizer",
            "backend": backendName,
            "model": modelName,
            "max_new_tokens": String(options.maxNewTokens),
            "temperature": String(options.temperature),
            "top_p": String(options.topP),
            "top_k": options.topK.map(String.init) ?? "none",
        ]
        if prompts.template.mode == .dynamic {
            settings["num_examples"] = String(prompts.numExamples)
            settings["fewshot_examples"] = "\(prompts.examples.count) examples, \(exampleHash.hex)"
        }
        var info = options.info
        info["max_generations"] = String(options.maxGenerations)
        info["template"] = prompts.template.text
        return OutputManifest(
            command: "generate", settings: settings,
            inputs: ["corpus": try InputIdentity.of(options.corpus)], info: info,
            shard: options.shard)
    }

    /// After a run in which nothing failed: puts the lines in sample order if retried
    /// generations were appended late, and marks the manifest complete.
    static func finish(_ manifest: OutputManifest, documents: [Document], options: GenerateOptions)
        throws
    {
        var order: [GenerationOutputFile.Key] = []
        for document in documents {
            for index in 0..<options.queriesPerDocument {
                order.append(.init(docID: document.id, queryIndex: index))
            }
        }
        try GenerationOutputFile.putInOrder(options.output, order: order)
        var complete = manifest
        complete.state = .complete
        complete.outputs = [OutputManifest.mainRole: try InputIdentity.of(options.output)]
        try complete.write(to: OutputManifest.url(for: options.output))
    }

    static func checkManifest(_ manifest: OutputManifest, at url: URL, output: URL) throws {
        if let existing = try OutputManifest.read(url) {
            let differences = existing.differences(from: manifest)
            if !differences.isEmpty {
                throw GenerationError.manifestMismatch(path: output.path, differences: differences)
            }
        } else if let size = try? FileManager.default.attributesOfItem(atPath: output.path)[.size]
            as? Int, size > 0
        {
            throw GenerationError.manifestMismatch(
                path: output.path,
                differences: [
                    "it has no manifest '\(url.lastPathComponent)', so its settings are unknown"
                ])
        }
    }
}

/// One generation to do: the `position`-th sampled document, query `queryIndex`.
struct WorkItem: Sendable {
    var position: Int
    var queryIndex: Int
}

extension GenerateRun {
    /// What `generate` may append to or, with `--overwrite`, replace: a file with a manifest
    /// of ours beside it, or whose first line is a generation (a JSON object with `doc_id` and
    /// `query`, and without the `score` a filter output has).
    public static let outputKind = OutputKind(
        name: "an 'inpars generate' output", shape: .file
    ) { url in
        if let manifest = try? OutputManifest.read(OutputManifest.url(for: url)), manifest.isOurs {
            return true
        }
        guard let line = try? LineReader.firstNonBlankLine(of: url),
            let object = try? JSONLine.parseObject(line)
        else { return false }
        return object["doc_id"] != nil && object["query"] != nil && object["score"] == nil
    }
}
