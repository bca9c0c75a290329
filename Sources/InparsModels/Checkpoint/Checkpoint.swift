import Foundation
import InparsCore
import InparsTensor

/// Loading the weights of a Hugging Face model folder.
public enum Checkpoint {
    /// The weight files looked for, in order of preference.
    public static let weightFileNames = [
        "model.safetensors", "model.safetensors.index.json",
        "pytorch_model.bin", "pytorch_model.bin.index.json",
    ]

    /// Loads every tensor of a Hugging Face model folder, converted to `Float`, keyed by name.
    ///
    /// Looks, in this order, for `model.safetensors`, `model.safetensors.index.json` (shards
    /// listed in its `weight_map`), `pytorch_model.bin` (the `torch.save` zip format) and
    /// `pytorch_model.bin.index.json`, and reads the first one present. Safetensors comes first
    /// because it is memory-mapped and validated without running a pickle interpreter.
    ///
    /// - Throws: ``CheckpointError/noWeights(directory:)`` when none is present, else the
    ///   error of the file that failed (naming the file and tensor).
    public static func loadTensors(directory: URL) throws(CheckpointError) -> [String: Tensor] {
        try CheckpointReader(directory: directory).allTensors()
    }

    /// The weight file ``loadTensors(directory:)`` reads in `directory` (first of
    /// ``weightFileNames`` present), or `nil`; useful for naming the file in error messages.
    public static func weightsFile(directory: URL) -> URL? {
        weightFileNames.lazy.map { directory.appendingPathComponent($0) }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Loads every tensor of one weight file (or shard index), chosen by its name's suffix:
    /// `.safetensors`, `*.index.json` (shards), anything else as a torch.save zip.
    public static func loadTensors(file url: URL) throws(CheckpointError) -> [String: Tensor] {
        try CheckpointReader(file: url).allTensors()
    }

    /// The tensor name → shard file map of a `*.index.json` (its `weight_map`).
    static func readShardIndex(_ index: URL) throws(CheckpointError) -> [String: String] {
        let data: Data
        do {
            data = try Data(contentsOf: index)
        } catch {
            if !FileManager.default.fileExists(atPath: index.path) {
                throw .fileNotFound(file: index.path)
            }
            throw .io(file: index.path, reason: plainDescription(of: error))
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let map = object["weight_map"] as? [String: Any]
        else {
            throw .malformedHeader(
                file: index.path, reason: "no \"weight_map\" object of tensor name to shard file")
        }
        var result: [String: String] = [:]
        for (tensor, shard) in map {
            guard let shard = shard as? String, !shard.contains("/"), !shard.isEmpty else {
                throw .malformedHeader(
                    file: index.path,
                    reason: "weight_map entry '\(tensor)' is not a plain file name in this folder")
            }
            result[tensor] = shard
        }
        return result
    }
}
