import Foundation
import InparsTensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Checkpoint {
    /// Writes a Hugging Face model folder (`model.safetensors` plus other files) as one unit.
    ///
    /// Everything is written into a hidden temporary folder beside `directory` and renamed into
    /// place only when complete, so a crash or a full disk never leaves a half-written folder
    /// at `directory`. An existing `directory` is first renamed aside, then removed after the
    /// new one is in place (if the process dies between the two renames, the previous folder
    /// survives as `.<name>.old-…` beside it).
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
        let manager = FileManager.default
        let parent = directory.deletingLastPathComponent()
        let name = directory.lastPathComponent
        let token = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let temporary = parent.appendingPathComponent(".\(name).tmp-\(token)")
        do {
            try manager.createDirectory(at: temporary, withIntermediateDirectories: false)
        } catch {
            throw .io(file: temporary.path, reason: Self.reason(error))
        }
        var finished = false
        defer { if !finished { try? manager.removeItem(at: temporary) } }

        try SafetensorsWriter.write(
            tensors, to: temporary.appendingPathComponent("model.safetensors"))
        for (fileName, data) in files.sorted(by: { $0.key < $1.key }) {
            guard !fileName.isEmpty, !fileName.contains("/"), fileName != "model.safetensors" else {
                throw .io(file: fileName, reason: "not a plain file name for a model folder")
            }
            let target = temporary.appendingPathComponent(fileName)
            do {
                try data.write(to: target)
            } catch {
                throw .io(file: target.path, reason: Self.reason(error))
            }
        }
        for source in copying {
            guard manager.fileExists(atPath: source.path) else {
                throw .fileNotFound(file: source.path)
            }
            let target = temporary.appendingPathComponent(source.lastPathComponent)
            do {
                try manager.copyItem(at: source.resolvingSymlinksInPath(), to: target)
            } catch {
                throw .io(file: target.path, reason: Self.reason(error))
            }
        }

        let old = parent.appendingPathComponent(".\(name).old-\(token)")
        let hadPrevious = manager.fileExists(atPath: directory.path)
        if hadPrevious {
            guard rename(directory.path, old.path) == 0 else {
                throw .io(
                    file: directory.path,
                    reason: "cannot move the previous folder aside: "
                        + String(cString: strerror(errno)))
            }
        }
        guard rename(temporary.path, directory.path) == 0 else {
            let reason = String(cString: strerror(errno))
            if hadPrevious { _ = rename(old.path, directory.path) }
            throw .io(file: directory.path, reason: "rename failed: \(reason)")
        }
        finished = true
        if hadPrevious { try? manager.removeItem(at: old) }
    }

    private static func reason(_ error: any Error) -> String {
        if let posix = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError,
            posix.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(posix.code)))
        }
        return error.localizedDescription
    }
}
