import Foundation

/// The running totals of a resumable stage: kept in its manifest across restarts, added up
/// across shards by `inpars merge`.
public protocol StageSummary: Codable, Sendable {
    init()
    /// Adds another part's counts (a later stretch of work, or another shard).
    mutating func add(_ other: Self)
}

/// The one resume mechanism of `filter`, `search`, `triples` and `rerank`: an output written
/// in work order to a partial file, committed in a manifest, finished atomically.
///
/// A stage does its items in a fixed order (queries of the run, input rows), appends each
/// item's output bytes with ``append(_:to:)`` and calls ``commit(items:summary:)``; every
/// second or so (``commitInterval``) the partial files are synced and the manifest is
/// rewritten (atomically) with the items done, the bytes that hold them and the summary so
/// far. After a kill, the same command finds the manifest, cuts each partial file back to its
/// committed length (dropping a torn tail) and continues at the first uncommitted item, so
/// the finished bytes are those of an uninterrupted run. ``finish(items:summary:transform:)``
/// turns each partial file into its output (a hard link renamed into place; gzip-compressed
/// for a `.gz` name; or through a second pass, `transform`) and marks the manifest complete.
///
/// Files, beside the output `out`: `out.manifest.json` (kept; ``OutputManifest``) and, while
/// running, `out.inpars-partial`. Only files whose manifest is ours are ever cut, replaced or
/// deleted. A rerun whose settings or inputs differ is refused, naming each difference
/// (`overwrite` starts over instead); a rerun of a complete output does nothing (``isComplete``).
///
/// Test hook: with `INPARS_TEST_KILL_AFTER_ITEMS=N` in the environment, the process commits
/// after item N, writes half of the next item's bytes and sends itself `SIGKILL`.
public final class ResumableOutput<Summary: StageSummary> {
    /// The role of the main output.
    public static var main: String { OutputManifest.mainRole }

    /// The partial file of an output.
    public static func partialURL(for output: URL) -> URL {
        output.deletingLastPathComponent().appendingPathComponent(
            output.lastPathComponent + ".inpars-partial")
    }

    /// Outputs by role (`main`, and e.g. `ids`).
    public let outputs: [String: URL]
    public let manifestURL: URL
    /// Whether the output was already complete (nothing to do).
    public private(set) var isComplete = false
    /// Items done when this run started (0 when fresh).
    public let itemsAtStart: Int
    /// Bytes of torn or uncommitted tail cut from the partial files on resume.
    public private(set) var droppedBytes: Int64 = 0
    /// The summary of the items done (restored on resume; final when complete).
    public private(set) var summary: Summary
    /// Seconds between manifest commits (work done since the last commit is redone after a
    /// kill).
    public var commitInterval: Double = 1

    private var manifest: OutputManifest
    /// What each role's output may replace.
    private let kinds: [String: OutputKind]
    /// Each role's partial file, written and hashed (SHA-256 of every byte: this run's as
    /// they are written, an earlier run's committed bytes read once on resume), so that
    /// finishing records the output's identity without reading the finished file back.
    private var files: [String: HashingAppender] = [:]
    /// Whether the files are written and hashed on background queues (``HashingAppender``).
    private let backgroundWrites: Bool
    private var items: Int
    private var lastCommit = ProcessInfo.processInfo.systemUptime
    private var killAfterItems: Int?
    private var killArmed = false

