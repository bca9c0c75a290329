import Foundation
import InparsCore

/// The dispatch loop of ``GenerateRun``: bounded fan-out, reorder buffer, in-order writes.
struct Runner {
    let options: GenerateOptions
    let prompts: PromptBuilder
    /// The sampled documents of this run's block, from sample position `firstPosition` on.
    let documents: [Document]
    let firstPosition: Int
    let items: [WorkItem]
    let backendName: String
    let modelName: String
    let batchSize: Int
    let output: GenerationOutputFile
    let reporter: GenerationProgress

    private(set) var failures: [GenerationFailure] = []
    private var buffer: [Int: Outcome] = [:]
    private var nextToDispatch = 0
    private var nextToWrite = 0

    init(
        options: GenerateOptions, prompts: PromptBuilder, documents: [Document],
        firstPosition: Int, items: [WorkItem], backendName: String, modelName: String, batchSize: Int,
        output: GenerationOutputFile, reporter: GenerationProgress
    ) {
        self.options = options
        self.prompts = prompts
        self.documents = documents
        self.firstPosition = firstPosition
        self.items = items
        self.backendName = backendName
        self.modelName = modelName
        self.batchSize = batchSize
        self.output = output
        self.reporter = reporter
    }

    /// The document of `item`.
    private func documentOf(_ item: WorkItem) -> Document { documents[item.position - firstPosition] }

    /// What became of one generation.
    enum Outcome {
        case generated(GenerationRecord)
        case skipped
        case failed(GenerationError)
    }

    /// A batch ready to send: item indices, their prompts and requests.
    struct Batch: Sendable {
        var indices: [Int]
        var prompts: [BuiltPrompt]
        var requests: [GenerationRequest]
    }

    /// A finished batch.
    struct Completion: Sendable {
        var batch: Batch
        var result: Result<[GenerationOutput], any Error>
    }

    mutating func run(backend: some GenerationBackend, concurrency: Int) async throws {
        // Dispatch no further ahead of the write position than this, so one stuck request
        // cannot make the reorder buffer grow without bound.
        let window = max(64, 8 * concurrency * batchSize)
        try await withThrowingTaskGroup(of: Completion.self) { group in
            var inFlight = 0
            func canLaunch() -> Bool {
                inFlight < concurrency && nextToDispatch < items.count
                    && nextToDispatch - nextToWrite < window
            }
            while canLaunch(), let batch = try nextBatch() {
                group.addTask { await Self.send(batch, to: backend) }
                inFlight += 1
            }
            try drain()
            while let completion = try await group.next() {
                inFlight -= 1
                if let fatal = try record(completion) {
                    group.cancelAll()
                    try drain()
                    throw fatal
                }
                try drain()
                while canLaunch(), let batch = try nextBatch() {
                    group.addTask { await Self.send(batch, to: backend) }
                    inFlight += 1
                }
                try drain()
            }
        }
        try drain()
    }

    private static func send(_ batch: Batch, to backend: some GenerationBackend) async -> Completion
    {
        do {
            let outputs = try await backend.generate(batch.requests)
            guard outputs.count == batch.requests.count else {
                throw GenerationError.malformedResponse(
                    url: backend.backendName,
                    reason: "\(outputs.count) outputs for \(batch.requests.count) prompts",
                    excerpt: "")
            }
            return Completion(batch: batch, result: .success(outputs))
        } catch {
            return Completion(batch: batch, result: .failure(error))
        }
    }

    /// Builds the next batch; prompts that are too long are settled as skipped on the way.
    private mutating func nextBatch() throws -> Batch? {
        var batch = Batch(indices: [], prompts: [], requests: [])
        while batch.indices.count < batchSize && nextToDispatch < items.count {
            let index = nextToDispatch
            nextToDispatch += 1
            let item = items[index]
            do {
                let (prompt, request) = try Self.request(
                    for: item, document: documentOf(item), prompts: prompts, options: options)
                batch.indices.append(index)
                batch.prompts.append(prompt)
                batch.requests.append(request)
            } catch let error as GenerationError {
                guard case .promptTooLong = error else { throw error }
                buffer[index] = .skipped
            }
        }
        return batch.indices.isEmpty ? nil : batch
    }

    /// The prompt and request of one generation: its few-shot draw and seed come from the
    /// document's sample position, so they are the same in any shard and any batch.
    ///
    /// - Throws: ``GenerationError/promptTooLong(tokens:limit:detail:)``.
    static func request(
        for item: WorkItem, document: Document, prompts: PromptBuilder, options: GenerateOptions
    ) throws -> (BuiltPrompt, GenerationRequest) {
        let prompt = try prompts.build(document: document.rerankText, position: item.position)
        let request = GenerationRequest(
            prompt: prompt.text, maxNewTokens: options.maxNewTokens,
            temperature: options.temperature, topP: options.topP, topK: options.topK,
            seed: RandomSampling.derivedSeed(
                options.seed, 2, UInt64(item.position), UInt64(item.queryIndex)),
            id: "\(document.id)#\(item.queryIndex)")
        return (prompt, request)
    }

    /// Files a completion's outcomes in the buffer; returns an error that stops the run.
    private mutating func record(_ completion: Completion) throws -> (any Error)? {
        let batch = completion.batch
        switch completion.result {
        case .success(let outputs):
            var retries = 0
            for (slot, index) in batch.indices.enumerated() {
                let item = items[index]
                let document = documentOf(item)
                let generated = outputs[slot]
                retries += generated.retries
                buffer[index] = .generated(
                    GenerationRecord(
                        docID: document.id, text: document.rerankText, query: generated.query,
                        logProbs: generated.logProbs, promptText: batch.prompts[slot].text,
                        fewshotExamples: batch.prompts[slot].exampleIDs, model: modelName,
                        backend: backendName, queryIndex: item.queryIndex))
            }
            reporter.record(retries: retries)
            return nil
        case .failure(let error as GenerationError):
            if error.stopsTheRun { return error }
            if case .request(_, let attempts, _) = error {
                reporter.record(retries: max(0, attempts - 1))
            }
            for index in batch.indices {
                if case .promptTooLong = error {
                    buffer[index] = .skipped
                } else {
                    buffer[index] = .failed(error)
                }
            }
            return nil
        case .failure(let error):
            return error
        }
    }

    /// Writes settled outcomes in order, up to the first unsettled one.
    private mutating func drain() throws {
        while let outcome = buffer.removeValue(forKey: nextToWrite) {
            let item = items[nextToWrite]
            nextToWrite += 1
            switch outcome {
            case .generated(let record):
                try output.append(record.jsonLine)
                reporter.record(written: 1)
            case .skipped:
                reporter.record(skipped: 1)
            case .failed(let error):
                let document = documentOf(item)
                failures.append(
                    GenerationFailure(docID: document.id, queryIndex: item.queryIndex, error: error)
                )
                reporter.record(failed: 1)
            }
        }
    }
}
