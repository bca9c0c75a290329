import Foundation
import InparsCore

/// A stand-in for the Hugging Face Hub on 127.0.0.1, with a second server standing in for the
/// CDN, answering as the Hub does (see `Docs/models-and-data.md`):
///
/// - `HEAD|GET /{org}/{name}/resolve/{revision}/{file}`: small files answer `200` with the bytes,
///   `ETag`, `X-Repo-Commit`; LFS files (by default `*.safetensors`, `*.bin`, `*.model`) answer
///   `302` to the CDN with `X-Repo-Commit`, `X-Linked-Etag` (their sha256) and `X-Linked-Size`.
/// - unknown repository: `401` with `X-Error-Code: RepoNotFound`; unknown revision: `404`
///   `RevisionNotFound`; unknown file: `404` `EntryNotFound` with `X-Repo-Commit`.
/// - a gated repository (``gatedToken``) answers `401`/`403` `GatedRepo` without that token.
/// - `GET` on the CDN honours `Range`.
///
/// ``fault`` scripts failures: it sees every request (with the server it reached) and may
/// answer in place of the normal reply.
public final class LoopbackHub: @unchecked Sendable {
    /// Which server a request reached.
    public enum Side: Sendable { case hub, cdn }

    // Invariant behind `@unchecked Sendable`: set once in init, then read only (the fault
    // closure and the file table are immutable; the servers are thread-safe).
    public let repo: String
    public let commit: String
    public let files: [String: Data]
    public let lfsFiles: Set<String>
    /// File → its ETag (sha256 for LFS files, the git stand-in otherwise), computed once.
    public let etags: [String: String]
    public let gatedToken: String?
    private let fault: @Sendable (RecordedRequest, Side, Int) -> ScriptedResponse?
    private let corruptCDN: Bool
    public private(set) var hub: LoopbackHTTPServer!
    public private(set) var cdn: LoopbackHTTPServer!

    /// The value for `HF_ENDPOINT`.
    public var endpoint: String { hub.baseURL }

    /// - Parameters:
    ///   - files: repository path → bytes.
    ///   - isLFS: which files the Hub stores in LFS (served through the CDN).
    ///   - corruptCDN: the CDN serves bytes whose sha256 differs from the announced ETag.
    ///   - fault: answers request `index` (0-based, per server) instead of the normal reply
    ///     when it returns a response.
    public init(
        repo: String, files: [String: Data],
        commit: String = "0123456789abcdef0123456789abcdef01234567",
        isLFS: (String) -> Bool = {
            $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") || $0.hasSuffix(".model")
        },
        gatedToken: String? = nil, corruptCDN: Bool = false, lifetime: Double = 120,
        fault: @escaping @Sendable (RecordedRequest, Side, Int) -> ScriptedResponse? = { _, _, _ in
            nil
        }
    ) throws {
        self.repo = repo
        self.commit = commit
        self.files = files
        let lfsFiles = Set(files.keys.filter(isLFS))
        self.lfsFiles = lfsFiles
        etags = Dictionary(
            uniqueKeysWithValues: files.map { name, data in
                (name, lfsFiles.contains(name) ? Self.sha256(data) : Self.gitStandIn(data))
            })
        self.gatedToken = gatedToken
        self.fault = fault
        self.corruptCDN = corruptCDN
        cdn = try LoopbackHTTPServer(lifetime: lifetime) { [unowned self] request, index in
            self.fault(request, .cdn, index) ?? self.answerCDN(request)
        }
        hub = try LoopbackHTTPServer(lifetime: lifetime) { [unowned self] request, index in
            self.fault(request, .hub, index) ?? self.answerHub(request)
        }
    }

