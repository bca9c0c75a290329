import Foundation
import InparsBM25
import InparsCore
import InparsRanker

/// The `filter` stage end to end: resumable, shardable, written atomically.
///
/// Two phases. The per-row phase (length, copy and consistency rules, scores; the slow part
/// with a reranker or monoT5 consistency) runs over blocks of ``FilterConfiguration/blockRows`` input
/// rows; each block's surviving rows, with their `score` field, are appended in input order to
/// the partial file and committed (``ResumableOutput``), so a killed run continues at the
/// first uncommitted block. The global phase (dedupe, stable sort by score, `--keep-top-k`)
/// needs every row: an unsharded run does it in a second pass over its partial file when the
/// last block is done; a shard (`--shard i/N`, a contiguous block of whole row blocks) stops
/// after the per-row phase, and `inpars merge` does the global phase over the shards' rows in
/// order (``select(_:configuration:)``), which is the same computation on the same rows, so the
/// merged file equals the unsharded output byte for byte.
public struct FilterRun {
    public var configuration: FilterConfiguration
    /// The generated queries.
    public var input: URL
    public var output: URL
    /// `--corpus`, `--model` (with its scoring options) and `--index`, when the strategy uses them.
    public var corpus: URL?
    public var model: URL?
    public var scorerOptions: ScorerOptions?
    public var index: URL?
    /// `--shard i/N`; `nil`: the whole job, unsharded.
    public var shard: Shard?
    public var overwrite = false
    /// Recorded in the manifest only.
    public var info: [String: String] = [:]

    public init(configuration: FilterConfiguration, input: URL, output: URL) {
        self.configuration = configuration
        self.input = input
        self.output = output
    }

    /// The settings that change the output's bytes and the inputs' identities.
    public func manifest() throws -> OutputManifest {
        let c = configuration
        var settings: [String: String] = [
            "strategy": c.strategy.rawValue,
            "keep_top_k": String(c.keepTopK),
            "min_tokens": String(c.minTokens),
            "max_tokens": String(c.maxTokens),
            "skip_copied": String(c.skipCopied),
            "dedupe": String(c.dedupe),
            "skip_bad_lines": String(c.skipBadLines),
            "block_rows": String(c.blockRows),
        ]
        if c.strategy != .reranker { settings["score"] = c.scoreFunction.rawValue }
        if c.strategy == .consistency {
            settings["consistency_depth"] = String(c.consistencyDepth)
            settings["consistency_ranker"] = c.consistencyRanker.rawValue
            if c.consistencyRanker == .monot5 {
                settings["consistency_candidates"] = String(c.consistencyCandidates)
            }
        }
        var inputs = ["input": try InputIdentity.of(input)]
        if let corpus { inputs["corpus"] = try InputIdentity.of(corpus) }
        if let index, c.strategy == .consistency { inputs["index"] = try BM25Index.identity(of: index) }
        var rounding: [String: String] = [:]
        if let model, let scorerOptions {
            inputs["model"] = try InputIdentity.of(model)
            settings["max_length"] = String(scorerOptions.maxLength)
            settings["labels"] = scorerOptions.labels?.rawValue ?? "auto"
            settings["precision"] = scorerOptions.precision.rawValue
            rounding = ["batch_size": String(scorerOptions.batchSize), "threads": String(c.threads)]
        }
        return OutputManifest(
            command: "filter", settings: settings, inputs: inputs, rounding: rounding, info: info,
            shard: shard)
    }

    /// Opens the output: fresh, resumed, or already complete (``ResumableOutput/isComplete``).
    public func open() throws -> ResumableOutput<FilterSummary> {
        if let model, scorerOptions != nil { try RelevanceScorers.check(directory: model) }
        return try ResumableOutput(
            outputs: [ResumableOutput<FilterSummary>.main: output],
            kinds: [ResumableOutput<FilterSummary>.main: QueryFilter.outputKind],
            inputs: [input] + [corpus].compactMap { $0 }, manifest: try manifest(),
            overwrite: overwrite)
    }

