import Foundation
import InparsTensor

/// Lazy access to the tensors of a model folder or weight file, whatever its format.
///
/// Opens (memory-maps and validates) a `model.safetensors`, a `pytorch_model.bin`, or every
/// shard of a `*.index.json`, without converting anything; ``tensor(named:)`` converts one
/// tensor at a time, so a loader can keep peak memory near the model's own size.
/// ``Checkpoint/loadTensors(directory:)`` is `CheckpointReader(directory:).allTensors()`.
public struct CheckpointReader: Sendable {
    enum Source: Sendable {
        case safetensors(SafetensorsFile)
        case torch(TorchCheckpointFile)

        var names: [String] {
            switch self {
            case .safetensors(let file): return file.names
            case .torch(let file): return file.names
            }
        }

        var url: URL {
            switch self {
            case .safetensors(let file): return file.url
            case .torch(let file): return file.url
            }
        }

        func shape(of name: String) -> [Int]? {
            switch self {
            case .safetensors(let file): return file.shape(of: name)
            case .torch(let file): return file.shape(of: name)
            }
        }

        func dtype(of name: String) -> String? {
            switch self {
            case .safetensors(let file): return file.dtype(of: name)
            case .torch(let file): return file.dtype(of: name)
            }
        }

        func tensor(named name: String) throws(CheckpointError) -> Tensor {
            switch self {
            case .safetensors(let file): return try file.tensor(named: name)
            case .torch(let file): return try file.tensor(named: name)
            }
        }
    }

    /// The file opened: a weight file or a shard index.
    public let url: URL
    /// Every tensor name, sorted.
    public let names: [String]
    let sources: [Source]
    let location: [String: Int]

    /// Opens the weights of a model folder, preferring (in order) `model.safetensors`,
    /// `model.safetensors.index.json`, `pytorch_model.bin`, `pytorch_model.bin.index.json`.
    ///
    /// - Throws: ``CheckpointError/noWeights(directory:)`` when none is present, else the
    ///   error of the file that failed.
    public init(directory: URL) throws(CheckpointError) {
        guard let url = Checkpoint.weightsFile(directory: directory) else {
            throw .noWeights(directory: directory.path)
        }
        try self.init(file: url)
    }

    /// Opens one weight file chosen by its name's suffix: `.safetensors`, `*.index.json`
    /// (every shard it lists, which must sit beside it), anything else as a torch.save zip.
    ///
    /// - Throws: ``CheckpointError``: a missing shard, a tensor the index promises but its
    ///   shard lacks, a name defined twice, or any error of the files themselves.
    public init(file url: URL) throws(CheckpointError) {
        self.url = url
        let name = url.lastPathComponent
        var sources: [Source] = []
        var promised: [String: String] = [:]
        if name.hasSuffix(".index.json") {
            promised = try Checkpoint.readShardIndex(url)
            let directory = url.deletingLastPathComponent()
            let shards = Set(promised.values).sorted()
            for shard in shards {
                let shardURL = directory.appendingPathComponent(shard)
                guard FileManager.default.fileExists(atPath: shardURL.path) else {
                    throw .missingShard(index: url.path, shard: shard)
                }
            }
            for shard in shards {
                sources.append(try Self.open(directory.appendingPathComponent(shard)))
            }
        } else {
            sources.append(try Self.open(url))
        }
        var location: [String: Int] = [:]
        for (index, source) in sources.enumerated() {
            for tensor in source.names {
                guard location[tensor] == nil else {
                    throw .duplicateTensor(file: source.url.path, tensor: tensor)
                }
                location[tensor] = index
            }
        }
        for (tensor, shard) in promised.sorted(by: { $0.key < $1.key })
        where location[tensor] == nil {
            throw .missingTensor(
                file: url.deletingLastPathComponent().appendingPathComponent(shard).path,
                tensor: tensor)
        }
        self.sources = sources
        self.location = location
        names = location.keys.sorted()
    }

    private static func open(_ url: URL) throws(CheckpointError) -> Source {
        url.lastPathComponent.hasSuffix(".safetensors")
            ? .safetensors(try SafetensorsFile(url: url))
            : .torch(try TorchCheckpointFile(url: url))
    }

    /// The file holding tensor `name` (a shard, for sharded checkpoints), or `nil`.
    public func file(of name: String) -> URL? { location[name].map { sources[$0].url } }

    /// The shape of tensor `name`, or `nil` when the checkpoint has no such tensor.
    public func shape(of name: String) -> [Int]? {
        location[name].flatMap { sources[$0].shape(of: name) }
    }

    /// The stored dtype (`"F32"`, `"BF16"`, …) of tensor `name`, or `nil` when absent.
    public func dtype(of name: String) -> String? {
        location[name].flatMap { sources[$0].dtype(of: name) }
    }

    /// Tensor `name` converted to `Float`, row-major.
    ///
    /// - Throws: ``CheckpointError/missingTensor(file:tensor:)`` naming the opened file, or a
    ///   conversion error naming the file that holds the tensor.
    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let index = location[name] else { throw .missingTensor(file: url.path, tensor: name) }
        return try sources[index].tensor(named: name)
    }

    /// Whether tensors `name` and `other` are one tensor stored once: two keys of a PyTorch
    /// state dict viewing the same storage with the same offset, shape and strides (a tied
    /// weight saved by `torch.save`). Safetensors cannot alias, so it is `false` there.
    public func isAlias(_ name: String, of other: String) -> Bool {
        guard let index = location[name], location[other] == index,
            case .torch(let file) = sources[index]
        else { return false }
        return file.views[name] != nil && file.views[name] == file.views[other]
    }

    /// Every tensor, converted to `Float`.
    public func allTensors() throws(CheckpointError) -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        result.reserveCapacity(names.count)
        for name in names { result[name] = try tensor(named: name) }
        return result
    }
}
