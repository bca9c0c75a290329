import Foundation
import InparsCore

/// A model on the Hugging Face Hub: `org/name` at a revision (branch, tag or commit).
public struct HubModelReference: Sendable, Equatable, CustomStringConvertible {
    public var repo: String
    public var revision: String

    public init(repo: String, revision: String = "main") {
        self.repo = repo
        self.revision = revision
    }

    public var description: String { revision == "main" ? repo : "\(repo)@\(revision)" }
}

/// Turns a `--model` value into a local model folder: a folder path as it is, or a Hub id
/// (`org/name`, `org/name@revision`) through the shared Hugging Face cache, downloading what
/// is missing. See `Docs/models-and-data.md`.
public enum ModelLocator {
    /// The files a model folder needs, in the order they are fetched.
    public enum Files {
        /// Always needed.
        public static let required = ["config.json"]
        /// Weights, first found wins: safetensors (single, then sharded) before PyTorch.
        public static let weights = [
            "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
            "pytorch_model.bin.index.json",
        ]
        /// Tokenizer and generation files, fetched when the repository has them.
        public static let optional = [
            "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "added_tokens.json", "spiece.model", "tokenizer.model", "vocab.txt",
            "generation_config.json",
        ]
    }

    /// The local model folder for `spec`.
    ///
    /// - Parameters:
    ///   - spec: a folder path, or `org/name` with an optional `@revision`.
    ///   - revision: `--revision`; must agree with an `@revision` in `spec`.
    ///   - refresh: ask the Hub which commit a branch or tag points to now, even when the
    ///     cache holds a complete snapshot of it (`inpars download`); otherwise a complete
    ///     cached snapshot is used without any request.
    ///   - sink: download progress and notes.
    /// - Returns: the folder itself, or `<cache>/models--org--name/snapshots/<commit>`.
    /// - Throws: ``HubError`` naming the repository and file, and what to do.
    public static func resolve(
        _ spec: String, revision: String? = nil, refresh: Bool = false,
        settings: HubSettings = .fromEnvironment(),
        sink: ProgressSink = StandardErrorProgressSink()
    ) throws(HubError) -> URL {
        guard let reference = try reference(spec, revision: revision) else {
            return URL(fileURLWithPath: spec)
        }
        var resolver = HubModelResolver(reference: reference, settings: settings, sink: sink)
        return try resolver.snapshot(refresh: refresh)
    }

    /// `nil` when `spec` names an existing folder or file (used as given), else the Hub model
    /// it names.
    ///
    /// - Throws: ``HubError/invalidModelSpec(spec:reason:)`` for a missing path that is not a
    ///   Hub id, ``HubError/revisionConflict(spec:reason:)``.
    public static func reference(
        _ spec: String, revision: String?
    ) throws(HubError) -> HubModelReference? {
        if FileManager.default.fileExists(atPath: spec) {
            if let revision {
                throw .revisionConflict(
                    spec: spec,
                    reason:
                        "--revision \(revision) applies to Hub ids, but this is a local path; drop --revision or give the id (org/name)"
                )
            }
            return nil
        }
        var repo = spec
        var pinned: String? = nil
        if let at = spec.lastIndex(of: "@") {
            repo = String(spec[..<at])
            pinned = String(spec[spec.index(after: at)...])
        }
        if let problem = repoProblem(repo) {
            throw .invalidModelSpec(
                spec: spec,
                reason:
                    "no such folder, and not a Hugging Face Hub id (org/name or org/name@revision): \(problem)"
            )
        }
        if let pinned, let revision, pinned != revision {
            throw .revisionConflict(
                spec: spec, reason: "names revision '\(pinned)' but --revision is '\(revision)'")
        }
        let chosen = pinned ?? revision ?? "main"
        let parts = chosen.split(separator: "/", omittingEmptySubsequences: false)
        guard !chosen.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw .invalidModelSpec(spec: spec, reason: "'\(chosen)' is not a usable revision")
        }
        return HubModelReference(repo: repo, revision: chosen)
    }

    /// Why `repo` is not an `org/name` id (huggingface_hub's rules: two parts of letters,
    /// digits, `-`, `_`, `.`, each at most 96 characters, no `--` or `..`), or `nil`.
    static func repoProblem(_ repo: String) -> String? {
        let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return "it must have exactly one '/'" }
        for part in parts {
            guard (1...96).contains(part.count) else { return "each part has 1 to 96 characters" }
            guard
                part.unicodeScalars.allSatisfy({
                    $0.isASCII
                        && (CharacterSet.alphanumerics.contains($0)
                            || "-_.".unicodeScalars.contains($0))
                })
            else { return "only letters, digits, '-', '_' and '.' are allowed" }
            guard let first = part.first, let last = part.last,
                first.isLetter || first.isNumber, last.isLetter || last.isNumber
            else { return "each part starts and ends with a letter or digit" }
        }
        if repo.contains("--") || repo.contains("..") { return "'--' and '..' are not allowed" }
        return nil
    }
}

