import ArgumentParser
import Foundation
import InparsCore

// The runtime knobs several commands share, one small group each, so that a command shows only
// the flags it uses and every command that has a flag gives it the same name, help and default.
// The defaults are documented (with the reasons) in Docs/cli.md.

/// `--threads`: compute threads (OpenBLAS, corpus analysis, BM25 searches).
///
/// Default: every core. Results do not depend on it (indexes are byte-identical for any thread
/// count, searches and random draws are per item; model scores change only in float rounding as
/// OpenBLAS splits its GEMMs), so the fastest setting is the right default.
/// The help says "all cores" rather than the number of this machine's cores.
struct ThreadOptions: ParsableArguments {
    @Option(
        help: "Threads for compute: OpenBLAS, corpus analysis, BM25 searches (default: all cores).")
    var threads: Int?

    /// `--threads`, or the number of active cores.
    var count: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        if let threads { try requireThreads(threads) }
    }
}

/// `--seed`: the seed of every random choice a command makes.
///
/// Default 1, the InPars toolkit's `--seed` for generation and triples and pygaggle's for monoT5
/// fine-tuning; every random draw derives from (seed, item), so the same seed gives the same
/// output whatever `--threads` and `--batch-size` are.
struct SeedOptions: ParsableArguments {
    @Option(
        help:
            "Seed of every random choice (document sample, few-shot draws, sampling, negatives, data order, dropout)."
    )
    var seed: UInt64 = 1
}

/// `generate --batch-size`: prompts an in-process generator decodes together.
///
/// Default: the model family's (``InparsGeneration/InProcessGeneration/defaultBatchSize(directory:)``):
/// 8 for T5 (a decoding group of similar prompt lengths), 64 for decoder-only LMs, whose
/// decoding steps read every weight once for all the rows in the batch (measured in
/// Docs/performance.md, "Session 7"). Results do not depend on it beyond float rounding.
struct GenerationBatchOptions: ParsableArguments {
    @Option(
        help:
            "In process: prompts decoded together; a decoder-only LM's decoding step reads every weight once for all of them. (default: 8 for T5, 64 for decoder-only LMs)")
    var batchSize: Int?

    func validate() throws {
        if let batchSize { try requireFlag("--batch-size", batchSize, in: 1...Limits.batch) }
    }
}

/// `--batch-size`: inputs per model forward pass.
///
/// Default 8: monoT5 scoring and training as pygaggle and the InPars toolkit run them
/// (`per_device_train_batch_size 8`), and a T5 generator's decoding group.
struct BatchSizeOptions: ParsableArguments {
    @Option(
        help:
            "Inputs per model forward pass: (query, document) pairs when scoring, examples per micro-batch when training, prompts decoded together by an in-process generator."
    )
    var batchSize: Int = 8

    func validate() throws {
        try requireFlag("--batch-size", batchSize, in: 1...Limits.batch)
    }
}
