import Foundation

/// What an output path may already hold when a command writes it.
///
/// inpars replaces only what it wrote: an existing path is replaced when it is empty (a
/// zero-byte file, an empty folder) or recognisably an output of the same kind (a TREC run
/// for a run, an index folder for an index). Anything else belongs to the user, and the write
/// stops with ``InparsCoreError/refusingToReplace(path:reason:)`` before anything is touched.
/// ``AtomicFile`` takes a kind for every write; commands call ``check(_:inputs:)`` first, so a
/// long job refuses before it starts, and so an output never replaces one of its own inputs.
public struct OutputKind: Sendable {
    /// A file or a folder.
    public enum Shape: Sendable, Equatable {
        case file, directory
    }

    /// For messages: "a TREC run", "a BM25 index folder".
    public let name: String
    public let shape: Shape
    /// Whether an existing, non-empty path of the right shape is one of ours.
    private let recognises: @Sendable (URL) -> Bool

    /// A kind recognised by `recognises` (called only for an existing, non-empty path of the
    /// right shape).
    public init(name: String, shape: Shape, recognises: @escaping @Sendable (URL) -> Bool) {
        self.name = name
        self.shape = shape
        self.recognises = recognises
    }

    /// A file kind recognised by its first non-blank line (read through zlib, so `.gz` works).
    public static func file(
        _ name: String, firstLine: @escaping @Sendable (String) -> Bool
    ) -> OutputKind {
        OutputKind(name: name, shape: .file) { url in
            guard let line = try? LineReader.firstNonBlankLine(of: url) else { return false }
            return firstLine(line)
        }
    }

    /// A folder kind: every entry's name is in `entries` and `check` accepts the folder.
    public static func directory(
        _ name: String, entries: Set<String>,
        check: @escaping @Sendable (URL) -> Bool = { _ in true }
    ) -> OutputKind {
        OutputKind(name: name, shape: .directory) { url in
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path)
            else { return false }
            return names.allSatisfy(entries.contains) && check(url)
        }
    }

    /// A kind that recognises nothing: only an absent or empty path may be written.
    public static func fresh(_ name: String, shape: Shape = .file) -> OutputKind {
        OutputKind(name: name, shape: shape) { _ in false }
    }

    /// A TREC run: `qid Q0 docid rank score tag`.
    public static let trecRun = OutputKind.file("a TREC run") { line in
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return fields.count == 6 && Int(fields[3]) != nil && Double(fields[4]) != nil
    }

    /// Throws unless `url` may be written as this kind: absent, empty, or ours; never a path
    /// that is also one of `inputs` (the command would destroy what it reads).
    ///
    /// - Throws: ``InparsCoreError/refusingToReplace(path:reason:)`` naming the path and why.
    public func check(_ url: URL, inputs: [URL] = []) throws {
        let path = url.path
        for input in inputs where Self.sameFile(url, input) {
            throw InparsCoreError.refusingToReplace(
                path: path, reason: "it is also an input of this command ('\(input.path)')")
        }
        // stat and lstat rather than FileManager's attributes, which also look up the owner's
        // user and group names (reading /etc/passwd and /etc/group): a resumable output checks
        // its manifest's path before every manifest write.
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        switch (shape, isDirectory) {
        case (.file, true):
            throw InparsCoreError.refusingToReplace(
                path: path, reason: "it is a folder, and the output is \(name) (a file)")
        case (.directory, false):
            throw InparsCoreError.refusingToReplace(
                path: path, reason: "it is a file, and the output is \(name)")
        case (.file, false):
            // The size of the path itself (a symbolic link's own, as before: renaming over a
            // link replaces the link, not its target).
            var own = stat()
            let empty = lstat(path, &own) == 0 && own.st_size == 0
            if empty || recognises(url) { return }
            throw InparsCoreError.refusingToReplace(
                path: path, reason: "it exists and does not look like \(name)")
        case (.directory, true):
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            if names.isEmpty || recognises(url) { return }
            throw InparsCoreError.refusingToReplace(
                path: path,
                reason: "it is a folder holding files that are not \(name)'s ("
                    + names.sorted().prefix(3).joined(separator: ", ")
                    + (names.count > 3 ? ", …" : "") + ")")
        }
    }

    /// Whether two paths name the same existing file (device and inode).
    static func sameFile(_ a: URL, _ b: URL) -> Bool {
        var first = stat()
        var second = stat()
        guard stat(a.path, &first) == 0, stat(b.path, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }
}
