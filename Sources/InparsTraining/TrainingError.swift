import Foundation

/// Errors of the training module.
public enum TrainingError: Error, LocalizedError, Sendable, Equatable {
    /// Saved optimizer state was written by another optimizer.
    case optimizerKindMismatch(expected: String, found: String)
    /// Saved optimizer state lacks a tensor the current parameters need.
    case missingOptimizerTensor(name: String)
    /// A saved optimizer tensor has another shape than the current parameter needs.
    case optimizerTensorShape(name: String, expected: [Int], found: [Int])
    /// A saved step count is negative.
    case invalidStep(Int)
    /// A file that should hold optimizer state does not.
    case invalidOptimizerFile(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .optimizerKindMismatch(let expected, let found):
            return
                "optimizer state was saved by \(found), but this run uses \(expected); resume with the same --optimizer"
        case .missingOptimizerTensor(let name):
            return
                "optimizer state has no tensor '\(name)'; the checkpoint does not match this model"
        case .optimizerTensorShape(let name, let expected, let found):
            return
                "optimizer tensor '\(name)' has shape \(found) but the model needs \(expected); the checkpoint does not match this model"
        case .invalidStep(let step):
            return "optimizer state has step \(step), which is negative"
        case .invalidOptimizerFile(let path, let reason):
            return
                "'\(path)' is not an optimizer state file (\(reason)); resume from a checkpoint folder written by 'inpars train'"
        }
    }
}
