import Foundation

/// Mistakes in how a reranker is set up: an option out of range, or label pieces a model
/// folder's tokenizer cannot produce as single tokens.
public enum RankerError: Error, LocalizedError, Sendable, Equatable {
    /// An option is outside its range (`name` is the option's flag, e.g. `--max-length`).
    case invalidOption(name: String, value: String, reason: String)
    /// A label word does not encode to its label piece alone, so scoring would read (and
    /// training would teach) a token the model never sees for that word.
    case labelNotSingleToken(word: String, piece: String, encoded: [String], directory: String)
    /// A scorer returned another number of scores than documents it was given.
    case scoreCountMismatch(query: String, expected: Int, found: Int)
    /// The reranking produced nothing, or skipped most of the run.
    case nothingReranked(reason: String)

    public var errorDescription: String? {
        switch self {
        case .invalidOption(let name, let value, let reason):
            return "invalid \(name) \(value): \(reason)"
        case .labelNotSingleToken(let word, let piece, let encoded, let directory):
            let folder = directory.isEmpty ? "the tokenizer" : "the tokenizer of '\(directory)'"
            return
                "\(folder) encodes the label '\(word)' as \(encoded.count) pieces \(encoded), not as the single piece '\(piece)'; monoT5 scoring and training need each label to be one token: pick the labels this model was trained with (--labels true-false or yes-no)"
        case .scoreCountMismatch(let query, let expected, let found):
            return "the scorer returned \(found) scores for the \(expected) documents of query '\(query)'"
        case .nothingReranked(let reason):
            return "nothing written: \(reason); check that the run, queries and corpus belong"
                + " to the same collection"
        }
    }
}
