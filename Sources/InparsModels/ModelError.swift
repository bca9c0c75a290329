import Foundation

/// What can go wrong when a model folder is recognised: the folder, its `config.json`, its
/// family.
public enum ModelError: Error, LocalizedError, Sendable, Equatable {
    /// `--model` names no folder.
    case notAModelFolder(path: String)
    /// `config.json` is missing from a model folder.
    case configurationNotFound(path: String)
    /// `config.json` could not be decoded; `reason` names the field.
    case invalidConfiguration(path: String, reason: String)
    /// `config.json` names a family inpars does not run.
    case unsupportedModelType(directory: String, modelType: String?, architectures: [String])

    public var errorDescription: String? {
        switch self {
        case .notAModelFolder(let path):
            return
                "'\(path)' is not a folder; point --model at a Hugging Face model folder (config.json, weights, tokenizer)"
        case .configurationNotFound(let path):
            return
                "no config.json at '\(path)'; point --model at a Hugging Face model folder (config.json, weights, tokenizer)"
        case .invalidConfiguration(let path, let reason):
            return "cannot read the model configuration '\(path)': \(reason)"
        case .unsupportedModelType(let directory, let modelType, let architectures):
            let named =
                modelType.map { "a '\($0)' model (config.json model_type)" }
                ?? (architectures.isEmpty
                    ? "a model whose config.json has neither model_type nor architectures"
                    : "a model of architectures \(architectures.map { "'\($0)'" }.joined(separator: ", ")) and no model_type")
            return
                "'\(directory)' holds \(named), which is not T5 or another family inpars runs; supported model_type values: \(ModelRegistry.families.map(\.summary).joined(separator: "; "))"
        }
    }
}
