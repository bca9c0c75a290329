import Foundation

/// Writes files and directories so that a crash never leaves a complete-looking output:
/// everything is written under a temporary name in the same directory and renamed at the end.
///
/// Every write names the ``OutputKind`` it produces, and replaces an existing path only when
/// that kind recognises it as ours (or it is empty); anything else is left untouched and the
/// write throws ``InparsCoreError/refusingToReplace(path:reason:)``, checked both before the
/// work starts and again just before the rename.
public enum AtomicFile {
    /// A hidden sibling name for `url`: `.<name>.<label>-<pid>-<random>`.
    public static func temporarySibling(of url: URL, label: String = "tmp") -> URL {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).\(label)-\(getpid())-\(suffix)")
    }

    /// Writes `url` through an ``OutputFile`` on a temporary name, then renames it into place
    /// (replacing an existing file of the same `kind`). On error the temporary file is removed.
    ///
    /// - Parameter compressed: gzip or not; `nil` means "when the name ends in `.gz`".
    @discardableResult
    public static func write<Result>(
        to url: URL, replacing kind: OutputKind, compressed: Bool? = nil,
        _ body: (OutputFile) throws -> Result
    ) throws -> Result {
        let useGzip = compressed ?? (url.pathExtension == "gz")
        return try replace(url, kind: kind) { temporary, url in
            let output: OutputFile
            do {
                output = try OutputFile(url: temporary, compressed: useGzip)
            } catch InparsCoreError.cannotOpen(_, let reason) {
                throw InparsCoreError.writeFailed(path: url.path, reason: reason)
            }
            let result = try body(output)
            try output.close()
            return result
        }
    }

    /// Writes `data` to `url` atomically (replacing an existing file of the same `kind`).
    ///
    /// One `write(2)` to the temporary file, without an ``OutputFile`` and its megabyte
    /// buffer: small files (manifests, rewritten at every commit of a resumable output) are
    /// written often.
    public static func write(_ data: Data, to url: URL, replacing kind: OutputKind) throws {
        try replace(url, kind: kind) { temporary, url in
            let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
            guard descriptor >= 0 else {
                throw InparsCoreError.writeFailed(path: url.path, reason: String(cString: strerror(errno)))
            }
            var failure: String?
            data.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else {
                        failure = written < 0 ? String(cString: strerror(errno)) : "short write (disk full?)"
                        return
                    }
                    offset += written
                }
            }
            if close(descriptor) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
            if let failure { throw InparsCoreError.writeFailed(path: url.path, reason: failure) }
        }
    }

    /// The standardized `url` and a fresh temporary sibling for it, once its parent is checked,
    /// stale siblings of an earlier crash are recovered and what is at `url` is of `kind`.
    private static func prepare(_ url: URL, kind: OutputKind) throws -> (url: URL, temporary: URL) {
        let url = url.standardizedFileURL
        try checkParent(of: url)
        recoverStaleSiblings(of: url)
        try kind.check(url)
        return (url, temporarySibling(of: url))
    }

    /// The steps every file write shares: `fill` writes the temporary sibling (given it and
    /// the standardized `url`), which is then renamed over `url`; `kind` is checked before
    /// and again just before the rename; on error the temporary file is removed.
    private static func replace<Result>(
        _ url: URL, kind: OutputKind, fill: (_ temporary: URL, _ url: URL) throws -> Result
    ) throws -> Result {
        let (url, temporary) = try prepare(url, kind: kind)
        do {
            let result = try fill(temporary, url)
            try kind.check(url)
            try rename(temporary, to: url)
            return result
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Builds a directory at `url`: `body` fills a fresh temporary sibling directory, which is
    /// then renamed to `url`. An existing folder of the same `kind` (or an empty one) is moved
    /// aside first and removed once the new one is in place; if the process dies between the
    /// two renames, the previous folder survives as `.<name>.old-…` beside it. On error the
    /// temporary directory is removed and `url` is left as it was.
    @discardableResult
    public static func writeDirectory<Result>(
        at url: URL, replacing kind: OutputKind, _ body: (URL) throws -> Result
    ) throws -> Result {
        let (url, temporary) = try prepare(url, kind: kind)
        let manager = FileManager.default
        do {
            do {
                try manager.createDirectory(at: temporary, withIntermediateDirectories: false)
            } catch {
                throw InparsCoreError.writeFailed(path: url.path, reason: plainDescription(of: error))
            }
            let result = try body(temporary)
            try kind.check(url)
            let old = temporarySibling(of: url, label: "old")
            let hadPrevious = manager.fileExists(atPath: url.path)
            if hadPrevious { try rename(url, to: old) }
            do {
                try rename(temporary, to: url)
            } catch {
                if hadPrevious { _ = Foundation.rename(old.path, url.path) }
                throw error
            }
            if hadPrevious { try? manager.removeItem(at: old) }
            return result
        } catch {
            try? manager.removeItem(at: temporary)
            throw error
        }
    }

    /// Cleans up after a writer of `url` that was killed: its temporary siblings
    /// (`.<name>.tmp-<pid>-…`, never complete) are removed, and a previous version it had moved
    /// aside (`.<name>.old-<pid>-…`, complete) is put back when `url` is missing, else removed.
    /// Only names whose process no longer runs are touched.
    ///
    /// The folder is read with `readdir` and names are compared as bytes, so a large folder
    /// (a `/tmp` of thousands of entries) costs one pass without a `String` per entry; and a
    /// path is checked once per process (this process's own siblings never need recovery, and
    /// a resumable output rewrites its manifest many times).
    public static func recoverStaleSiblings(of url: URL) {
        guard StaleSiblingScans.first(url.path) else { return }
        let parent = url.deletingLastPathComponent()
        let manager = FileManager.default
        let stem = Array(".\(url.lastPathComponent).".utf8)
        var names: [String] = []
        guard let directory = opendir(parent.path) else { return }
        while let entry = readdir(directory) {
            let matches = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let length = strnlen(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
                return length > stem.count && memcmp(raw.baseAddress!, stem, stem.count) == 0
            }
            if matches {
                names.append(
                    withUnsafeBytes(of: &entry.pointee.d_name) {
                        String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self))
                    })
            }
        }
        closedir(directory)
        for name in names.sorted() {
            for label in ["tmp", "old"] {
                let prefix = ".\(url.lastPathComponent).\(label)-"
                guard name.hasPrefix(prefix),
                    let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }),
                    pid > 0, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH
                else { continue }
                let stale = parent.appendingPathComponent(name)
                if label == "old" && !manager.fileExists(atPath: url.path) {
                    _ = Foundation.rename(stale.path, url.path)
                } else {
                    try? manager.removeItem(at: stale)
                }
            }
        }
    }

    /// Throws a plain message when the folder `url` goes in is missing or not a folder.
    public static func checkParent(of url: URL) throws {
        let parent = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) else {
            throw InparsCoreError.writeFailed(
                path: url.path, reason: "the folder '\(parent)' does not exist; create it first")
        }
        guard isDirectory.boolValue else {
            throw InparsCoreError.writeFailed(
                path: url.path, reason: "'\(parent)' is a file, not a folder")
        }
    }

    private static func rename(_ from: URL, to: URL) throws {
        if Foundation.rename(from.path, to.path) != 0 {
            throw InparsCoreError.writeFailed(
                path: to.path, reason: "rename failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// The paths whose stale siblings this process has already looked for.
private enum StaleSiblingScans {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var scanned: Set<String> = []

    /// True the first time `path` is asked about in this process.
    static func first(_ path: String) -> Bool {
        lock.withLock { scanned.insert(path).inserted }
    }
}