    /// Opens (or resumes, or recognises as complete) the outputs described by `manifest`.
    ///
    /// - Parameters:
    ///   - outputs: the files by role; `main` is required and its manifest is the one kept.
    ///   - kinds: what each role's output may replace (``OutputKind``); a role without one
    ///     replaces only an absent or empty path.
    ///   - inputs: the command's inputs, which no output may be.
    ///   - overwrite: discard an earlier manifest and partial files (ours only) and start over.
    ///   - backgroundWrites: write and hash the outputs on background queues (the default),
    ///     or on the thread that appends: for a caller whose own threads keep every core
    ///     busy, where background threads would only compete with them (``HashingAppender``).
    /// - Throws: ``InparsCoreError/outputMismatch(path:differences:)`` when the earlier run
    ///   had other settings or inputs, ``InparsCoreError/cannotResume(path:reason:)`` when
    ///   its files are not in the state its manifest records.
    public init(
        outputs: [String: URL], kinds: [String: OutputKind], inputs: [URL] = [],
        manifest: OutputManifest, overwrite: Bool, backgroundWrites: Bool = true
    ) throws {
        self.backgroundWrites = backgroundWrites
        guard let main = outputs[Self.main] else {
            preconditionFailure("ResumableOutput needs a 'main' output")
        }
        self.outputs = outputs
        self.kinds = outputs.keys.reduce(into: [:]) { result, role in
            result[role] = kinds[role] ?? .fresh("an output")
        }
        for (role, url) in outputs { try self.kinds[role]!.check(url, inputs: inputs) }
        self.manifest = manifest
        manifestURL = OutputManifest.url(for: main)
        summary = Summary()
        items = 0
        var existing = try ManifestDocument<Summary>.read(manifestURL)
        if overwrite, existing != nil {
            for url in outputs.values { try? FileManager.default.removeItem(at: Self.partialURL(for: url)) }
            try? FileManager.default.removeItem(at: manifestURL)
            existing = nil
        }
        if let existing {
            try Self.check(existing.manifest, against: manifest, output: main)
            summary = existing.summary ?? Summary()
            if existing.manifest.state == .complete {
                try Self.checkUnchanged(existing.manifest, outputs: outputs)
                isComplete = true
                itemsAtStart = 0
                return
            }
            let progress = existing.manifest.progress ?? .init(items: 0, bytes: [:])
            items = progress.items
            itemsAtStart = items
            try resumeFiles(progress)
        } else {
            itemsAtStart = 0
            for url in outputs.values {
                let partial = Self.partialURL(for: url)
                if FileManager.default.fileExists(atPath: partial.path) {
                    throw InparsCoreError.cannotResume(
                        path: partial.path,
                        reason: "it exists without the manifest '\(manifestURL.lastPathComponent)'"
                            + " that would say what it holds; inpars leaves it alone: move it"
                            + " away or delete it")
                }
            }
            // The manifest and the partial files are made by the first append or commit, so
            // a run that fails before doing any work (a bad input line) leaves nothing behind.
        }
        if let text = ProcessInfo.processInfo.environment["INPARS_TEST_KILL_AFTER_ITEMS"],
            let n = Int(text)
        {
            killAfterItems = n
        }
    }

    /// Whether the earlier run may be continued by this one.
    private static func check(_ old: OutputManifest, against new: OutputManifest, output: URL) throws {
        let differences = old.differences(from: new)
        if !differences.isEmpty {
            throw InparsCoreError.outputMismatch(path: output.path, differences: differences)
        }
    }

