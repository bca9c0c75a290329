import Foundation

/// What can go wrong when a T5 checkpoint is read or mapped onto the model.
public enum T5Error: Error, LocalizedError, Sendable, Equatable {
    /// `config.json` is missing from a model folder.
    case configurationNotFound(path: String)
    /// `config.json` could not be decoded; `reason` names the field.
    case invalidConfiguration(path: String, reason: String)
    /// `config.json` describes another architecture.
    case notT5(path: String, modelType: String)
    /// `feed_forward_proj` names an activation we do not implement.
    case unsupportedActivation(path: String, value: String)
    /// A tensor the configuration requires is absent from the checkpoint.
    case missingTensor(name: String)
    /// A tensor has a different shape from the one the configuration implies.
    case shapeMismatch(name: String, expected: [Int], actual: [Int])
    /// A vocabulary piece the caller needs (e.g. `▁true`) is not in the tokenizer.
    case missingPiece(piece: String, directory: String)
    /// The weights do not fit the configuration (`problem`: a missing tensor or a shape).
    case checkpointMismatch(weights: String, configuration: String, problem: String)

    public var errorDescription: String? {
        switch self {
        case .configurationNotFound(let path):
            return "no config.json at '\(path)'; point --model at a Hugging Face T5 model folder"
        case .invalidConfiguration(let path, let reason):
            return "cannot read the T5 configuration '\(path)': \(reason)"
        case .notT5(let path, let modelType):
            return "'\(path)' describes a '\(modelType)' model, not T5 (model_type must be \"t5\")"
        case .unsupportedActivation(let path, let value):
            return
                "'\(path)': feed_forward_proj '\(value)' is not supported (use relu, gelu, gated-gelu or gated-silu)"
        case .missingTensor(let name):
            return "the checkpoint has no tensor '\(name)', which this T5 configuration needs"
        case .shapeMismatch(let name, let expected, let actual):
            return "tensor '\(name)' has shape \(actual) but the configuration needs \(expected)"
        case .checkpointMismatch(let weights, let configuration, let problem):
            return
                "the weights '\(weights)' do not fit '\(configuration)': \(problem); the two files come from different models"
        case .missingPiece(let piece, let directory):
            return "the tokenizer in '\(directory)' has no piece '\(piece)'"
        }
    }
}
