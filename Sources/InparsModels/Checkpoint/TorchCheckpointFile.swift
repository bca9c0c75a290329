import Foundation
import InparsTensor

/// A `torch.save` checkpoint (zip of a pickled state dict plus raw storages). Placeholder
/// until the reader lands; see Docs/checkpoints.md.
public struct TorchCheckpointFile: Sendable {
    public let url: URL

    public init(url: URL) throws(CheckpointError) {
        self.url = url
        throw .malformedArchive(file: url.path, reason: "pytorch_model.bin reading is not implemented yet")
    }

    public func allTensors() throws(CheckpointError) -> [String: Tensor] { [:] }
}
