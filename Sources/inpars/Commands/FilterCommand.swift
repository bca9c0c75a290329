import ArgumentParser
import Foundation
import InparsBM25
import InparsCore
import InparsHub
import InparsFilter
import InparsModels
import InparsRanker
import InparsTensor

/// `inpars filter`: score synthetic queries, apply the length, copy, consistency and
/// duplicate rules, and keep the best k.
struct FilterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter",
        abstract: "Filter generated queries: score, drop bad ones, keep the top k.",
        discussion: """
            Reads 'inpars generate' output, InPars-toolkit files (query/text/log_probs) and \
            legacy InPars-v1 files (question/doc_text/log_probs). Strategies: 'scores' ranks by \
            the generator's token log-probs (--score); 'reranker' by the relevance model's score of \
            (query, source document) (--model: monoT5 log P(true), InPars-v2, or a cross-encoder); 'consistency' keeps a query only if \
            its source document ranks within --consistency-depth for it, by BM25 (--index) or \
            by the --model reranker over BM25's top --consistency-candidates, then ranks by --score. Token \
            counts are generator tokens (the length of log_probs). The sort is stable; each \
            kept row is written unchanged plus a 'score' field. A summary goes to stderr. \
            Resumable: rows are scored and committed --block-rows at a time, and rerunning the same \
            command after a kill continues where it stopped. With --shard i/N the output holds \
            the shard's scored rows in input order, before the global dedupe and top-k, which \
            'inpars merge' applies to all shards (Docs/scaling.md).
            """)

    enum Strategy: String, ExpressibleByArgument, CaseIterable {
        case scores, reranker, consistency
    }

    @Option(help: "Generated queries (JSONL, optionally .gz).")
    var input: String

    @OptionGroup var output: OutputOptions

    @Option(help: "scores, reranker or consistency.")
    var strategy: Strategy

    @Option(help: "Rows to keep after sorting (0 keeps all).")
    var keep = 10_000

    /// The old spelling of `--keep` (the InPars toolkit's `--keep_top_k`).
    @Option(name: .customLong("keep-top-k"), help: .hidden)
    var oldKeepTopK: Int?

    /// `--keep`, or `--keep-top-k` when given.
    var keepTopK: Int { oldKeepTopK ?? keep }

    @Option(help: "Drop queries with fewer generator tokens (length of log_probs).")
    var minTokens = 3

    @Option(help: "Drop queries with more generator tokens.")
    var maxTokens = 1_000

    @Option(help: "Log-prob score: mean, sum or mean-prob.")
    var score: ScoreFunction = .mean

    @Flag(help: "Drop queries that appear verbatim (case-insensitive) in their document.")
    var skipCopied = false

    @Flag(help: "Drop exact and case/whitespace duplicate queries, keeping the best-scored.")
    var dedupe = false

    @OptionGroup var badLines: BadLineOptions

    @Option(
        help:
            "Corpus (BEIR corpus.jsonl or TSV, or beir/<name>): document texts instead of the rows' own; required for consistency with monoT5."
    )
    var corpus: String?

    @Option(
        help: ArgumentHelp(
            "Relevance model folder or Hub id org/name[@revision] for the reranker strategy and monoT5 consistency (config.json's model_type picks the family: \(ModelRegistry.supportedModelTypes))."
        ))
    var model: String?

    @OptionGroup var revision: RevisionOptions

    @OptionGroup var scoring: ScoringOptions
    @OptionGroup var batch: BatchSizeOptions
    @OptionGroup var precision: PrecisionOptions

    @Option(help: "BM25 index folder ('inpars index'), for the consistency strategy.")
    var index: String?

    @Option(help: "Consistency: the source document must rank within this depth.")
    var consistencyDepth = 3

    @Option(help: "Consistency ranker: bm25, or monot5: the --model reranker (monoT5 or a cross-encoder) over BM25's top candidates.")
    var consistencyRanker: ConsistencyRanker = .bm25

    @Option(help: "Consistency with monoT5: BM25 candidates rescored per query.")
    var consistencyCandidates = 100

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var resume: ResumeOptions

    @Option(
        help:
            "Rows scored together and committed at a time (what a resumed run redoes at most; shards are whole blocks).")
    var blockRows = 256

    /// Whether the strategy scores with a model.
    var usesModel: Bool {
        strategy == .reranker || (strategy == .consistency && consistencyRanker == .monot5)
    }

    /// This filter without a model score that only ranks: `reranker` becomes `scores`, which
    /// applies the same rules (tokens, copies, duplicates) with no model. With `--keep 0`
    /// nothing is cut by rank, so it keeps the same number of rows: the pipeline's budgeted
    /// rounds count survivors this way, and the filter stage scores each row once, not twice.
    /// A consistency check keeps its ranker, which decides which rows survive.
    var withoutRankingModel: FilterCommand {
        var copy = self
        if copy.strategy == .reranker { copy.strategy = .scores }
        return copy
    }

    func validate() throws {
        guard blockRows >= 1 else { throw ValidationError("--block-rows must be at least 1") }
        guard keepTopK >= 0 else { throw ValidationError("--keep must be ≥ 0 (0 keeps all)") }
        guard minTokens >= 0, maxTokens >= minTokens else {
            throw ValidationError("--min-tokens must be ≥ 0 and ≤ --max-tokens")
        }
        if usesModel && model == nil {
            throw ValidationError("this strategy needs --model DIR (a monoT5 or cross-encoder folder)")
        }
        if !usesModel && precision.precision != .fp32 {
            throw ValidationError(
                "--precision applies to a scoring model; this strategy runs none (drop it)")
        }
        if strategy == .consistency {
            guard index != nil else {
                throw ValidationError("--strategy consistency needs --index DIR")
            }
            guard consistencyDepth >= 1 else {
                throw ValidationError("--consistency-depth must be ≥ 1")
            }
            if consistencyRanker == .monot5 {
                guard corpus != nil else {
                    throw ValidationError("--consistency-ranker monot5 needs --corpus FILE")
                }
                guard consistencyCandidates >= consistencyDepth else {
                    throw ValidationError("--consistency-candidates must be ≥ --consistency-depth")
                }
            }
        }
    }

    func run() throws {
        BLAS.threads = threads.count
        let inputURL = URL(fileURLWithPath: input)
        var configuration = FilterConfiguration(
            strategy: FilterStrategy(rawValue: strategy.rawValue)!)
        configuration.scoreFunction = score
        configuration.keepTopK = keepTopK
        configuration.minTokens = minTokens
        configuration.maxTokens = maxTokens
        configuration.skipCopied = skipCopied
        configuration.dedupe = dedupe
        configuration.consistencyDepth = consistencyDepth
        configuration.consistencyRanker = consistencyRanker
        configuration.consistencyCandidates = consistencyCandidates
        configuration.skipBadLines = badLines.skipBadLines
        configuration.threads = threads.count
        configuration.blockRows = blockRows

        var job = FilterRun(
            configuration: configuration, input: inputURL, output: URL(fileURLWithPath: output.output))
        job.corpus = try corpus.map { try DatasetLocator.resolve($0, role: .corpus) }
        if usesModel, let model {
            job.model = try revision.folder(model)
            job.scorerOptions = scoring.scorerOptions(
                batchSize: batch.batchSize, precision: precision.chosen())
        }
        job.index = index.map(URL.init(fileURLWithPath:))
        job.shard = resume.shard
        job.overwrite = resume.overwrite
        let stderr = StandardErrorProgressSink()
        let resumable = try job.open()
        if let note = resumable.startNote(label: "filter", unit: "blocks of --block-rows rows") {
            stderr.emit(note, transient: false)
        }
        if resumable.isComplete { return }

        let (rows, statistics) = try SyntheticQueryReader.read(
            inputURL,
            options: .init(
                skipBadLines: badLines.skipBadLines, requireLogProbs: strategy != .reranker,
                skipFlag: "--skip-bad-lines"))
        var filter = QueryFilter(
            configuration: configuration, inputPath: inputURL.path, progressSink: stderr)
        if let corpus = job.corpus {
            let documents = try CorpusReader.read(
                corpus, options: badLines.readOptions
            )
            .documents
            filter.corpus = Dictionary(
                documents.map { ($0.id, $0.rerankText) }, uniquingKeysWith: { a, _ in a })
            filter.corpusPath = corpus.path
        }
        if let model = job.model, let options = job.scorerOptions {
            filter.scorer = try RelevanceScorers.load(directory: model, options: options)
        }
        if strategy == .consistency, let index = job.index {
            filter.searcher = try BM25DocumentSearcher(directory: index)
        }

        let summary = try job.run(
            filter, rows: rows, skippedBadLines: statistics.skippedBadLines, output: resumable)
        var lines = summary.lines.map { "filter: \($0)" }
        if let first = statistics.firstSkippedError?.errorDescription {
            lines.append("filter: first skipped line: \(first)")
        }
        if resume.shard == nil {
            lines.append("filter: wrote \(summary.kept) rows to \(output.output)")
        } else {
            lines.removeAll { $0.hasPrefix("filter: kept:") }
            lines.append(
                "filter: wrote the scored rows of this shard (before the global dedupe and top-k)"
                    + " to \(output.output)" + resume.shardNote)
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

extension ScoreFunction: ExpressibleByArgument {}
extension ConsistencyRanker: ExpressibleByArgument {}
