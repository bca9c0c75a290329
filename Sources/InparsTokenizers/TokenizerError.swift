import Foundation

/// Errors raised while loading a tokenizer (`spiece.model`, `tokenizer.json`).
///
/// Every case names the file, and where it helps the byte offset or the JSON field, so the
/// message alone says what to fix.
public enum TokenizerError: Error, LocalizedError, Sendable, Equatable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// A `spiece.model` that is not a valid SentencePiece `ModelProto` (protobuf wire format).
    case malformedModel(path: String, offset: Int, reason: String)
    /// A `tokenizer.json` that is not valid JSON or has the wrong shape.
    case malformedJSON(path: String, reason: String)
    /// A required field is absent.
    case missingField(path: String, field: String)
    /// A field is present but its value cannot be used.
    case invalidField(path: String, field: String, reason: String)
    /// The file describes something inpars does not implement (a model type, normaliser,
    /// pre-tokenizer, decoder or regex construct); `feature` names it and its JSON path.
    case unsupported(path: String, feature: String)
    /// A model folder holds no tokenizer file inpars reads.
    case noTokenizerFiles(directory: String)

    public var errorDescription: String? {
        switch self {
        case .fileNotFound(let path):
            "Tokenizer file '\(path)' does not exist."
        case .unreadableFile(let path, let reason):
            "Cannot read tokenizer file '\(path)': \(reason)."
        case .malformedModel(let path, let offset, let reason):
            "SentencePiece model '\(path)' is malformed at byte \(offset): \(reason)."
        case .malformedJSON(let path, let reason):
            "Tokenizer file '\(path)' is not a valid tokenizer.json (\(reason)); download it again"
                + " from the model's repository."
        case .missingField(let path, let field):
            "Tokenizer file '\(path)' has no field '\(field)'."
        case .invalidField(let path, let field, let reason):
            "Tokenizer file '\(path)' has an invalid '\(field)': \(reason)."
        case .unsupported(let path, let feature):
            "Tokenizer file '\(path)' uses \(feature), which inpars does not support (Docs/tokenizer.md lists what it reads)."
        case .noTokenizerFiles(let directory):
            "Folder '\(directory)' has no tokenizer: inpars reads tokenizer.json, vocab.txt (BERT) or spiece.model (T5)."
        }
    }
}
