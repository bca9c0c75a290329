import Foundation
import InparsCore
import InparsModels
import InparsTensor

/// Picks the in-process generation backend of a model folder.
public enum InProcessGeneration {
    /// The backend for the model in `directory`: the family comes from its `config.json`
    /// (``InparsModels/ModelRegistry``), then that family's backend loads the weights and the
    /// tokenizer.
    ///
    /// - Parameters:
    ///   - batchSize: prompts decoded together.
    ///   - precision: the number format of the model's linear layers (converted at load).
    /// - Throws: `ModelError` for a folder without a readable `config.json` or of a family
    ///   inpars does not run (the message lists the supported ones); the family loader's errors
    ///   naming the file.
    public static func load(directory: URL, batchSize: Int, precision: Precision = .fp32) throws
        -> any GenerationBackend
    {
        let folder = try ModelRegistry.resolve(directory: directory)
        switch folder.family {
        case .t5:
            return try T5Backend.load(directory: directory, batchSize: batchSize, precision: precision)
        case .bert:
            throw ModelError.unsupportedTask(
                directory: directory.path, family: .bert, task: "generate text",
                instead: "a cross-encoder scores pairs (rerank, filter, train); generate with a T5 folder or --api-base")
        case .causalLM:
            return try CausalLMBackend.load(
                directory: directory, batchSize: batchSize, precision: precision)
        }
    }

    /// The batch size of the model in `directory` when `--batch-size` is not given: its
    /// family's backend's default (``T5Backend/defaultBatchSize``,
    /// ``CausalLMBackend/defaultBatchSize``).
    ///
    /// - Throws: as ``load(directory:batchSize:precision:)`` for a folder it cannot resolve.
    public static func defaultBatchSize(directory: URL) throws -> Int {
        switch try ModelRegistry.resolve(directory: directory).family {
        case .causalLM: CausalLMBackend.defaultBatchSize
        case .t5, .bert: T5Backend.defaultBatchSize  // a BERT folder is refused by `load`
        }
    }

    /// Prompts per `generate` call of an in-process backend: `batchSize × window`.
    ///
    /// - Throws: ``GenerationError/invalidOption(name:value:reason:)`` naming `--batch-size`
    ///   when it is outside 1…`Limits.batch` or the product overflows.
    static func promptsPerCall(batchSize: Int, window: Int) throws -> Int {
        let (product, overflow) = batchSize.multipliedReportingOverflow(by: window)
        guard batchSize >= 1, window >= 1, !overflow, product <= Limits.batch * 4 else {
            throw GenerationError.invalidOption(
                name: "--batch-size", value: String(batchSize),
                reason: "must be 1…\(Limits.batch) (prompts per call: batch size × \(window))")
        }
        return product
    }
}
