import Foundation
import InparsTensor

/// What can go wrong between a model folder and a loaded model: the folder, its `config.json`,
/// its family, and the checkpoint's tensors against the configuration.
///
/// The bytes of the weight files themselves are checked by their readers, which throw
/// ``CheckpointError`` (see `Docs/architecture.md` for why that enum stays separate).
public enum ModelError: Error, LocalizedError, Sendable, Equatable {
    /// `--model` names no folder.
    case notAModelFolder(path: String)
    /// `config.json` is missing from a model folder.
    case configurationNotFound(path: String)
    /// `config.json` could not be decoded; `reason` names the field.
    case invalidConfiguration(path: String, reason: String)
    /// `config.json` names a family inpars does not run (found by the model registry).
    case unsupportedModelType(directory: String, modelType: String?, architectures: [String])
    /// A T5 loader was given a `config.json` of another architecture.
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
    /// `config.json` asks for something inpars does not implement (a rope type, an
    /// activation); running anyway would give wrong output.
    case unsupportedSetting(path: String, field: String, value: String, reason: String)
    /// oneDNN has no kernel for `precision` on this CPU (`isa`: what it dispatches to).
    case unsupportedPrecision(precision: String, isa: String)
    /// oneDNN (`libdnnl.so.2`), which bf16/int8 (and a causal LM's packed fp32 weights) run
    /// on, cannot be loaded; `reason` is the loader's.
    case oneDNNUnavailable(precision: String, reason: String)
    /// The folder's family cannot do what the command asks (a cross-encoder asked to generate).
    case unsupportedTask(directory: String, family: ModelFamily, task: String, instead: String)

    /// A missing or mis-shaped tensor of a model folder, restated as the two files that
    /// disagree (``checkpointMismatch(weights:configuration:problem:)``); other errors as they are.
    public func naming(directory: URL) -> ModelError {
        switch self {
        case .missingTensor, .shapeMismatch:
            return .checkpointMismatch(
                weights: Checkpoint.weightsFile(directory: directory)?.path ?? directory.path,
                configuration: directory.appendingPathComponent("config.json").path,
                problem: errorDescription ?? "\(self)")
        default: return self
        }
    }

    public var errorDescription: String? {
        switch self {
        case .oneDNNUnavailable(let precision, let reason):
            return
                "--precision \(precision) runs on oneDNN, which cannot be loaded (\(reason)); install it (Debian/Ubuntu: apt install libdnnl2) or see the README's set-up"
        case .unsupportedPrecision(let precision, let isa):
            return
                "--precision \(precision) is not available on this CPU (oneDNN runs \(isa); bf16 needs AVX-512); use --precision int8 or fp32"
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
        case .notT5(let path, let modelType):
            return
                "'\(path)' describes a '\(modelType)' model, not T5 (model_type must be \"t5\" or \"mt5\")"
        case .unsupportedActivation(let path, let value):
            return
                "'\(path)': feed_forward_proj '\(value)' is not supported (use relu, gelu, gated-gelu or gated-silu)"
        case .missingTensor(let name):
            return "the checkpoint has no tensor '\(name)', which the configuration needs"
        case .shapeMismatch(let name, let expected, let actual):
            return "tensor '\(name)' has shape \(actual) but the configuration needs \(expected)"
        case .missingPiece(let piece, let directory):
            return "the tokenizer in '\(directory)' has no piece '\(piece)'"
        case .checkpointMismatch(let weights, let configuration, let problem):
            return
                "the weights '\(weights)' do not fit '\(configuration)': \(problem); the two files come from different models"
        case .unsupportedSetting(let path, let field, let value, let reason):
            return
                "'\(path)': \(field) \(value) is not supported (\(reason)); running it anyway would give wrong output"
        case .unsupportedTask(let directory, let family, let task, let instead):
            return
                "'\(directory)' holds a \(family.summary) model, which cannot \(task); \(instead)"
        }
    }
}

extension ModelError {
    /// Throws ``unsupportedPrecision(precision:isa:)`` when oneDNN has no kernel for
    /// `precision` on this CPU (bf16 below AVX-512); every model loader checks this first.
    /// Throws ``oneDNNUnavailable(precision:reason:)`` first when the precision needs oneDNN
    /// (bf16, int8, or `packingFP32`: a causal LM's fp32 weights) and it cannot be loaded.
    static func requireSupported(_ precision: Precision, packingFP32: Bool = false) throws {
        if precision != .fp32 || packingFP32, let reason = DNNLInfo.loadFailure {
            throw ModelError.oneDNNUnavailable(precision: precision.rawValue, reason: reason)
        }
        guard DNNLInfo.supports(precision) else {
            throw ModelError.unsupportedPrecision(
                precision: precision.rawValue, isa: DNNLInfo.effectiveISA)
        }
    }
}
