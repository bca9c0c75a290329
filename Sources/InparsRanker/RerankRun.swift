import Foundation
import InparsCore

/// The `rerank` stage end to end: resumable, shardable, written atomically.
///
/// Work items are the run's queries in first-seen order (with `shard`, a contiguous block of
/// them). Each query's reranked lines are appended to the partial file as soon as they are
/// scored and committed in the manifest (``ResumableOutput``); after a kill the same command
/// continues at the first uncommitted query, so no score is formatted twice and the output is
/// byte-identical to an uninterrupted run. A shard's output is its block of the run's lines, so
/// `inpars merge` concatenates shards into the unsharded output.
public struct RerankRun {
    /// The first-stage run, the query file and the corpus.
    public var run: URL
    public var queries: URL
    public var corpus: URL
    /// The model folder (fingerprinted in the manifest).
    public var model: URL
    /// The output run.
    public var output: URL
    /// Entries per query to rescore.
    public var depth: Int
    /// Scorer settings (`batchSize` changes scores only in float rounding: compared on
    /// resume, not part of the run id; see ``InparsCore/OutputManifest``).
    public var scorerOptions: ScorerOptions
    /// The run tag; `nil`: the scorer's name.
    public var tag: String?
    /// MaxP passages for long documents (`--segment-length`, `--segment-stride`); `nil`: each
    /// document is scored whole (cut to the scorer's maximum length).
    public var segmentation: Segmentation?
    /// `--shard i/N`; `nil`: the whole job, unsharded.
    public var shard: Shard?
    /// Start over instead of resuming or refusing.
    public var overwrite = false
    /// OpenBLAS threads (compared on resume like the batch size).
    public var threads = 1
    /// Recorded in the manifest only.
    public var info: [String: String] = [:]

    public init(
        run: URL, queries: URL, corpus: URL, model: URL, output: URL, depth: Int,
        scorerOptions: ScorerOptions, tag: String? = nil
    ) {
        self.run = run
        self.queries = queries
        self.corpus = corpus
        self.model = model
        self.output = output
        self.depth = depth
        self.scorerOptions = scorerOptions
        self.tag = tag
    }

    /// What the output is made from: the settings that change its bytes and the inputs.
    public func manifest() throws -> OutputManifest {
        var settings = [
            "depth": String(depth),
            "max_length": String(scorerOptions.maxLength),
            "labels": scorerOptions.labels?.rawValue ?? "auto",
            "precision": scorerOptions.precision.rawValue,
            "tag": tag ?? "(the model's name)",
        ]
        if let segmentation {  // only when set, so earlier outputs keep their run id
            settings["segment_length"] = String(segmentation.length)
            settings["segment_stride"] = String(segmentation.stride)
        }
        return OutputManifest(
            command: "rerank",
            settings: settings,
            inputs: [
                "run": try InputIdentity.of(run), "queries": try InputIdentity.of(queries),
                "corpus": try InputIdentity.of(corpus), "model": try InputIdentity.of(model),
            ],
            rounding: ["threads": String(threads), "batch_size": String(scorerOptions.batchSize)],
            info: info, shard: shard)
    }

    /// What a run did.
    public struct Outcome {
        public var summary: RerankSummary
        /// The output was complete before this run: nothing was done.
        public var wasComplete: Bool
        /// The scorer's ``RelevanceScorer/details`` (`nil` when it was not loaded).
        public var scorerDetails: String?
    }

    /// Reranks (or resumes, or finds the output complete).
    ///
    /// - Parameters:
    ///   - loadScorer: loads the model; not called when the output is already complete.
    ///   - sink: progress and notes (stderr in the CLI).
    public func run(
        loadScorer: () throws -> any RelevanceScorer, sink: ProgressSink
    ) throws -> Outcome {
        try RelevanceScorers.check(directory: model)
        let resumable = try ResumableOutput<RerankSummary>(
            outputs: [ResumableOutput<RerankSummary>.main: output],
            kinds: [ResumableOutput<RerankSummary>.main: .trecRun], inputs: [run, queries, corpus],
            manifest: try manifest(), overwrite: overwrite)
        if let note = resumable.startNote(label: "rerank", unit: "queries") {
            sink.emit(note, transient: false)
        }
        if resumable.isComplete {
            return Outcome(summary: resumable.summary, wasComplete: true, scorerDetails: nil)
        }
        let loaded = try loadScorer()
        let scorer = segmentation.map { SegmentedScorer(loaded, segmentation: $0) } ?? loaded
        let input = try RerankingInput.read(
            run: run, queries: queries, corpus: corpus, shard: shard ?? .whole,
            progress: ProgressReporter(label: "corpus documents read", sink: sink))
        let queryIds = input.run.queryIds
        let start = resumable.itemsAtStart
        guard start <= queryIds.count else {
            throw InparsCoreError.cannotResume(
                path: output.path,
                reason: "its manifest records \(start) queries done but the run has"
                    + " \(queryIds.count); rerun with --overwrite")
        }
        let reranker = try RunReranker(topK: depth)
        let remaining = input.run.restricted(to: queryIds[start...])
        let progress = ProgressReporter(
            label: "pairs scored",
            total: reranker.pairCount(
                run: remaining, documents: input.documents, queries: input.queries),
            sink: sink)
        let tag = self.tag ?? scorer.name
        var summary = resumable.summary
        for position in start..<queryIds.count {
            let queryId = queryIds[position]
            var truncated = 0
            var (list, counts) = try reranker.rerank(
                queryId: queryId, entries: input.run.entries[queryId]!,
                query: input.queries[queryId], documents: input.documents
            ) { query, texts in
                let scored = try scorer.score(
                    texts.map { ScoringPair(query: query, document: $0) },
                    progress: { progress.advance(by: $0) })
                truncated += scored.truncatedDocuments
                return scored.scores
            }
            counts.truncatedDocuments = truncated
            var text = ""
            for entry in list { text += Run.line(entry, tag: tag, decimals: nil) }
            list.removeAll()
            try resumable.append(text)
            summary.add(counts)
            try resumable.commit(items: position + 1, summary: summary)
        }
        progress.finish()
        // A shard is checked as part of the whole run, by 'inpars merge' (one shard may hold
        // the few unknown queries, or none at all).
        if shard == nil { try summary.check(queriesPath: queries.path, corpusPath: corpus.path) }
        try resumable.finish(items: queryIds.count, summary: summary)
        return Outcome(summary: summary, wasComplete: false, scorerDetails: scorer.details)
    }
}
