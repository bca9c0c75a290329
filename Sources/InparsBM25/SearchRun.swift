import Foundation
import InparsCore

/// Counts of a `search` output (kept in its manifest across restarts, added up over shards).
public struct SearchSummary: StageSummary, Equatable {
    /// Queries searched.
    public var queries = 0
    /// Run lines written.
    public var lines = 0

    public init() {}

    public mutating func add(_ other: SearchSummary) {
        queries += other.queries
        lines += other.lines
    }
}

/// The `search` stage into a file: resumable, shardable, written atomically.
///
/// Work items are the queries (after the `--qrels` filter) in file order; with `shard`, a
/// contiguous block of them. Each query's lines are appended to the partial file in query
/// order as the ordered parallel search hands them over, and committed about once a second
/// (``ResumableOutput``); a killed run continues at the first uncommitted query, and shards
/// concatenate (`inpars merge`) into the unsharded run.
public struct SearchRun: Sendable {
    public var index: URL
    public var queries: URL
    public var qrels: URL?
    public var output: URL
    public var options: BM25BatchSearch.Options
    public var tag: String
    public var skipBadLines = false
    /// `--shard i/N`; `nil`: every query.
    public var shard: Shard?
    public var overwrite = false

    public init(
        index: URL, queries: URL, qrels: URL?, output: URL, options: BM25BatchSearch.Options,
        tag: String
    ) {
        self.index = index
        self.queries = queries
        self.qrels = qrels
        self.output = output
        self.options = options
        self.tag = tag
    }

    /// The settings that change the run's bytes and the inputs' identities. Threads and the
    /// pruning strategy are recorded only: every query's hits are the same with any.
    public func manifest() throws -> OutputManifest {
        var inputs = [
            "index": try BM25Index.identity(of: index), "queries": try InputIdentity.of(queries),
        ]
        if let qrels { inputs["qrels"] = try InputIdentity.of(qrels) }
        return OutputManifest(
            command: "search",
            settings: [
                "k": String(options.k), "k1": String(options.parameters.k1),
                "b": String(options.parameters.b), "remove_query": String(options.removeQuery),
                "scores": options.scoreStyle.rawValue, "tag": tag,
                "skip_bad_lines": String(skipBadLines),
            ],
            inputs: inputs,
            info: [
                "threads": String(options.threads), "strategy": "\(options.strategy)",
            ],
            shard: shard)
    }

    /// Opens the output: fresh, resumed, or already complete (``ResumableOutput/isComplete``).
    ///
    /// The run is written and hashed on background queues only when the search leaves a core
    /// for them (`threads` below the active cores); when its threads take every core, the
    /// thread that receives the queries' lines in order writes and hashes them as it goes
    /// (the same CPU, without handing buffers to threads that would compete for the cores).
    public func open() throws -> ResumableOutput<SearchSummary> {
        try ResumableOutput(
            outputs: [OutputManifest.mainRole: output],
            kinds: [OutputManifest.mainRole: .trecRun], inputs: [queries] + [qrels].compactMap { $0 },
            manifest: try manifest(), overwrite: overwrite,
            backgroundWrites: options.threads < ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Searches this shard's queries still to do and finishes the output.
    ///
    /// - Parameters:
    ///   - queries: every query to search (the shard picks its block).
    ///   - progress: advanced once per query searched now.
    public func run(
        index opened: BM25Index, queries all: [Query],
        output resumable: ResumableOutput<SearchSummary>, progress: ProgressReporter?
    ) throws -> SearchSummary {
        let list = Array(all[(shard ?? .whole).range(of: all.count)])
        let start = resumable.itemsAtStart
        guard start <= list.count else {
            throw InparsCoreError.cannotResume(
                path: output.path,
                reason: "its manifest records \(start) queries done but there are \(list.count);"
                    + " rerun with --overwrite")
        }
        var summary = resumable.summary
        try BM25BatchSearch.write(
            index: opened, queries: Array(list[start...]), options: options, tag: tag
        ) { q, lines, bytes in
            try resumable.append(bytes: bytes)
            summary.queries += 1
            summary.lines += lines
            try resumable.commit(items: start + q + 1, summary: summary)
            progress?.advance()
        }
        // A run without a single hit is an error, and then no output is left (a shard may
        // hold no query at all when there are more shards than queries).
        if summary.lines == 0 && (shard == nil || !list.isEmpty) {
            throw BM25Error.noHits(index: index.path, queries: list.count)
        }
        try resumable.finish(items: list.count, summary: summary)
        return summary
    }
}
