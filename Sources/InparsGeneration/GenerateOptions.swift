import Foundation
import InparsCore

/// What to generate: corpus, sample, output and decoding settings of a `generate` run.
public struct GenerateOptions: Sendable {
    /// The corpus (BEIR JSONL or TSV, optionally gzip-compressed).
    public var corpus: URL
    /// The output JSONL (plain text; it is appended to on resume).
    public var output: URL
    /// Documents to sample without replacement (clipped to the corpus size).
    public var maxGenerations: Int
    /// Seeds the document sample, the few-shot draws and each request's sampling seed.
    public var seed: UInt64
    /// Queries generated per document.
    public var queriesPerDocument: Int
    /// Generation budget per query, in tokens.
    public var maxNewTokens: Int
    /// 0 = greedy.
    public var temperature: Double
    public var topP: Double
    /// Top-k sampling for backends that have it (in-process models).
    public var topK: Int?
    /// Discard an existing output and its manifest instead of resuming.
    public var overwrite: Bool
    /// Recorded in the manifest but not compared on resume (server URL, concurrency, ...).
    public var info: [String: String]
    /// `--shard i/N`: a contiguous block of the sampled documents (`nil`: all of them).
    public var shard: Shard?

    public init(
        corpus: URL, output: URL, maxGenerations: Int = 100_000, seed: UInt64 = 1,
        queriesPerDocument: Int = 1, maxNewTokens: Int = 64, temperature: Double = 0,
        topP: Double = 1, topK: Int? = nil, overwrite: Bool = false, info: [String: String] = [:],
        shard: Shard? = nil
    ) {
        self.corpus = corpus
        self.output = output
        self.maxGenerations = maxGenerations
        self.seed = seed
        self.queriesPerDocument = queriesPerDocument
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.overwrite = overwrite
        self.info = info
        self.shard = shard
    }
}

/// What a `generate` run did.
public struct GenerateSummary: Sendable, Equatable {
    /// Documents in the sample.
    public var sampledDocuments = 0
    /// Generations the sample calls for (documents × queries per document).
    public var plannedGenerations = 0
    /// Generations found in the output from earlier runs (not redone).
    public var alreadyDone = 0
    /// Generations written by this run.
    public var written = 0
    /// Generations skipped because the prompt was too long.
    public var skipped = 0
    /// Generations that failed after all retries (not written; a rerun retries them).
    public var failures: [GenerationFailure] = []
    /// Retries spent.
    public var retries = 0
    /// Bytes of a torn last line dropped from the output before resuming.
    public var tornBytesDropped = 0
    /// Wall time of the generation phase, seconds.
    public var seconds = 0.0

    public init() {}

    /// Throws when the run skipped most of what it tried (prompts over the length limit), so a
    /// run that wrote little or nothing never passes for a finished one.
    ///
    /// - Parameter maxPromptTokens: the limit in force, named in the message.
    /// - Throws: ``GenerationError/mostlySkipped(skipped:attempted:limit:)``.
    public func check(maxPromptTokens: Int) throws {
        let attempted = plannedGenerations - alreadyDone
        if attempted > 0 && skipped * 2 > attempted {
            throw GenerationError.mostlySkipped(
                skipped: skipped, attempted: attempted, limit: maxPromptTokens)
        }
    }
}

/// A generation that failed for good.
public struct GenerationFailure: Sendable, Equatable {
    public var docID: String
    public var queryIndex: Int
    public var error: GenerationError
}
