import Foundation
import InparsCore
import InparsHTTP

/// What the Hub says about one file at one revision (from a `HEAD` of its resolve URL).
struct FileMetadata: Equatable {
    /// The commit the revision resolved to (`X-Repo-Commit`).
    var commit: String
    /// `X-Linked-Etag` (LFS files: their sha256), else `ETag` (git blob id), quotes removed.
    var etag: String
    /// Where to download the bytes: the CDN URL of a redirect, else the resolve URL.
    var location: String
    /// Whether `location` is on the Hub (the token goes only there).
    var locationIsHub: Bool
    /// `X-Linked-Size`, else the `Content-Length` of a non-redirect answer.
    var size: Int?
}

/// A file's fate at a revision.
enum FileLookup: Equatable {
    case found(FileMetadata)
    /// Not in the repository; `commit` is the `X-Repo-Commit` of the 404, when sent.
    case missing(commit: String?)
}

/// Talks to a Hugging Face Hub endpoint the way `huggingface_hub.hf_hub_download` does: a
/// `HEAD` of `{endpoint}/{repo}/resolve/{revision}/{file}` that follows redirects only while
/// they stay on the Hub (a redirect to another host, the CDN, carries the file's metadata
/// itself), then a `GET` of the final location (without the token when it is off the Hub).
final class HubClient {
    let settings: HubSettings
    let transfer: FileTransfer

