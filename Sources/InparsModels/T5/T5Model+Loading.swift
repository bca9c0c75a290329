import Foundation
import InparsTensor

extension T5Model {
    /// Loads a Hugging Face T5 model folder: `config.json` plus the weights
    /// (`model.safetensors`, sharded safetensors, or `pytorch_model.bin`; see ``Checkpoint``).
    ///
    /// A `pytorch_model.bin` whose `lm_head.weight` shares `shared.weight`'s storage has a tied
    /// head (as `torch.save` writes a tied model).
    ///
    /// - Throws: ``ModelError`` for a missing, non-T5 or invalid configuration and for missing or
    ///   mis-shaped tensors; ``CheckpointError`` for unreadable weight files.
    public static func load(directory: URL) throws -> T5Model {
        let configuration = try T5Configuration.load(directory: directory)
        let reader = try CheckpointReader(directory: directory)
        do {
            return try T5Model(
                configuration: configuration, tensors: try reader.allTensors(),
                headIsAlias: reader.isAlias(T5WeightNames.lmHead, of: T5WeightNames.shared))
        } catch let error as ModelError {
            throw error.naming(directory: directory)  // the two files that disagree
        }
    }
}
