import Foundation

/// Why a checkpoint file could not be read or written.
///
/// Every case names the file (a path as given) and, where one is involved, the tensor.
public enum CheckpointError: Error, LocalizedError, Sendable, Equatable {
    /// No supported weights file in a model folder.
    case noWeights(directory: String)
    /// The file does not exist.
    case fileNotFound(file: String)
    /// The file exists but could not be opened, mapped, or written; `reason` is the system message.
    case io(file: String, reason: String)
    /// The file ends before a structure it must contain.
    case truncated(file: String, detail: String)
    /// The safetensors header length points past the end of the file.
    case headerOutOfBounds(file: String, headerLength: UInt64, fileSize: Int)
    /// The safetensors header (or a shard index, or a zip directory) is not what the format says.
    case malformedHeader(file: String, reason: String)
    /// A tensor's byte range lies (partly) outside the file's data section.
    case tensorOutOfBounds(file: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    /// A tensor's byte count disagrees with its shape and dtype.
    case byteCountMismatch(file: String, tensor: String, shape: [Int], dtype: String, expected: Int, actual: Int)
    /// A tensor's element type cannot be converted to Float.
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// The file holds no tensor of that name.
    case missingTensor(file: String, tensor: String)
    /// A shard index lists a shard file that does not exist.
    case missingShard(index: String, shard: String)
    /// Two files (or one file twice) define the same tensor name.
    case duplicateTensor(file: String, tensor: String)
    /// A zip archive (the `torch.save` container) is malformed or uses a feature we do not read.
    case malformedArchive(file: String, reason: String)
    /// The pickle stream is malformed, or uses an opcode outside the state-dict subset.
    case malformedPickle(file: String, offset: Int, reason: String)
    /// The pickle names a global outside the allow-list; nothing was imported or executed.
    case disallowedGlobal(file: String, module: String, name: String)

    public var errorDescription: String? {
        switch self {
        case .noWeights(let directory):
            return "no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json in '\(directory)'."
        case .fileNotFound(let file):
            return "checkpoint file '\(file)' does not exist."
        case .io(let file, let reason):
            return "cannot access checkpoint file '\(file)': \(reason)."
        case .truncated(let file, let detail):
            return "checkpoint file '\(file)' is truncated: \(detail)."
        case .headerOutOfBounds(let file, let headerLength, let fileSize):
            return "safetensors file '\(file)' declares a \(headerLength)-byte header but the file has only \(fileSize) bytes (truncated or not a safetensors file)."
        case .malformedHeader(let file, let reason):
            return "malformed header in '\(file)': \(reason)."
        case .tensorOutOfBounds(let file, let tensor, let begin, let end, let dataSize):
            return "tensor '\(tensor)' in '\(file)' occupies bytes \(begin)..<\(end) but the data section has only \(dataSize) bytes (truncated file?)."
        case .byteCountMismatch(let file, let tensor, let shape, let dtype, let expected, let actual):
            return "tensor '\(tensor)' in '\(file)' has \(actual) bytes but shape \(shape) of \(dtype) needs \(expected)."
        case .unsupportedDType(let file, let tensor, let dtype):
            return "tensor '\(tensor)' in '\(file)' has dtype \(dtype), which cannot be read as Float32."
        case .missingTensor(let file, let tensor):
            return "checkpoint '\(file)' has no tensor named '\(tensor)'."
        case .missingShard(let index, let shard):
            return "shard index '\(index)' lists '\(shard)', which does not exist beside it."
        case .duplicateTensor(let file, let tensor):
            return "tensor '\(tensor)' appears more than once (again in '\(file)')."
        case .malformedArchive(let file, let reason):
            return "'\(file)' is not a readable torch.save zip archive: \(reason)."
        case .malformedPickle(let file, let offset, let reason):
            return "pickle in '\(file)' at byte \(offset) cannot be read as a state dict: \(reason)."
        case .disallowedGlobal(let file, let module, let name):
            return "pickle in '\(file)' refers to '\(module).\(name)', which is not on the state-dict allow-list; refused without importing or running anything."
        }
    }
}
