import Foundation
import InparsCore
import InparsTensor

extension Checkpoint {
    /// The files of a model folder inpars writes: weights, config, tokenizer files, and the
    /// trainer's state, log and optimizer state in `checkpoint-<step>` folders.
    public static let modelFolderFiles: Set<String> = [
        "model.safetensors", "config.json", "generation_config.json", "spiece.model",
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "trainer_state.json", "train_log.jsonl", "optimizer.safetensors",
    ]

    /// What a model-folder writer may replace: a folder holding only ``modelFolderFiles`` and
    /// `extra` names (a downloaded model with a README, say, is not ours).
    public static func modelFolderKind(extra: Set<String> = []) -> OutputKind {
        .directory("a model folder written by inpars", entries: modelFolderFiles.union(extra))
    }

    /// Writes a Hugging Face model folder (`model.safetensors` plus other files) as one unit.
    ///
    /// Everything is written into a hidden temporary folder beside `directory` and renamed into
    /// place only when complete (``AtomicFile/writeDirectory(at:replacing:_:)``), so a crash or
    /// a full disk never leaves a half-written folder at `directory`. An existing model folder
    /// (``modelFolderKind(extra:)``) is replaced; any other existing path is refused.
    ///
    /// - Parameters:
    ///   - tensors: written to `model.safetensors` as F32 (metadata `{"format": "pt"}`).
    ///   - files: extra files by plain name, e.g. `["config.json": data]`.
    ///   - copying: files copied in under their own names (tokenizer files, say).
    ///   - directory: the model folder to create or replace; its parent must exist.
    /// - Throws: ``CheckpointError``; on failure the temporary folder is removed and any
    ///   previous `directory` is left as it was.
    public static func writeModelFolder(
        tensors: [String: Tensor], files: [String: Data] = [:], copying: [URL] = [],
        to directory: URL
    ) throws(CheckpointError) {
        for fileName in files.keys
        where fileName.isEmpty || fileName.contains("/") || fileName == "model.safetensors" {
            throw .io(file: fileName, reason: "not a plain file name for a model folder")
        }
        for source in copying where !FileManager.default.fileExists(atPath: source.path) {
            throw .fileNotFound(file: source.path)
        }
        let kind = modelFolderKind(
            extra: Set(files.keys).union(copying.map(\.lastPathComponent)))
        do {
            try AtomicFile.writeDirectory(at: directory, replacing: kind) { temporary in
                try SafetensorsWriter.write(
                    tensors, to: temporary.appendingPathComponent("model.safetensors"))
                for (fileName, data) in files.sorted(by: { $0.key < $1.key }) {
                    let target = temporary.appendingPathComponent(fileName)
                    do {
                        try data.write(to: target)
                    } catch {
                        throw CheckpointError.io(file: target.path, reason: Self.reason(error))
                    }
                }
                for source in copying {
                    let target = temporary.appendingPathComponent(source.lastPathComponent)
                    do {
                        // Hub cache entries are symlinks into blobs/: copy the file itself.
                        try FileManager.default.copyItem(
                            at: source.resolvingSymlinksInPath(), to: target)
                    } catch {
                        throw CheckpointError.io(file: target.path, reason: Self.reason(error))
                    }
                }
            }
        } catch let error as CheckpointError {
            throw error
        } catch let error as InparsCoreError {
            throw .io(file: directory.path, reason: error.errorDescription ?? "\(error)")
        } catch {
            throw .io(file: directory.path, reason: Self.reason(error))
        }
    }

    private static func reason(_ error: any Error) -> String { plainDescription(of: error) }
}
