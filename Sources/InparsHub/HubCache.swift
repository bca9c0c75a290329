import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One repository's folder in the `huggingface_hub` cache, laid out exactly as Python's
/// `huggingface_hub` lays it out, so either tool finds what the other downloaded:
///
/// ```
/// <cache>/models--org--name/
///     blobs/<etag>                       file contents, named by ETag (sha256 for LFS files)
///     refs/<revision>                    the commit a branch or tag pointed to (no newline)
///     snapshots/<commit>/<file>          relative symlink -> ../../blobs/<etag>
///     .no_exist/<commit>/<file>          empty: the file does not exist at that commit
/// <cache>/.locks/models--org--name/<etag>.lock   held (flock) while a blob downloads
/// ```
struct RepoCache {
    let root: URL
    let repo: String

    init(root: URL, repo: String) {
        self.root = root
        self.repo = repo
    }

    /// `models--org--name`.
    var folderName: String { "models--" + repo.replacingOccurrences(of: "/", with: "--") }
    var folder: URL { root.appendingPathComponent(folderName) }
    var blobs: URL { folder.appendingPathComponent("blobs") }

    func snapshot(_ commit: String) -> URL {
        folder.appendingPathComponent("snapshots").appendingPathComponent(commit)
    }

    func pointer(_ commit: String, _ file: String) -> URL {
        snapshot(commit).appendingPathComponent(file)
    }

    func blob(_ etag: String) -> URL { blobs.appendingPathComponent(etag) }

    func lockFile(_ etag: String) -> URL {
        root.appendingPathComponent(".locks").appendingPathComponent(folderName)
            .appendingPathComponent("\(etag).lock")
    }

    /// Whether the snapshot holds `file` (following the symlink: a dangling one is absent).
    func has(_ commit: String, _ file: String) -> Bool {
        FileManager.default.fileExists(atPath: pointer(commit, file).path)
    }

    /// Whether `.no_exist/<commit>/<file>` records that the file does not exist.
    func isKnownMissing(_ commit: String, _ file: String) -> Bool {
        FileManager.default.fileExists(
            atPath: folder.appendingPathComponent(".no_exist").appendingPathComponent(commit)
                .appendingPathComponent(file).path)
    }

    /// The commit `revision` stands for locally: itself when it is a full commit hash, else
    /// the content of `refs/<revision>`, else `nil`.
    func commit(for revision: String) -> String? {
        if Self.isCommitHash(revision) { return revision }
        let ref = folder.appendingPathComponent("refs").appendingPathComponent(revision)
        guard let text = try? String(contentsOf: ref, encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }

    /// Records that `revision` points to `commit` (atomically; only when it changed). Nothing
    /// is written for a revision that is itself a commit hash.
    func writeRef(_ revision: String, commit: String) throws(HubError) {
        guard revision != commit else { return }
        let ref = folder.appendingPathComponent("refs").appendingPathComponent(revision)
        if (try? String(contentsOf: ref, encoding: .utf8)) == commit { return }
        try createFolder(ref.deletingLastPathComponent())
        try writeAtomically(Data(commit.utf8), to: ref)
    }

    /// Creates `.no_exist/<commit>/<file>` (best effort, as huggingface_hub does).
    func markMissing(_ commit: String, _ file: String) {
        let marker = folder.appendingPathComponent(".no_exist").appendingPathComponent(commit)
            .appendingPathComponent(file)
        try? FileManager.default.createDirectory(
            at: marker.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: marker.path) {
            _ = FileManager.default.createFile(atPath: marker.path, contents: Data())
        }
    }

    /// Points `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative symlink (replacing
    /// whatever link was there).
    func link(_ commit: String, _ file: String, etag: String) throws(HubError) {
        let target = pointer(commit, file)
        try createFolder(target.deletingLastPathComponent())
        // From snapshots/<commit>/<file's folder> up to the repository folder, then blobs/.
        let depth = 2 + file.split(separator: "/").count - 1
        let relative = String(repeating: "../", count: depth) + "blobs/" + etag
        unlink(target.path)
        guard symlink(relative, target.path) == 0 else {
            throw .cacheIO(
                path: target.path,
                reason: "cannot create symlink: \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `CACHEDIR.TAG` in the cache root if absent, so backup tools skip the cache.
    func tagCacheDirectory() {
        let tag = root.appendingPathComponent("CACHEDIR.TAG")
        guard !FileManager.default.fileExists(atPath: tag.path) else { return }
        let text =
            "Signature: 8a477f597d28d172789f06886806bc55\n"
            + "# This file marks a cache directory (https://bford.info/cachedir/).\n"
        try? Data(text.utf8).write(to: tag)
    }

    func createFolder(_ url: URL) throws(HubError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw .cacheIO(
                path: url.path, reason: "cannot create the folder (\(error.localizedDescription))")
        }
    }

    func writeAtomically(_ data: Data, to url: URL) throws(HubError) {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            "\(url.lastPathComponent).\(UInt32.random(in: 0...UInt32.max)).tmp")
        do {
            try data.write(to: temporary)
        } catch {
            throw .cacheIO(path: temporary.path, reason: error.localizedDescription)
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw .cacheIO(path: url.path, reason: "rename failed: \(reason)")
        }
    }

    /// A full 40-digit lower-case hexadecimal commit hash.
    static func isCommitHash(_ text: String) -> Bool {
        text.utf8.count == 40
            && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// An exclusive `flock` on a lock file, the lock huggingface_hub's `filelock` takes on the same
/// path (so the two tools never download one blob at once).
final class FileLock {
    private let descriptor: Int32

    /// Takes the lock, waiting for another holder; `onWait` is called once if it must wait.
    init(_ url: URL, onWait: () -> Void) throws(HubError) {
        try? FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .cacheIO(
                path: url.path,
                reason: "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            onWait()
            while flock(descriptor, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    close(descriptor)
                    throw .cacheIO(
                        path: url.path, reason: "cannot lock: \(String(cString: strerror(errno)))")
                }
            }
        }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
