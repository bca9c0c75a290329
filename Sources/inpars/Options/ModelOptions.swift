import ArgumentParser
import Foundation
import InparsCore
import InparsModels
import InparsRanker

/// `--max-length` and `--labels`: how a relevance model reads a (query, document) pair. Shared
/// by `rerank`, `filter` (reranker and monoT5 consistency) and `train`.
struct ScoringOptions: ParsableArguments {
    @Option(
        help:
            "Most model input tokens per (query, document) pair; longer documents are truncated, never the query's end or 'Relevant:'."
    )
    var maxLength = 512

    @Option(
        help:
            "Label pieces of a monoT5 model: true-false (monoT5) or yes-no (FLAN-T5, mMARCO mT5) (default: yes-no for mt5 folders and names containing 'flan')."
    )
    var labels: MonoT5Reranker.Labels?

    func validate() throws {
        try requireFlag("--max-length", maxLength, in: Limits.minimumMonoT5Length...Limits.tokens)
    }

    /// The library's scorer settings with `batchSize` pairs per forward pass.
    func scorerOptions(batchSize: Int) -> ScorerOptions {
        ScorerOptions(maxLength: maxLength, batchSize: batchSize, labels: labels)
    }
}

/// `--model DIR` (required) plus ``ScoringOptions``: a model folder whose `config.json` decides
/// the family (see `ModelRegistry`).
struct ModelOptions: ParsableArguments {
    /// The help of every `--model` that names a model folder.
    static let folderHelp: ArgumentHelp =
        ArgumentHelp(
            "Hugging Face model folder (config.json, weights, tokenizer); config.json's model_type picks the family (\(ModelRegistry.supportedModelTypes))."
        )

    @Option(help: folderHelp)
    var model: String

    @OptionGroup var scoring: ScoringOptions

    /// The model folder (the one place a command turns `--model` into a folder).
    var directory: URL { URL(fileURLWithPath: model) }
}
