import Foundation
import InparsCore
import InparsHTTP

/// Where models come from and where they are kept: the same environment variables, defaults
/// and files as Python's `huggingface_hub`, so both tools share one cache.
///
/// | setting | from |
/// |---|---|
/// | ``cacheDirectory`` | `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub` |
/// | ``endpoint`` | `HF_ENDPOINT` (trailing `/` removed), else `https://huggingface.co` |
/// | ``token`` | `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`, else the file `HF_TOKEN_PATH`, else `$HF_HOME/token`; none when `HF_HUB_DISABLE_IMPLICIT_TOKEN` is true |
/// | ``offline`` | `HF_HUB_OFFLINE` or `TRANSFORMERS_OFFLINE` is `1`, `ON`, `YES` or `TRUE` (any case) |
/// | ``metadataTimeout`` | `HF_HUB_ETAG_TIMEOUT` seconds, else 10 |
/// | ``downloadTimeout`` | `HF_HUB_DOWNLOAD_TIMEOUT` seconds, else 10 (connect, and longest stall) |
public struct HubSettings: Sendable {
    /// The Hub's public endpoint.
    public static let defaultEndpoint = "https://huggingface.co"

    /// The `hub` cache folder holding `models--org--name` folders.
    public var cacheDirectory: URL
    /// Base URL of the Hub, without a trailing `/`.
    public var endpoint: String
    /// Bearer token sent to the Hub (never to the CDN it redirects to), if any.
    public var token: String?
    /// Never touch the network; use what the cache holds.
    public var offline: Bool
    /// Seconds for one metadata (`HEAD`) request.
    public var metadataTimeout: Double
    /// Seconds to connect, and the longest stall tolerated while a file downloads.
    public var downloadTimeout: Double
    /// Retries of 429, 5xx and connection failures (the HTTP module's policy).
    public var retry: RetryPolicy

    public init(
        cacheDirectory: URL, endpoint: String = HubSettings.defaultEndpoint,
        token: String? = nil, offline: Bool = false, metadataTimeout: Double = 10,
        downloadTimeout: Double = 10, retry: RetryPolicy = RetryPolicy()
    ) {
        self.cacheDirectory = cacheDirectory
        self.endpoint = endpoint
        self.token = token
        self.offline = offline
        self.metadataTimeout = metadataTimeout
        self.downloadTimeout = downloadTimeout
        self.retry = retry
    }

    /// Settings read from `environment` (the process's by default), as described above.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> HubSettings {
        let env = Environment(values: environment)
        let home = env.huggingFaceHome
        let cache =
            env.path("HF_HUB_CACHE") ?? env.path("HUGGINGFACE_HUB_CACHE")
            ?? home.appendingPathComponent("hub")
        var endpoint = env["HF_ENDPOINT"] ?? defaultEndpoint
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        var token: String? = nil
        if !env.isTrue("HF_HUB_DISABLE_IMPLICIT_TOKEN") {
            let tokenFile = env.path("HF_TOKEN_PATH") ?? home.appendingPathComponent("token")
            token =
                clean(env["HF_TOKEN"]) ?? clean(env["HUGGING_FACE_HUB_TOKEN"])
                ?? clean(try? String(contentsOf: tokenFile, encoding: .utf8))
        }
        return HubSettings(
            cacheDirectory: cache, endpoint: endpoint, token: token,
            offline: env.isTrue("HF_HUB_OFFLINE") || env.isTrue("TRANSFORMERS_OFFLINE"),
            metadataTimeout: env.seconds("HF_HUB_ETAG_TIMEOUT") ?? 10,
            downloadTimeout: env.seconds("HF_HUB_DOWNLOAD_TIMEOUT") ?? 10)
    }

    /// `nil` for a missing or blank token, else the token without surrounding whitespace.
    private static func clean(_ token: String?) -> String? {
        guard let trimmed = token?.trimmingCharacters(in: .whitespacesAndNewlines),
            !trimmed.isEmpty
        else { return nil }
        return trimmed
    }

    /// `User-Agent` sent with every request.
    static let userAgent = "inpars/\(InparsVersion.string)"
}

/// Where BEIR data sets come from and where they are unpacked.
///
/// | setting | from |
/// |---|---|
/// | ``cacheDirectory`` | `INPARS_CACHE`, else `$XDG_CACHE_HOME/inpars`, else `~/.cache/inpars` |
/// | ``beirURL`` | `INPARS_BEIR_URL` (trailing `/` removed), else BEIR's public download folder |
public struct DatasetSettings: Sendable {
    /// BEIR's public download folder (`<name>.zip` files).
    public static let defaultBEIRURL =
        "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets"

    /// The inpars cache folder; BEIR data sets go to its `beir/` folder.
    public var cacheDirectory: URL
    /// Folder URL holding `<name>.zip`.
    public var beirURL: String
    /// Seconds to connect, and the longest stall tolerated while a zip downloads.
    public var downloadTimeout: Double
    /// Retries of 429, 5xx and connection failures.
    public var retry: RetryPolicy

    public init(
        cacheDirectory: URL, beirURL: String = DatasetSettings.defaultBEIRURL,
        downloadTimeout: Double = 30, retry: RetryPolicy = RetryPolicy()
    ) {
        self.cacheDirectory = cacheDirectory
        self.beirURL = beirURL
        self.downloadTimeout = downloadTimeout
        self.retry = retry
    }

    /// Whether ``beirURL`` is BEIR's own folder, whose published md5 sums apply.
    public var isOfficialBEIR: Bool { beirURL == Self.defaultBEIRURL }

    /// Settings read from `environment` (the process's by default), as described above.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> DatasetSettings {
        let env = Environment(values: environment)
        var url = env["INPARS_BEIR_URL"] ?? defaultBEIRURL
        while url.hasSuffix("/") { url.removeLast() }
        let cache = env.path("INPARS_CACHE") ?? env.userCache.appendingPathComponent("inpars")
        return DatasetSettings(cacheDirectory: cache, beirURL: url)
    }
}

/// Reads settings from an environment dictionary (empty values count as unset).
struct Environment {
    let values: [String: String]

    subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    /// `huggingface_hub`'s true values: 1, ON, YES, TRUE in any case.
    func isTrue(_ name: String) -> Bool {
        guard let value = self[name]?.uppercased() else { return false }
        return ["1", "ON", "YES", "TRUE"].contains(value)
    }

    func seconds(_ name: String) -> Double? {
        self[name].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil }
    }

    /// A folder path with a leading `~` expanded.
    func path(_ name: String) -> URL? {
        self[name].map { URL(fileURLWithPath: expandTilde($0)) }
    }

    var homeDirectory: String {
        self["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
    }

    /// `$XDG_CACHE_HOME`, else `~/.cache`.
    var userCache: URL {
        path("XDG_CACHE_HOME")
            ?? URL(fileURLWithPath: homeDirectory).appendingPathComponent(".cache")
    }

    /// `$HF_HOME`, else `<user cache>/huggingface`.
    var huggingFaceHome: URL {
        path("HF_HOME") ?? userCache.appendingPathComponent("huggingface")
    }

    private func expandTilde(_ path: String) -> String {
        if path == "~" { return homeDirectory }
        if path.hasPrefix("~/") { return homeDirectory + path.dropFirst(1) }
        return path
    }
}