    /// Runs the per-row phase over this shard's blocks still to do and finishes the output.
    ///
    /// - Parameters:
    ///   - rows: every row of the input (the shard picks its blocks).
    ///   - skippedBadLines: malformed lines the reader skipped (counted once, by shard 0).
    /// - Returns: the summary of the whole output (of the shard's rows, for a shard).
    public func run(
        _ filter: QueryFilter, rows: [SyntheticQuery], skippedBadLines: Int,
        output resumable: ResumableOutput<FilterSummary>
    ) throws -> FilterSummary {
        try filter.validate()
        let range = (shard ?? .whole).range(of: rows.count, inBlocksOf: configuration.blockRows)
        let blocks = (range.count + configuration.blockRows - 1) / configuration.blockRows
        var summary = resumable.summary
        if resumable.itemsAtStart == 0 && (shard?.index ?? 0) == 0 {
            summary.skippedBadLines = skippedBadLines
        }
        let start = resumable.itemsAtStart
        guard start <= blocks else {
            throw InparsCoreError.cannotResume(
                path: output.path,
                reason: "its manifest records \(start) blocks done but the input has \(blocks);"
                    + " rerun with --overwrite")
        }
        let first = range.lowerBound + start * configuration.blockRows
        let progress = filter.makeProgress(rows: range.upperBound - first)
        for block in start..<blocks {
            let lower = range.lowerBound + block * configuration.blockRows
            let upper = min(range.upperBound, lower + configuration.blockRows)
            var text = ""
            for item in try filter.score(rows[lower..<upper], summary: &summary) {
                text += item.outputLine + "\n"
            }
            try resumable.append(text)
            try resumable.commit(items: block + 1, summary: summary)
            progress?.advance(by: upper - lower)
        }
        progress?.finish()
        guard shard == nil else {
            try resumable.finish(items: blocks, summary: summary)
            return summary
        }
        try resumable.commitNow(items: blocks, summary: summary)
        let partial = ResumableOutput<FilterSummary>.partialURL(for: output)
        let selection = try Self.select([partial], configuration: configuration)
        summary.add(selection.summary)
        try resumable.finish(
            items: blocks, summary: summary,
            transform: [
                ResumableOutput<FilterSummary>.main: { _, file in
                    for line in selection.lines { try file.write(line + "\n") }
                }
            ])
        return summary
    }

    /// The global phase over per-row-phase lines (rows with their `score`, in input order) read
    /// from `files` in order: dedupe, stable sort, top-k (``QueryFilter/select(queries:scores:configuration:summary:)``).
    ///
    /// - Returns: the kept lines in output order, and the phase's counts.
    public static func select(_ files: [URL], configuration: FilterConfiguration) throws
        -> (lines: [String], summary: FilterSummary)
    {
        var lines: [String] = []
        var queries: [String] = []
        var scores: [Double] = []
        for file in files {
            let reader = try LineReader(url: file)
            while let line = try reader.nextLine() {
                if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
                let number = reader.lineNumber
                let row = try SyntheticQueryReader.parse(line, path: file.path, lineNumber: number)
                let object = try JSONLine.parseRecord(line, path: file.path, line: number)
                // A reranker's scores are Floats written in their shortest form: read them back
                // as Floats so the sort sees exactly the values the per-row phase had.
                guard case .number(let text)? = object["score"],
                    let score = configuration.strategy == .reranker
                        ? Float(text).map(Double.init) : Double(text)
                else {
                    throw InparsCoreError.malformedLine(
                        path: file.path, line: number, field: "score",
                        reason: "missing or not a number (not a filter shard's output?)")
                }
                lines.append(line)
                queries.append(row.query)
                scores.append(score)
            }
        }
        var summary = FilterSummary()
        let kept = QueryFilter.select(
            queries: queries, scores: scores, configuration: configuration, summary: &summary)
        return (kept.map { lines[$0] }, summary)
    }

    /// The global-phase settings recorded in a filter manifest's `settings`.
    public static func selectionConfiguration(settings: [String: String]) throws
        -> FilterConfiguration
    {
        guard let strategy = settings["strategy"].flatMap(FilterStrategy.init(rawValue:)),
            let keep = settings["keep_top_k"].flatMap(Int.init),
            let dedupe = settings["dedupe"].flatMap(Bool.init)
        else {
            throw InparsCoreError.badShards(
                reason: "the shards' manifest lacks the filter settings strategy, keep_top_k and dedupe")
        }
        var configuration = FilterConfiguration(strategy: strategy)
        configuration.keepTopK = keep
        configuration.dedupe = dedupe
        return configuration
    }
}