/// Resolves one Hub model into a snapshot folder: from the cache alone when it can, else
/// file by file as transformers does (config, then the first weights file that exists, then
/// the optional tokenizer files), recording absent files in `.no_exist/` so the next run knows.
struct HubModelResolver {
    let reference: HubModelReference
    let settings: HubSettings
    let sink: ProgressSink
    let cache: RepoCache
    private var client: HubClient?
    /// The commit once the Hub has named it; later files are fetched at that commit.
    private var commit: String?
    private var filesDownloaded = 0

    init(reference: HubModelReference, settings: HubSettings, sink: ProgressSink) {
        self.reference = reference
        self.settings = settings
        self.sink = sink
        cache = RepoCache(root: settings.cacheDirectory, repo: reference.repo)
    }

    mutating func snapshot(refresh: Bool) throws(HubError) -> URL {
        let cached = cache.commit(for: reference.revision)
        if settings.offline {
            guard let cached else {
                throw offlineMissing("")
            }
            if case .missing(let file) = LocalPlan.check(cache, commit: cached, strict: false) {
                throw offlineMissing(file)
            }
            return cache.snapshot(cached)
        }
        if let cached, !refresh || RepoCache.isCommitHash(reference.revision),
            LocalPlan.check(cache, commit: cached, strict: true) == .complete
        {
            return cache.snapshot(cached)
        }
        return try download(fallback: cached)
    }

    private func offlineMissing(_ file: String) -> HubError {
        .offlineFileMissing(
            repo: reference.repo, revision: reference.revision, file: file,
            cacheFolder: cache.folder.path)
    }

    /// Fetches what the cache lacks. The first request may fail softly: when the Hub cannot
    /// be reached or refuses (as huggingface_hub does), a cached snapshot of the revision that
    /// has config and weights is used instead, with a note.
    private mutating func download(fallback: String?) throws(HubError) -> URL {
        let transfer = FileTransfer(
            retry: settings.retry, timeout: settings.downloadTimeout, sink: sink)
        client = HubClient(settings: settings, transfer: transfer)
        do {
            _ = try fetch(ModelLocator.Files.required[0], required: true, retrying: false)
        } catch let error where error.allowsCacheFallback {
            if let fallback,
                case .complete = LocalPlan.check(cache, commit: fallback, strict: false)
            {
                sink.emit(
                    "\(reference): \(error.localizedDescription) Using the cached snapshot \(fallback).",
                    transient: false)
                return cache.snapshot(fallback)
            }
            guard error.isTransient else { throw error }
            sink.emit("\(reference): \(error.localizedDescription); retrying", transient: false)
            _ = try fetch(ModelLocator.Files.required[0], required: true, retrying: true)
        }
        for file in ModelLocator.Files.required.dropFirst() {
            _ = try fetch(file, required: true)
        }
        try fetchWeights()
        for file in ModelLocator.Files.optional { _ = try fetch(file, required: false) }
        let folder = cache.snapshot(commit!)
        if filesDownloaded > 0 {
            sink.emit(
                "\(reference): \(filesDownloaded) file(s), \(formatBytes(Double(transfer.bytesDownloaded))) downloaded → \(folder.path)",
                transient: false)
        }
        return folder
    }

    /// Downloads (or links) the file's blob. A CDN link that stops working midway (signed
    /// links expire: 403, 404 or 410 from the CDN) is replaced once by a fresh one from the
    /// Hub, and the download resumes where it stopped.
    private func materialize(_ metadata: FileMetadata, file: String) throws(HubError) -> Int {
        do {
            return try client!.materialize(metadata, file: file, cache: cache)
        } catch .unexpectedStatus(let url, let status, let body)
            where !metadata.locationIsHub && [403, 404, 410].contains(status)
        {
            sink.emit(
                "\(reference.repo)/\(file): the download link answered HTTP \(status); asking the Hub for a new one",
                transient: false)
            guard
                case .found(let fresh) = try client!.lookup(
                    repo: reference.repo, revision: metadata.commit, file: file, retrying: true),
                fresh.etag == metadata.etag
            else { throw .unexpectedStatus(url: url, status: status, body: body) }
            return try client!.materialize(fresh, file: file, cache: cache)
        }
    }

