import Foundation

/// What stops `inpars train`: bad training data, a checkpoint that cannot be resumed, a
/// diverging run, a failed save, optimizer state that does not fit the model.
public enum TrainingError: Error, LocalizedError, Sendable, Equatable {
    /// A training-file line does not have the expected fields.
    case malformedLine(path: String, line: Int, reason: String)
    /// The training file holds no usable example.
    case emptyTrainingFile(path: String, skippedLines: Int)
    /// The loss (or the gradient norm) of a step is NaN or infinite; nothing of that step
    /// was applied or saved.
    case nonFiniteLoss(step: Int, value: Float, lastCheckpoint: String?)
    /// A checkpoint could not be written; the previous one is intact.
    case saveFailed(path: String, reason: String, previous: String?)
    /// `--resume` found no checkpoint in the output folder.
    case nothingToResume(directory: String)
    /// The output folder already holds checkpoints and `--resume` was not given.
    case outputHasCheckpoints(directory: String)
    /// A checkpoint's `trainer_state.json` is unreadable or lacks a field.
    case invalidTrainerState(path: String, reason: String)
    /// The resumed run's settings differ from the checkpoint's (`"--lr: 0.001 → 0.002"`).
    case resumeMismatch(differences: [String])
    /// An option is out of range.
    case invalidOption(name: String, value: String, reason: String)
    /// The training data holds no example (InPars #17 trained on zero examples silently).
    case noExamples
    /// The options give zero optimizer steps.
    case noTrainingSteps(reason: String)
    /// Stopped on request (Ctrl-C) after saving a checkpoint.
    case interrupted(step: Int, checkpoint: String)

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
        case .malformedLine(let path, let line, let reason):
            return "\(path):\(line): \(reason) (pass --skip-bad-lines to skip such lines)"
        case .emptyTrainingFile(let path, let skipped):
            let detail = skipped > 0 ? " (\(skipped) malformed lines skipped)" : ""
            return "training file '\(path)' holds no training examples\(detail)"
        case .nonFiniteLoss(let step, let value, let last):
            let kept =
                last.map { "; the last good checkpoint is '\($0)'" } ?? "; no checkpoint was saved"
            return
                "training diverged at step \(step): loss or gradient norm is \(value); try a lower --lr\(kept)"
        case .saveFailed(let path, let reason, let previous):
            let kept = previous.map { "; the previous checkpoint '\($0)' is intact" } ?? ""
            return "cannot save checkpoint '\(path)': \(reason)\(kept)"
        case .nothingToResume(let directory):
            return
                "--resume: no checkpoint-<step> folder with trainer_state.json in '\(directory)'"
        case .outputHasCheckpoints(let directory):
            return
                "'\(directory)' already holds checkpoints; pass --resume to continue that run or choose another --output"
        case .invalidTrainerState(let path, let reason):
            return "cannot read trainer state '\(path)': \(reason)"
        case .resumeMismatch(let differences):
            return "cannot resume: this run's options differ from the checkpoint's ("
                + differences.joined(separator: "; ")
                + "); resume with the same options, or start a new run in another --output"
        case .invalidOption(let name, let value, let reason):
            return "invalid \(name) \(value): \(reason)"
        case .noExamples:
            return "there are no training examples; check the training file"
        case .noTrainingSteps(let reason):
            return "this run would train for zero steps (\(reason)); give --steps or --epochs above 0"
        case .interrupted(let step, let checkpoint):
            return "interrupted after step \(step); saved '\(checkpoint)'. To continue, run the"
                + " same command with --resume."
        }
    }
}
