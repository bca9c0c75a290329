import Foundation
import InparsTensor

extension CausalLM {
    /// Loads a Hugging Face causal-LM folder: `config.json` plus the weights
    /// (`model.safetensors` or sharded safetensors, or `pytorch_model.bin`; see ``Checkpoint``),
    /// converted to fp32 whatever their stored type (bf16, f16, f32).
    ///
    /// A tied head (`tie_word_embeddings`) reads the embedding; a `lm_head.weight` stored
    /// anyway is ignored. Tensors the table does not name (e.g. old `rotary_emb.inv_freq`
    /// buffers) are ignored.
    ///
    /// - Throws: ``ModelError`` for the configuration and for missing or mis-shaped tensors
    ///   (naming both files); ``CheckpointError`` for unreadable or truncated weight files.
    public static func load(directory: URL) throws -> CausalLM {
        let configuration = try CausalLMConfiguration.load(directory: directory)
        let reader = try CheckpointReader(directory: directory)
        let table = parameterTable(configuration)
        var tensors: [String: Tensor] = [:]
        for entry in table.entries where reader.shape(of: entry.name) != nil {
            tensors[entry.name] = try reader.tensor(named: entry.name)
        }
        do {
            let store = try ParameterStore(table: table, checkpoint: tensors)
            return CausalLM(configuration: configuration, parameters: store)
        } catch {
            let problem: String
            switch error {
            case .missing(let name):
                problem = "the checkpoint has no tensor '\(name)', which this configuration needs"
            case .shape(let name, let expected, let actual):
                problem = "tensor '\(name)' has shape \(actual) but the configuration needs \(expected)"
            }
            throw ModelError.checkpointMismatch(
                weights: Checkpoint.weightsFile(directory: directory)?.path ?? directory.path,
                configuration: directory.appendingPathComponent("config.json").path,
                problem: problem)
        }
    }
}
