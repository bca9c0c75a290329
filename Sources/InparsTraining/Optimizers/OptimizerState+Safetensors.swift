import Foundation
import InparsModels
import InparsTensor

extension OptimizerState {
    /// Metadata keys of an optimizer-state safetensors file.
    static let kindKey = "inpars.optimizer"
    static let stepKey = "inpars.step"

    /// Writes the state as a safetensors file (tensors as F32, `kind` and `step` in the
    /// `__metadata__`), atomically: a temporary file renamed over `url`.
    ///
    /// - Throws: `CheckpointError.io` when the file cannot be written (the old file stays).
    public func write(to url: URL) throws {
        try SafetensorsWriter.write(
            tensors, to: url, metadata: [Self.kindKey: kind, Self.stepKey: String(step)])
    }

    /// Reads a state written by ``write(to:)``.
    ///
    /// - Throws: `CheckpointError` for an unreadable file; ``TrainingError/invalidOptimizerFile(path:reason:)``
    ///   when its metadata does not describe an optimizer state.
    public static func read(from url: URL) throws -> OptimizerState {
        let file = try SafetensorsFile(url: url)
        guard let kind = file.metadata[kindKey] else {
            throw TrainingError.invalidOptimizerFile(
                path: url.path, reason: "no '\(kindKey)' metadata")
        }
        guard let text = file.metadata[stepKey], let step = Int(text), step >= 0 else {
            throw TrainingError.invalidOptimizerFile(
                path: url.path, reason: "missing or invalid '\(stepKey)' metadata")
        }
        return OptimizerState(kind: kind, step: step, tensors: try file.allTensors())
    }
}