    private mutating func fetchWeights() throws(HubError) {
        for candidate in ModelLocator.Files.weights {
            guard try fetch(candidate, required: false) else { continue }
            if candidate.hasSuffix(".index.json") {
                for shard in try LocalPlan.shards(of: cache.pointer(commit!, candidate)) {
                    _ = try fetch(shard, required: true)
                }
            }
            return
        }
        throw .noWeights(
            repo: reference.repo, revision: reference.revision, tried: ModelLocator.Files.weights)
    }

    /// Makes sure the snapshot has `file`; `false` when the repository does not have it.
    private mutating func fetch(
        _ file: String, required: Bool, retrying: Bool = true
    ) throws(HubError) -> Bool {
        if let commit {
            if cache.has(commit, file) { return true }
            if cache.isKnownMissing(commit, file) && !required { return false }
        }
        let lookup = try client!.lookup(
            repo: reference.repo, revision: commit ?? reference.revision, file: file,
            retrying: retrying)
        switch lookup {
        case .found(let metadata):
            if commit == nil {
                try cache.writeRef(reference.revision, commit: metadata.commit)
                commit = metadata.commit
            }
            if try materialize(metadata, file: file) > 0 { filesDownloaded += 1 }
            return true
        case .missing(let missingAt):
            if let missingAt, (try? HubClient.checkPathComponent(missingAt, what: "")) != nil {
                if commit == nil {
                    try cache.writeRef(reference.revision, commit: missingAt)
                    commit = missingAt
                }
                cache.markMissing(missingAt, file)
            }
            if required {
                throw .fileNotFound(repo: reference.repo, revision: reference.revision, file: file)
            }
            return false
        }
    }
}

/// Whether a cached snapshot can serve as a model folder.
enum LocalPlan: Equatable {
    case complete
    /// The first file that is neither in the snapshot nor known to be absent.
    case missing(String)

    /// Checks the snapshot of `commit`. `strict`: every optional file must be present or
    /// recorded as absent (so the Hub has nothing more to give); otherwise config and one
    /// complete set of weights suffice (offline use of any cache, Python-made ones included).
    static func check(_ cache: RepoCache, commit: String, strict: Bool) -> LocalPlan {
        for file in ModelLocator.Files.required where !cache.has(commit, file) {
            return .missing(file)
        }
        var weightsFound = false
        for candidate in ModelLocator.Files.weights {
            if cache.has(commit, candidate) {
                if candidate.hasSuffix(".index.json") {
                    guard let shards = try? shards(of: cache.pointer(commit, candidate)) else {
                        return .missing(candidate)
                    }
                    if let absent = shards.first(where: { !cache.has(commit, $0) }) {
                        return .missing(absent)
                    }
                }
                weightsFound = true
                break
            }
            if strict && !cache.isKnownMissing(commit, candidate) { return .missing(candidate) }
        }
        if !weightsFound { return .missing(ModelLocator.Files.weights[0]) }
        if strict {
            for file in ModelLocator.Files.optional
            where !cache.has(commit, file) && !cache.isKnownMissing(commit, file) {
                return .missing(file)
            }
        }
        return .complete
    }

    /// The shard files a `*.index.json` lists in its `weight_map`, sorted.
    static func shards(of index: URL) throws(HubError) -> [String] {
        guard let data = try? Data(contentsOf: index),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let map = object["weight_map"] as? [String: String]
        else {
            throw .cacheIO(path: index.path, reason: "not a shard index (no weight_map object)")
        }
        let shards = Set(map.values).sorted()
        for shard in shards {
            try HubClient.checkRelativePath(shard, what: "shard name in \(index.lastPathComponent)")
        }
        return shards
    }
}

extension HubError {
    /// A failure after which huggingface_hub falls back to the cache: the Hub unreachable or
    /// failing, or refusing access (not "no such file" or "no such revision").
    var allowsCacheFallback: Bool {
        switch self {
        case .transfer, .unexpectedStatus, .accessDenied, .notAHubResponse: return true
        default: return false
        }
    }

    /// 429, 5xx and connection-level failures.
    var isTransient: Bool {
        switch self {
        case .transfer(_, let error): return error.isTransient
        case .unexpectedStatus(_, let status, _):
            return status == 429 || (500...599).contains(status)
        default: return false
        }
    }
}
