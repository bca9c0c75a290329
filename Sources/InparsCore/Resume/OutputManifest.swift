import Foundation

/// What an output was made from, stored beside it as `<output>.manifest.json`.
///
/// Every resumable stage (`generate`, `filter`, `search`, `triples`, `rerank`) writes one when
/// it starts and keeps it after it finishes:
///
/// - `settings`: every flag value that changes the output's bytes (compared on resume);
/// - `inputs`: each input's ``InputIdentity`` (size and checksum; compared, the path is not);
/// - `rounding`: flags that change a model's scores only in their last float bits (`--threads`,
///   `--batch-size`: OpenBLAS splits its GEMMs and the scorer pads its batches by them);
///   compared on resume, so a resumed output is bit for bit an uninterrupted run's, but not
///   part of ``runID``, so shards run on machines with other core counts still merge;
/// - `info`: recorded only (server addresses, paths, the version);
/// - `shard`: for `--shard i/N`, the shard and the run it belongs to (``runID``);
/// - `state`, `progress`: `running` with the items done and the bytes of the partial file(s)
///   that hold them, or `complete` with the finished outputs' identities in `outputs`.
///
/// A rerun whose manifest differs is refused with ``differences(from:)`` naming each setting or
/// input that changed. `format` marks the file as ours; version-1 manifests (written by
/// `generate` before the other stages resumed) have no `format`, `command` or `inputs` and
/// are still read.
public struct OutputManifest: Codable, Sendable, Equatable {
    /// The value of ``format``.
    public static let formatName = "inpars-manifest"
    /// The role of a command's main output in ``outputs`` and ``Progress/bytes``.
    public static let mainRole = "main"

    public enum State: String, Codable, Sendable {
        case running, complete
    }

    /// The shard an output is, and the run it belongs to.
    public struct ShardRecord: Codable, Sendable, Equatable {
        public var index: Int
        public var count: Int
        /// ``OutputManifest/runID`` of the unsharded command.
        public var run: String
        /// Items the whole run partitions, when the inputs alone do not fix it (generate's
        /// sample size).
        public var items: Int?

        public var shard: Shard { Shard(index: index, count: count) }
    }

    /// Work committed so far while `running`.
    public struct Progress: Codable, Sendable, Equatable {
        /// Items finished (a prefix of the stage's work order).
        public var items: Int
        /// Committed bytes of each partial file, by output role (`main`, `ids`).
        public var bytes: [String: Int64]
    }

    public var format: String?
    public var version: Int
    /// `generate`, `filter`, `search`, `triples`, `rerank`.
    public var command: String?
    public var settings: [String: String]
    public var rounding: [String: String]?
    public var inputs: [String: InputIdentity]?
    public var info: [String: String]
    public var shard: ShardRecord?
    public var state: State?
    public var progress: Progress?
    /// The finished files by role (`main`, `ids`), when `complete`.
    public var outputs: [String: InputIdentity]?

    /// - Parameter shard: `nil` for an unsharded run (`--shard 0/1` is a shard: a one-shard
    ///   run that `inpars merge` turns into the unsharded output).
    public init(
        command: String, settings: [String: String], inputs: [String: InputIdentity],
        rounding: [String: String] = [:], info: [String: String] = [:], shard: Shard? = nil
    ) {
        format = Self.formatName
        version = 2
        self.command = command
        self.settings = settings
        self.rounding = rounding.isEmpty ? nil : rounding
        self.inputs = inputs
        self.info = info
        self.info["inpars_version"] = InparsVersion.string
        if let shard {
            let run = runID
            self.shard = ShardRecord(index: shard.index, count: shard.count, run: run)
        }
    }

    /// The manifest path of an output.
    public static func url(for output: URL) -> URL {
        output.deletingLastPathComponent().appendingPathComponent(
            output.lastPathComponent + ".manifest.json")
    }

