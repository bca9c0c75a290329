import ArgumentParser
import Foundation
import InparsCore
import InparsHub
import InparsModels
import InparsRanker
import InparsTensor

/// `--max-length` and `--labels`: how a relevance model reads a (query, document) pair. Shared
/// by `rerank`, `filter` (reranker and monoT5 consistency) and `train`.
struct ScoringOptions: ParsableArguments {
    @Option(
        help:
            "Most model input tokens per (query, document) pair; longer documents are truncated, never the query's end or 'Relevant:' (a cross-encoder lowers it to its position limit)."
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
    func scorerOptions(batchSize: Int, precision: Precision = .fp32) -> ScorerOptions {
        ScorerOptions(
            maxLength: maxLength, batchSize: batchSize, labels: labels, precision: precision)
    }
}

/// `--precision`: the number format of an in-process model's linear layers at inference.
/// Shared by `rerank`, `filter` (reranker strategies) and `generate` (in-process models).
struct PrecisionOptions: ParsableArguments {
    @Option(
        help:
            "Inference number format of the model's linear layers: fp32 (exact), bf16 (half the weight memory; slow without AVX512-BF16), int8 (a quarter of the memory, fastest with VNNI; scores within Docs/performance.md's bounds)."
    )
    var precision: Precision = .fp32

    /// The chosen precision, after saying on stderr when it will be slow on this CPU (bf16
    /// without native bf16 instructions), so nobody waits for an emulated run unawares.
    func chosen() -> Precision {
        if let note = Self.note(precision, nativeBF16: DNNLInfo.hasNativeBF16, isa: DNNLInfo.effectiveISA) {
            FileHandle.standardError.write(Data((note + "\n").utf8))
        }
        return precision
    }

    /// The stderr note for `precision` on a CPU with or without native bf16, or nil.
    static func note(_ precision: Precision, nativeBF16: Bool, isa: String) -> String? {
        guard precision == .bf16 && !nativeBF16 else { return nil }
        return
            "note: this CPU has no native bf16 (oneDNN ISA \(isa), no AVX512-BF16 or AMX): bf16 products run emulated, several times slower than fp32; they only halve the weight memory. --precision int8 is the fast narrow format here (Docs/performance.md, \"bf16 and int8\")."
    }
}

extension Precision: ExpressibleByArgument {}

/// `--revision`: which revision of a Hub `--model` id (see `Docs/models-and-data.md`).
struct RevisionOptions: ParsableArguments {
    @Option(
        help:
            "Revision (branch, tag or commit) of a Hub --model id (default: main, or the @revision in org/name@revision)."
    )
    var revision: String?

    /// The local folder of `model`: the path itself, or the Hugging Face cache snapshot of a Hub
    /// id, downloaded when missing (the one place a command turns `--model` into a folder).
    func folder(_ model: String) throws -> URL {
        try ModelLocator.resolve(model, revision: revision)
    }
}

/// `--model DIR|org/name` (required), `--revision`, plus ``ScoringOptions``: a model folder or
/// Hub id whose `config.json` decides the family (see `ModelRegistry`).
struct ModelOptions: ParsableArguments {
    /// The help of every `--model` that names a model folder or Hub id.
    static let folderHelp: ArgumentHelp =
        ArgumentHelp(
            "Hugging Face model folder (config.json, weights, tokenizer) or Hub id org/name[@revision] (fetched into the Hugging Face cache); config.json's model_type picks the family (\(ModelRegistry.supportedModelTypes))."
        )

    @Option(help: folderHelp)
    var model: String

    @OptionGroup var revision: RevisionOptions

    @OptionGroup var scoring: ScoringOptions

    /// The model folder, downloaded first for a Hub id.
    var directory: URL { get throws { try revision.folder(model) } }
}
