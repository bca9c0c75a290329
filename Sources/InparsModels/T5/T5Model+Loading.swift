import Foundation
import InparsTensor

extension T5Model {
    /// Loads a Hugging Face T5 model folder: `config.json` plus the weights
    /// (`model.safetensors`, sharded safetensors, or `pytorch_model.bin`; see ``Checkpoint``).
    ///
    /// A `pytorch_model.bin` whose `lm_head.weight` shares `shared.weight`'s storage has a tied
    /// head (as `torch.save` writes a tied model).
    ///
    /// With a `precision` other than fp32 the linear layers are converted one tensor at a time
    /// as they are read, so the fp32 model is never held whole.
    ///
    /// - Throws: ``ModelError/unsupportedPrecision(precision:isa:)`` when oneDNN has no kernel
    ///   for `precision` on this CPU (bf16 below AVX-512);
    ///   ``ModelError`` for a missing, non-T5 or invalid configuration and for missing or
    ///   mis-shaped tensors; ``CheckpointError`` for unreadable weight files.
    public static func load(directory: URL, precision: Precision = .fp32) throws -> T5Model {
        try ModelError.requireSupported(precision)
        let configuration = try T5Configuration.load(directory: directory)
        let reader = try CheckpointReader(directory: directory)
        do {
            return try T5Model(
                configuration: configuration, hasHead: reader.shape(of: T5WeightNames.lmHead) != nil,
                headIsAlias: reader.isAlias(T5WeightNames.lmHead, of: T5WeightNames.shared),
                precision: precision, shape: { reader.shape(of: $0) },
                tensor: { try reader.tensor(named: $0) })
        } catch let error as ModelError {
            throw error.naming(directory: directory)  // the two files that disagree
        }
    }
}