    /// A fingerprint of what decides the output's bytes: the command, the settings and the
    /// inputs' content (not their paths, not `info`, not the shard). Shards of one run share
    /// it, wherever their inputs were copied to.
    public var runID: String {
        var hash = FNV1a()
        hash.add(command ?? "generate")
        for key in settings.keys.sorted() {
            hash.add(key)
            hash.add(settings[key]!)
        }
        for (key, input) in (inputs ?? [:]).sorted(by: { $0.key < $1.key }) {
            hash.add(key)
            hash.add(String(input.bytes))
            hash.add(input.checksum)
        }
        return hash.hex
    }

    /// The shard this output is (the whole job when unsharded).
    public var shardValue: Shard { shard?.shard ?? .whole }

    /// `i/N`, or `unsharded`.
    var shardName: String { shard.map { $0.shard.description } ?? "unsharded" }

    /// Human-readable differences from `other` (`"depth: 100 → 50"`, `"corpus: content
    /// changed (…)"`), empty when `other` may continue this output. Inputs a version-1
    /// manifest did not record are not compared.
    public func differences(from other: OutputManifest) -> [String] {
        var out: [String] = []
        let old = command ?? "generate"
        let new = other.command ?? "generate"
        if old != new { out.append("command: \(old) → \(new)") }
        for key in Set(settings.keys).union(other.settings.keys).sorted() {
            let a = settings[key] ?? "(unset)"
            let b = other.settings[key] ?? "(unset)"
            if a != b { out.append("\(key): \(a) → \(b)") }
        }
        let a = rounding ?? [:]
        let b = other.rounding ?? [:]
        for key in Set(a.keys).union(b.keys).sorted() where a[key] != b[key] {
            out.append(
                "\(key): \(a[key] ?? "(unset)") → \(b[key] ?? "(unset)") (it changes the scores'"
                    + " float rounding; pass --\(key.replacingOccurrences(of: "_", with: "-"))"
                    + " \(a[key] ?? "") to continue)")
        }
        if let mine = inputs, let theirs = other.inputs {
            for key in Set(mine.keys).union(theirs.keys).sorted() {
                switch (mine[key], theirs[key]) {
                case (let a?, let b?) where a.scheme != b.scheme:
                    // An older inpars fingerprinted it another way (a BM25 index was sampled
                    // before it was named by its header): the two cannot be compared.
                    out.append(
                        "\(key): fingerprinted another way by the inpars that wrote this manifest"
                            + " ('\(a.path)' \(a.scheme) → '\(b.path)' \(b.scheme)), so its content"
                            + " cannot be compared")
                case (let a?, let b?) where !a.sameContent(as: b):
                    out.append(
                        "\(key): content changed ('\(a.path)' \(a.summary) → '\(b.path)' \(b.summary))")
                case (nil, let b?): out.append("\(key): (none) → '\(b.path)'")
                case (let a?, nil): out.append("\(key): '\(a.path)' → (none)")
                default: break
                }
            }
        }
        if shardName != other.shardName {
            out.append("shard: \(shardName) → \(other.shardName)")
        } else if let a = shard?.items, let b = other.shard?.items, a != b {
            out.append("items partitioned: \(a) → \(b)")
        }
        return out
    }

    /// Whether `url` holds something we wrote (used before deleting or replacing it).
    public var isOurs: Bool { format == Self.formatName || (format == nil && version == 1) }

    /// A manifest file of ours (what a manifest write may replace): one this process wrote
    /// and nobody has touched since (``WrittenManifests``), or one that reads as ours.
    public static let outputKind = OutputKind(name: "an inpars manifest", shape: .file) { url in
        WrittenManifests.isUnchanged(url) || ((try? read(url)) ?? nil)?.isOurs == true
    }
}

extension OutputManifest {
    /// Reads the manifest at `url`, or `nil` when there is none.
    ///
    /// - Throws: ``InparsCoreError/unknownFormat(path:reason:)`` for a file that is not one of
    ///   our manifests (it is then never replaced or deleted).
    public static func read(_ url: URL) throws -> OutputManifest? {
        try ManifestDocument<NoSummary>.read(url)?.manifest
    }