    /// Throws unless every output a complete manifest records is still as it was written.
    private static func checkUnchanged(_ manifest: OutputManifest, outputs: [String: URL]) throws {
        for (role, url) in outputs.sorted(by: { $0.key < $1.key }) {
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw InparsCoreError.cannotResume(
                    path: url.path,
                    reason: "its manifest says it was finished, but it is gone; rerun with"
                        + " --overwrite to make it again")
            }
            let recorded = manifest.outputs?[role]
            let now = try InputIdentity.of(url)
            guard let recorded, recorded.sameContent(as: now) else {
                throw InparsCoreError.cannotResume(
                    path: url.path,
                    reason: "it changed after inpars finished it (\(recorded?.summary ?? "not recorded")"
                        + " → \(now.summary)); rerun with --overwrite to make it again")
            }
        }
    }

    /// Cuts each partial file to its committed length and opens it for appending.
    private func resumeFiles(_ progress: OutputManifest.Progress) throws {
        for (role, url) in outputs {
            let partial = Self.partialURL(for: url)
            let committed = progress.bytes[role] ?? 0
            let size = AppendFile.size(of: partial) ?? 0
            guard size >= committed else {
                throw InparsCoreError.cannotResume(
                    path: partial.path,
                    reason: "it holds \(size) bytes but its manifest records \(committed)"
                        + " committed (lost in a crash?); rerun with --overwrite to start again")
            }
            if size > committed { try AppendFile.truncate(partial, to: committed) }
            droppedBytes += size - committed
            var digest = SHA256()
            try DigestFileReader.forEachChunk(of: partial) { digest.update($0) }
            files[role] = HashingAppender(
                file: try AppendFile(appendingTo: partial), digest: digest, background: backgroundWrites)
        }
    }

    /// Writes the manifest and creates the partial files, once.
    private func start() throws {
        guard files.isEmpty else { return }
        try writeManifest()
        for (role, url) in outputs {
            // Empty: a partial file without our manifest is refused, `overwrite` removes ours.
            files[role] = HashingAppender(
                file: try AppendFile(appendingTo: Self.partialURL(for: url)), digest: SHA256(),
                background: backgroundWrites)
        }
    }

    /// Appends an item's bytes to the partial file of `role`.
    public func append(_ text: String, to role: String = ResumableOutput.main) throws {
        var copy = text
        try copy.withUTF8 { try append(bytes: UnsafeRawBufferPointer($0), to: role) }
    }

    /// Appends an item's bytes to the partial file of `role` (buffered: small items cost no
    /// system call each).
    public func append(bytes: UnsafeRawBufferPointer, to role: String = ResumableOutput.main)
        throws
    {
        try start()
        guard let file = files[role] else { preconditionFailure("no output role '\(role)'") }
        if killArmed {
            try flush()
            Self.killHalfway(bytes, file: file.url)
        }
        try file.append(bytes)
    }

    /// Writes every buffered byte to the partial files and waits for the writes (not for
    /// their hashing, which only ``finish(items:summary:transform:)`` needs).
    private func flush() throws {
        for file in files.values {
            try file.flush()
            try file.drainWrites()
        }
    }

    /// Records that the first `items` items are done with `summary` as their totals; writes
    /// the manifest when ``commitInterval`` has passed since the last write.
    public func commit(items: Int, summary: Summary) throws {
        self.items = items
        self.summary = summary
        let now = ProcessInfo.processInfo.systemUptime
        var force = false
        if let killAfterItems, items >= killAfterItems, !killArmed {
            killArmed = true
            force = true
        }
        if force || now - lastCommit >= commitInterval {
            try writeProgress()
            lastCommit = now
        }
    }

    /// Records that the first `items` items are done and writes the manifest now (the partial
    /// files then hold every byte appended, e.g. for a second pass over them).
    public func commitNow(items: Int, summary: Summary) throws {
        self.items = items
        self.summary = summary
        try writeProgress()
        lastCommit = ProcessInfo.processInfo.systemUptime
    }

    /// Syncs the partial files, then records their lengths.
    private func writeProgress() throws {
        let (running, _) = try syncRecordingProgress { () }
        try ManifestDocument<Summary>.write(running, to: manifestURL)
    }

    /// Writes every buffered byte, marks the manifest `running` with the files' lengths, and
    /// syncs the files while the manifest is encoded (the sync waits for the disk, the
    /// encoding for the CPU); `alongside` runs beside the sync too. Returns the encoded
    /// manifest, to be written once this returns (when every byte it records is durable),
    /// and what `alongside` returned.
    private func syncRecordingProgress<Extra>(alongside: () throws -> Extra) throws -> (Data, Extra) {
        try start()
        try flush()
        var bytes: [String: Int64] = [:]
        for (role, file) in files { bytes[role] = try file.length() }
        manifest.state = .running
        manifest.progress = .init(items: items, bytes: bytes)
        // Everything is handed over: the syncs may run beside `alongside`'s `length()` and
        // `digestHex()` (``HashingAppender``).
        let appenders = Array(files.values)
        let (_, encoded) = try concurrently(true, { for file in appenders { try file.sync() } }) {
            (try ManifestDocument(manifest: manifest, summary: summary).encoded(), try alongside())
        }
        return encoded
    }

    private func writeManifest() throws {
        try manifest.write(to: manifestURL, summary: summary)
    }

    /// Turns the partial files into the outputs and marks the manifest complete.
    ///
    /// - Parameter transform: roles whose output is not the partial file's bytes but made
    ///   from them (filter's global top-k): called with the partial file and the output.
    public func finish(
        items: Int, summary: Summary,
        transform: [String: (URL, OutputFile) throws -> Void] = [:]
    ) throws {
        self.items = items
        self.summary = summary
        // A linked output is the partial file's bytes: its identity is known from the hashing
        // as soon as every byte is handed over, so it (and, when every output is linked, the
        // complete manifest) is made while the files are synced.
        let linked = outputs.filter { transform[$0.key] == nil && $0.value.pathExtension != "gz" }
        let (running, (linkedIdentities, complete)) = try syncRecordingProgress {
            () throws -> ([String: InputIdentity], Data?) in
            var identities: [String: InputIdentity] = [:]
            for (role, url) in linked {
                identities[role] = InputIdentity(
                    path: url.path, bytes: try files[role]!.length(),
                    checksum: "sha256:" + (try files[role]!.digestHex()))
            }
            guard identities.count == outputs.count else { return (identities, nil) }
            var done = manifest
            done.state = .complete
            done.progress = nil
            done.outputs = identities
            return (identities, try ManifestDocument(manifest: done, summary: summary).encoded())
        }
        // Recorded as running with every item before any output appears: a kill between the
        // links below and the complete manifest then resumes with nothing to cut or redo.
        try ManifestDocument<Summary>.write(running, to: manifestURL)
        // Not synced again: every byte was synced above, and none came since.
        for file in files.values { try file.close(sync: false) }
        var identities = linkedIdentities
        for (role, url) in outputs.sorted(by: { $0.key < $1.key }) {
            let partial = Self.partialURL(for: url)
            let kind = kinds[role]!
            if let transform = transform[role] {
                try AtomicFile.write(to: url, replacing: kind) { try transform(partial, $0) }
            } else if url.pathExtension == "gz" {
                try AtomicFile.write(to: url, replacing: kind, compressed: true) {
                    try FileCopy.append(partial, to: $0)
                }
            } else {
                try Self.linkIntoPlace(partial, url, kind: kind)
                continue
            }
            identities[role] = try InputIdentity.of(url)
        }
        manifest.state = .complete
        manifest.progress = nil
        manifest.outputs = identities
        if let complete {
            try ManifestDocument<Summary>.write(complete, to: manifestURL)
        } else {
            try writeManifest()
        }
        for url in outputs.values { unlink(Self.partialURL(for: url).path) }
        isComplete = true
    }

    /// Puts `partial`'s content at `url` atomically, keeping `partial` until the manifest says
    /// complete: a hard link under a temporary name, renamed over `url` (a copy where the file
    /// system has no hard links).
    private static func linkIntoPlace(_ partial: URL, _ url: URL, kind: OutputKind) throws {
        try kind.check(url)
        let temporary = AtomicFile.temporarySibling(of: url)
        if link(partial.path, temporary.path) != 0 {
            try AtomicFile.write(to: url, replacing: kind, compressed: false) {
                try FileCopy.append(partial, to: $0)
            }
            return
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw InparsCoreError.writeFailed(path: url.path, reason: "rename failed: \(reason)")
        }
    }

    /// The test hook: half of `bytes`, then `SIGKILL`.
    private static func killHalfway(_ bytes: UnsafeRawBufferPointer, file url: URL) -> Never {
        if let file = try? AppendFile(appendingTo: url) {
            try? file.append(UnsafeRawBufferPointer(rebasing: bytes.prefix(max(1, bytes.count / 2))))
        }
        kill(getpid(), SIGKILL)
        while true { pause() }
    }

    /// A line for people about where this run starts (`nil` when fresh).
    public func startNote(label: String, unit: String) -> String? {
        if isComplete {
            return "\(label): '\(outputs[Self.main]!.path)' is already complete (same command and"
                + " inputs); nothing to do (--overwrite makes it again)"
        }
        guard itemsAtStart > 0 || droppedBytes > 0 else { return nil }
        var line = "\(label): resuming '\(outputs[Self.main]!.path)': \(itemsAtStart) \(unit) already done"
        if droppedBytes > 0 { line += "; cut \(droppedBytes) uncommitted bytes from the partial file" }
        return line
    }
}

extension NoSummary: StageSummary {
    public mutating func add(_ other: NoSummary) {}
}