    init(settings: HubSettings, transfer: FileTransfer) {
        self.settings = settings
        self.transfer = transfer
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{file}`, with the revision fully percent-encoded
    /// and the file encoded except for `/` (as `hf_hub_url` builds it).
    func resolveURL(repo: String, revision: String, file: String) -> String {
        "\(settings.endpoint)/\(repo)/resolve/\(Self.quote(revision, keepingSlash: false))/"
            + Self.quote(file, keepingSlash: true)
    }

    /// The request headers for the Hub: user agent, no compression (to learn true sizes),
    /// and the token.
    func hubHeaders() -> [(name: String, value: String)] {
        var headers = [("User-Agent", HubSettings.userAgent), ("Accept-Encoding", "identity")]
        if let token = settings.token { headers.append(("Authorization", "Bearer \(token)")) }
        return headers
    }

    /// Looks `file` up at `revision`.
    ///
    /// - Parameter retrying: retry 429, 5xx and connection failures (off for a first try that
    ///   can fall back to the cache).
    /// - Throws: ``HubError`` for every answer other than found / not found.
    func lookup(
        repo: String, revision: String, file: String, retrying: Bool
    ) throws(HubError) -> FileLookup {
        var url = resolveURL(repo: repo, revision: revision, file: file)
        for _ in 0..<10 {
            let response = try transfer.send(
                HTTPRequest(
                    method: "HEAD", url: url, headers: hubHeaders(),
                    timeout: settings.metadataTimeout),
                retrying: retrying)
            if (300...399).contains(response.status), let location = response.headers["location"],
                let target = URL(string: location, relativeTo: URL(string: url))?.absoluteString
            {
                if isHub(target, from: url) {
                    url = target
                    continue
                }
                return .found(try metadata(response, location: target, isHub: false, url: url))
            }
            if response.isSuccess {
                return .found(try metadata(response, location: url, isHub: true, url: url))
            }
            return try classify(response, repo: repo, revision: revision, file: file, url: url)
        }
        throw .unexpectedStatus(url: url, status: 310, body: "more than 10 redirects")
    }

    private func metadata(
        _ response: HTTPResponse, location: String, isHub: Bool, url: String
    ) throws(HubError) -> FileMetadata {
        guard let commit = response.headers["x-repo-commit"] else {
            throw .notAHubResponse(url: url, missing: "X-Repo-Commit")
        }
        guard let rawEtag = response.headers["x-linked-etag"] ?? response.headers["etag"] else {
            throw .notAHubResponse(url: url, missing: "ETag")
        }
        let etag = Self.normalizeEtag(rawEtag)
        try Self.checkPathComponent(commit, what: "commit id from \(url)")
        try Self.checkPathComponent(etag, what: "ETag from \(url)")
        let redirected = (300...399).contains(response.status)
        let size =
            response.headers["x-linked-size"].flatMap { Int($0) }
            ?? (redirected ? nil : response.headers["content-length"].flatMap { Int($0) })
        return FileMetadata(
            commit: commit, etag: etag, location: location, locationIsHub: isHub, size: size)
    }

    /// Turns an error answer into "missing" or a ``HubError``, reading `X-Error-Code` as
    /// huggingface_hub does.
    private func classify(
        _ response: HTTPResponse, repo: String, revision: String, file: String, url: String
    ) throws(HubError) -> FileLookup {
        let code = response.headers["x-error-code"]
        let status = response.status
        switch code {
        case "RevisionNotFound":
            throw .revisionNotFound(repo: repo, revision: revision)
        case "EntryNotFound":
            return .missing(commit: response.headers["x-repo-commit"])
        case "GatedRepo":
            throw .accessDenied(
                repo: repo, file: file, status: status, gated: true,
                tokenSent: settings.token != nil, localPathHint: false)
        case "RepoNotFound":
            throw .accessDenied(
                repo: repo, file: file, status: status, gated: false,
                tokenSent: settings.token != nil, localPathHint: true)
        default:
            if status == 404 { return .missing(commit: response.headers["x-repo-commit"]) }
            if status == 401 || status == 403 {
                throw .accessDenied(
                    repo: repo, file: file, status: status, gated: false,
                    tokenSent: settings.token != nil, localPathHint: true)
            }
            let message = response.headers["x-error-message"] ?? HTTPError.excerpt(response.body)
            throw .unexpectedStatus(url: url, status: status, body: message)
        }
    }

    /// Whether a redirect from `url` to `target` stays on the Hub: the same origin (scheme,
    /// host, port), or the configured or public Hub endpoints.
    private func isHub(_ target: String, from url: String) -> Bool {
        let hubs = [url, settings.endpoint, HubSettings.defaultEndpoint, "https://hf.co"]
        guard let origin = Self.origin(target) else { return false }
        return hubs.contains { Self.origin($0) == origin }
    }

    /// Makes `snapshots/<commit>/<file>` point at the file's blob, downloading the blob (under
    /// the cache lock) unless another run already did.
    func materialize(
        _ metadata: FileMetadata, file: String, cache: RepoCache
    ) throws(HubError) -> Int {
        if cache.has(metadata.commit, file) { return 0 }
        let blob = cache.blob(metadata.etag)
        var downloaded = 0
        var lock: FileLock? = nil
        if !FileManager.default.fileExists(atPath: blob.path) {
            try cache.createFolder(cache.blobs)
            cache.tagCacheDirectory()
            lock = try FileLock(cache.lockFile(metadata.etag)) {
                transfer.sink.emit(
                    "waiting for another process that is downloading \(cache.repo)/\(file)",
                    transient: false)
            }
            if !FileManager.default.fileExists(atPath: blob.path) {
                let before = transfer.bytesDownloaded
                try transfer.download(
                    DownloadRequest(
                        url: metadata.location,
                        headers: metadata.locationIsHub ? hubHeaders() : [],
                        destination: blob, expectedSize: metadata.size,
                        digest: Self.isSHA256(metadata.etag) ? .sha256(metadata.etag) : nil,
                        label: "\(cache.repo)/\(file)"))
                downloaded = max(1, transfer.bytesDownloaded - before)
            }
        }
        try cache.link(metadata.commit, file, etag: metadata.etag)
        withExtendedLifetime(lock) {}  // held until the snapshot links the blob
        return downloaded
    }

    // MARK: - Names

    /// `W/"abc"` or `"abc"` → `abc` (huggingface_hub's `_normalize_etag`).
    static func normalizeEtag(_ etag: String) -> String {
        var text = Substring(etag)
        while let first = text.first, first == "W" || first == "/" { text = text.dropFirst() }
        return text.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    /// A 64-digit hexadecimal ETag: an LFS file's sha256.
    static func isSHA256(_ etag: String) -> Bool {
        etag.utf8.count == 64 && etag.utf8.allSatisfy { isHexDigit($0) }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (97...102).contains(byte) || (65...70).contains(byte)
    }

    /// Refuses names that would leave their folder or are not plain names.
    static func checkPathComponent(_ name: String, what: String) throws(HubError) {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"),
            !name.contains("\0"), name.utf8.count <= 255
        else { throw .unsafeName(what: what, value: name) }
    }

    /// Refuses relative file paths with empty, `.` or `..` parts, or a leading `/`.
    static func checkRelativePath(_ path: String, what: String) throws(HubError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !parts.isEmpty, !path.contains("\0"),
            parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else { throw .unsafeName(what: what, value: path) }
    }

    /// Percent-encoding as Python's `urllib.parse.quote` (letters, digits and `_.-~` kept).
    static func quote(_ text: String, keepingSlash: Bool) -> String {
        var result = ""
        for byte in text.utf8 {
            let keep =
                (65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "~")
                || (keepingSlash && byte == UInt8(ascii: "/"))
            result += keep ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }
        return result
    }

    /// (scheme, host, port) with the scheme's default port filled in.
    static func origin(_ url: String) -> String? {
        guard let components = URLComponents(string: url),
            let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased()
        else { return nil }
        let port = components.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : 0)
        return "\(scheme)://\(host):\(port)"
    }
}