    /// Writes the manifest (with `summary`, when given) atomically.
    public func write<Summary: Codable>(to url: URL, summary: Summary?) throws {
        try ManifestDocument(manifest: self, summary: summary).write(to: url)
    }

    /// Writes the manifest atomically.
    public func write(to url: URL) throws {
        try write(to: url, summary: NoSummary?.none)
    }

    /// The stage summary stored in the manifest at `url`.
    public static func readSummary<Summary: Codable>(_ url: URL, as type: Summary.Type) throws
        -> Summary?
    {
        try ManifestDocument<Summary>.read(url)?.summary
    }
}

/// A summary type for manifests read without one.
public struct NoSummary: Codable, Sendable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
    public func encode(to encoder: any Encoder) throws {}
}

/// The manifest file: the manifest's fields and the stage's summary under `summary`.
struct ManifestDocument<Summary: Codable>: Codable {
    var manifest: OutputManifest
    var summary: Summary?

    private enum Keys: String, CodingKey { case summary }

    init(manifest: OutputManifest, summary: Summary?) {
        self.manifest = manifest
        self.summary = summary
    }

    init(from decoder: any Decoder) throws {
        manifest = try OutputManifest(from: decoder)
        if Summary.self == NoSummary.self {
            summary = nil
        } else {
            summary = try decoder.container(keyedBy: Keys.self).decodeIfPresent(
                Summary.self, forKey: .summary)
        }
    }

    func encode(to encoder: any Encoder) throws {
        try manifest.encode(to: encoder)
        if let summary, Summary.self != NoSummary.self {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(summary, forKey: .summary)
        }
    }

    static func read(_ url: URL) throws -> ManifestDocument? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let document: ManifestDocument
        do {
            document = try JSONDecoder().decode(ManifestDocument.self, from: data)
        } catch {
            throw InparsCoreError.unknownFormat(
                path: url.path,
                reason: "not an inpars manifest (\(error)); inpars neither uses nor replaces it")
        }
        guard document.manifest.isOurs else {
            throw InparsCoreError.unknownFormat(
                path: url.path,
                reason: "its 'format' is not '\(OutputManifest.formatName)'; inpars neither uses"
                    + " nor replaces it")
        }
        return document
    }

    func write(to url: URL) throws {
        try Self.write(try encoded(), to: url)
    }

    /// The file's bytes: sorted, indented JSON and a final newline.
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    /// Writes an ``encoded()`` manifest to `url` atomically.
    static func write(_ data: Data, to url: URL) throws {
        try AtomicFile.write(data, to: url, replacing: OutputManifest.outputKind)
        WrittenManifests.record(url)
    }
}

/// The manifests this process wrote, each with the file status it had when renamed into
/// place, so that rewriting one (a resumable output rewrites its manifest at every commit,
/// and twice as it finishes) need not read and decode it again to know it is ours.
///
/// A path counts as the manifest written only while it is the same file (device and inode)
/// with the same size and modification time (to the file system's resolution): a file put
/// there since is another inode, one edited in place has another modification time (or, within
/// the same clock tick, very likely another size), and either is then read and decoded like
/// any file found at a manifest's path.
enum WrittenManifests {
    private struct Status: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var seconds: Int
        var nanoseconds: Int
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var written: [String: Status] = [:]

    private static func status(_ url: URL) -> Status? {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        return Status(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
    }

    /// Notes the manifest just written at `url`.
    static func record(_ url: URL) {
        let now = status(url)
        let key = url.standardizedFileURL.path
        lock.withLock { written[key] = now }
    }

    /// Whether `url` is still the manifest this process last wrote there.
    static func isUnchanged(_ url: URL) -> Bool {
        let key = url.standardizedFileURL.path
        guard let recorded = lock.withLock({ written[key] }) else { return false }
        return status(url) == recorded
    }
}
