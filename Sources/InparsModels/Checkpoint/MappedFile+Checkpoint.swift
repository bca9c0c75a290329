import Foundation
import InparsCore

extension MappedFile {
    /// Maps a checkpoint file, reporting failures as ``CheckpointError`` naming the file.
    static func checkpoint(_ url: URL) throws(CheckpointError) -> MappedFile {
        do {
            return try MappedFile(path: url.path)
        } catch {
            switch error {
            case .notFound: throw .fileNotFound(file: url.path)
            case .notRegularFile: throw .io(file: url.path, reason: "not a regular file")
            case .system(let operation, let reason):
                throw .io(file: url.path, reason: "\(operation) failed: \(reason)")
            }
        }
    }
}
