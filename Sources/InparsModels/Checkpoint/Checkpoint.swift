import Foundation
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
        let manager = FileManager.default
        for name in weightFileNames {
            let url = directory.appendingPathComponent(name)
            guard manager.fileExists(atPath: url.path) else { continue }
            return try loadTensors(file: url)
        }
        throw .noWeights(directory: directory.path)
    }

    /// Loads every tensor of one weight file (or shard index), chosen by its name's suffix:
    /// `.safetensors`, `.bin`/`.pt`/`.pth` (torch.save zip), or `.index.json` (shards).
    public static func loadTensors(file url: URL) throws(CheckpointError) -> [String: Tensor] {
        let name = url.lastPathComponent
        if name.hasSuffix(".index.json") {
            return try loadSharded(index: url)
        }
        if name.hasSuffix(".safetensors") {
            return try SafetensorsFile(url: url).allTensors()
        }
        return try TorchCheckpointFile(url: url).allTensors()
    }

    /// The shard file names of a `*.index.json` (its `weight_map` values, deduplicated, sorted),
    /// and the tensor name → shard map.
    static func readShardIndex(_ index: URL) throws(CheckpointError) -> [String: String] {
        let data: Data
        do {
            data = try Data(contentsOf: index)
        } catch {
            if !FileManager.default.fileExists(atPath: index.path) {
                throw .fileNotFound(file: index.path)
            }
            throw .io(file: index.path, reason: "\(error.localizedDescription)")
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

    /// Loads the shards a `*.index.json` lists; every tensor must be in the shard it names.
    static func loadSharded(index: URL) throws(CheckpointError) -> [String: Tensor] {
        let map = try readShardIndex(index)
        let directory = index.deletingLastPathComponent()
        let shards = Set(map.values).sorted()
        for shard in shards {
            let url = directory.appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw .missingShard(index: index.path, shard: shard)
            }
        }
        var result: [String: Tensor] = [:]
        for shard in shards {
            let url = directory.appendingPathComponent(shard)
            let tensors = try loadTensors(file: url)
            for (name, tensor) in tensors {
                guard result[name] == nil else {
                    throw .duplicateTensor(file: url.path, tensor: name)
                }
                result[name] = tensor
            }
        }
        for (name, shard) in map where result[name] == nil {
            throw .missingTensor(file: directory.appendingPathComponent(shard).path, tensor: name)
        }
        return result
    }
}
