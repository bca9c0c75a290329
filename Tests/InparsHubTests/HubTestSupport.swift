import Foundation
import InparsCore
import InparsHTTP
import InparsTestSupport

@testable import InparsHub

/// The tiny T5 fixture folder served as a Hub repository.
let tinyT5 = TestPaths.fixtures.appendingPathComponent("t5-tiny")
let tinyRepo = "loopback-org/tiny-t5"

/// Settings against a loopback Hub (or a port nothing listens on), fast retries.
func hubSettings(
    _ hub: LoopbackHub?, cache: URL, token: String? = nil, offline: Bool = false
) throws -> HubSettings {
    let endpoint = try hub?.endpoint ?? "http://127.0.0.1:\(LoopbackHTTPServer.unusedPort())"
    return HubSettings(
        cacheDirectory: cache, endpoint: endpoint, token: token, offline: offline,
        metadataTimeout: 5, downloadTimeout: 5,
        retry: RetryPolicy(maxAttempts: 4, baseDelay: 0.01, maxDelay: 0.05))
}

/// The error a throwing call ends with (and its message), or a recorded failure.
func hubFailure(_ body: () throws -> Void) -> (HubError?, String) {
    do {
        try body()
        return (nil, "no error")
    } catch let error as HubError {
        return (error, error.localizedDescription)
    } catch {
        return (nil, "\(error)")
    }
}

/// What a cache entry is: the symlink's text, or nil for a regular file or nothing.
func linkTarget(_ url: URL) -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: url.path)
}

/// Resolves the tiny repository against `hub` into `cache`.
@discardableResult
func resolveTiny(_ hub: LoopbackHub, cache: URL, token: String? = nil) throws -> URL {
    try ModelLocator.resolve(
        tinyRepo, settings: try hubSettings(hub, cache: cache, token: token),
        sink: CollectingProgressSink())
}
