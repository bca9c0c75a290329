import ArgumentParser
import Foundation
import InparsCore
import InparsRanker
import InparsTensor

/// `inpars rerank`: rescore the top of a TREC run with a monoT5 model or a cross-encoder.
struct RerankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank",
        abstract: "Rerank the top documents of a TREC run with a monoT5 model or a cross-encoder.",
        discussion: """
            monoT5: score = log P(true) of the model reading 'Query: {q} Document: {d} \
            Relevant:' (▁yes/▁no for FLAN-T5 folders). Cross-encoders (bert, electra, roberta, \
            xlm-roberta): the head's logit, or log-softmax of the relevant label for two labels \
            (Docs/cross-encoders.md). --segment-length scores long documents as passages and \
            keeps the best (MaxP). Documents below --depth keep their first-stage \
            order beneath the reranked ones; ties break by first-stage rank. Run entries whose \
            query or document is unknown are skipped and counted on stderr. --top-k is the \
            old spelling of --depth. Resumable: each query is committed as it is scored; \
            rerunning the same command after a kill continues where it stopped, and a finished \
            output is left alone (Docs/scaling.md).
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var inputs: RunInputOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Documents per query to rescore (the rest keep their first-stage order).")
    var depth = 1000

    /// The old spelling of `--depth` (`--top-k` means top-k sampling in `generate`).
    @Option(name: .customLong("top-k"), help: .hidden)
    var topK: Int?

    @OptionGroup var batch: BatchSizeOptions
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var resume: ResumeOptions

    @Option(help: "The run tag (last column) (default: the model's name, e.g. monoT5).")
    var tag: String?

    @Option(
        help:
            "MaxP: score documents longer than N words as overlapping N-word passages and keep the best passage's score (default: whole documents, cut to --max-length)."
    )
    var segmentLength: Int?

    @Option(help: "Words between MaxP passage starts, 1…--segment-length (default: half of it).")
    var segmentStride: Int?

    /// `--depth`, or `--top-k` when given.
    var rerankDepth: Int { topK ?? depth }

    func validate() throws {
        guard rerankDepth >= 1 else { throw ValidationError("--depth must be at least 1") }
        if let tag, tag.isEmpty || tag.contains(where: \.isWhitespace) {
            throw ValidationError("--tag must be one word")
        }
        if segmentStride != nil && segmentLength == nil {
            throw ValidationError("--segment-stride needs --segment-length")
        }
        if let segmentLength {
            do {
                _ = try Segmentation(length: segmentLength, stride: segmentStride)
            } catch {
                throw ValidationError(error.localizedDescription)
            }
        }
    }

    func run() throws {
        BLAS.threads = threads.count
        let directory = try model.directory
        var job = RerankRun(
            run: inputs.runURL, queries: try inputs.queries.url, corpus: try inputs.corpus.url,
            model: directory, output: URL(fileURLWithPath: output.output),
            depth: rerankDepth, scorerOptions: model.scoring.scorerOptions(
                batchSize: batch.batchSize, precision: precision.chosen()),
            tag: tag)
        job.segmentation = try segmentLength.map {
            try Segmentation(length: $0, stride: segmentStride)
        }
        job.shard = resume.shard
        job.overwrite = resume.overwrite
        job.threads = threads.count
        let options = job.scorerOptions
        let outcome = try job.run(
            loadScorer: { try RelevanceScorers.load(directory: directory, options: options) },
            sink: StandardErrorProgressSink())
        if outcome.wasComplete { return }
        let s = outcome.summary
        var summary =
            "reranked \(s.queries) queries (\(s.pairsScored) pairs, \(s.entriesKeptBelowTopK) entries kept below depth \(rerankDepth), \(s.truncatedDocuments) documents truncated to --max-length) with \(outcome.scorerDetails ?? "the model") → \(output.output)"
        if s.unknownQueries > 0 {
            summary +=
                "; skipped \(s.unknownQueries) unknown queries (\(s.entriesOfUnknownQueries) entries)"
        }
        if s.unknownDocuments > 0 {
            summary += "; skipped \(s.unknownDocuments) entries with unknown documents"
        }
        summary += resume.shardNote
        let lines = [summary] + s.warnings
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

extension MonoT5Reranker.Labels: ExpressibleByArgument {}