    /// A repository served from the files of a folder (not recursive).
    public convenience init(
        repo: String, folder: URL, commit: String = "0123456789abcdef0123456789abcdef01234567",
        skipping: Set<String> = [], gatedToken: String? = nil, corruptCDN: Bool = false,
        lifetime: Double = 120,
        fault: @escaping @Sendable (RecordedRequest, Side, Int) -> ScriptedResponse? = { _, _, _ in
            nil
        }
    ) throws {
        var files: [String: Data] = [:]
        var isDirectory: ObjCBool = false
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path)
        where !skipping.contains(name)
            && FileManager.default.fileExists(
                atPath: folder.appendingPathComponent(name).path, isDirectory: &isDirectory)
            && !isDirectory.boolValue
        {
            files[name] = try Data(contentsOf: folder.appendingPathComponent(name))
        }
        try self.init(
            repo: repo, files: files, commit: commit, gatedToken: gatedToken,
            corruptCDN: corruptCDN, lifetime: lifetime, fault: fault)
    }

    deinit {
        hub?.stop()
        cdn?.stop()
    }

    /// Every request either server received, hub first.
    public var requestCount: Int { hub.requests.count + cdn.requests.count }

    /// The sha256 of a file's bytes, lower-case hex (the ETag of an LFS file).
    public static func sha256(_ data: Data) -> String {
        var digest = SHA256()
        digest.update(data)
        return digest.finalizeHex()
    }

    /// A 40-digit stand-in for a small file's git blob id (any stable id serves as its ETag).
    public static func gitStandIn(_ data: Data) -> String {
        String(sha256(Data("blob \(data.count)\0".utf8) + data).prefix(40))
    }

    private func answerHub(_ request: RecordedRequest) -> ScriptedResponse {
        let parts = request.path.split(separator: "/", maxSplits: 4).map(String.init)
        guard parts.count == 5, parts[2] == "resolve" else {
            return ScriptedResponse(status: 404, headers: [("X-Error-Code", "RepoNotFound")])
        }
        let repo = "\(parts[0])/\(parts[1])"
        let revision = parts[3].removingPercentEncoding ?? parts[3]
        let file = parts[4].removingPercentEncoding ?? parts[4]
        guard repo == self.repo else {
            return ScriptedResponse(
                status: 401,
                headers: [
                    ("X-Error-Code", "RepoNotFound"), ("X-Error-Message", "Repository not found"),
                ])
        }
        if let gatedToken {
            let sent = request.headers["authorization"]
            if sent != "Bearer \(gatedToken)" {
                return ScriptedResponse(
                    status: sent == nil ? 401 : 403,
                    headers: [
                        ("X-Error-Code", "GatedRepo"),
                        ("X-Error-Message", "Access to model \(repo) is restricted."),
                    ])
            }
        }
        guard revision == "main" || revision == commit else {
            return ScriptedResponse(status: 404, headers: [("X-Error-Code", "RevisionNotFound")])
        }
        guard let data = files[file] else {
            return ScriptedResponse(
                status: 404,
                headers: [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", commit)])
        }
        if lfsFiles.contains(file) {
            let sha = etags[file]!
            return ScriptedResponse(
                status: 302,
                headers: [
                    ("Location", "\(cdn.baseURL)/blobs/\(sha)?signature=loopback"),
                    ("X-Repo-Commit", commit), ("X-Linked-Etag", "\"\(sha)\""),
                    ("X-Linked-Size", "\(data.count)"), ("ETag", "\"\(sha.prefix(40))\""),
                ],
                body: Data("Found. Redirecting".utf8))
        }
        return .file(
            data, for: request,
            headers: [("X-Repo-Commit", commit), ("ETag", "\"\(etags[file]!)\"")])
    }

    private func answerCDN(_ request: RecordedRequest) -> ScriptedResponse {
        let path = request.path.split(separator: "?").first.map(String.init) ?? ""
        guard path.hasPrefix("/blobs/"),
            let file = lfsFiles.first(where: { etags[$0]! == path.dropFirst(7) })
        else { return ScriptedResponse(status: 404) }
        var data = files[file]!
        if corruptCDN { data[data.count / 2] ^= 0xFF }
        return .file(data, for: request, headers: [("Accept-Ranges", "bytes")])
    }
}
