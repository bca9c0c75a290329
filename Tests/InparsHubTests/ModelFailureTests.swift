import Foundation
import InparsCore
import InparsHTTP
import InparsTestSupport
import Testing

@testable import InparsHub

@Suite struct ModelFailureTests {
    /// A body cut midway is resumed with `Range` from the byte where it stopped; the blob is
    /// byte-identical to the served file.
    @Test func cutDownloadResumesWithRange() throws {
        let weights = try Data(contentsOf: tinyT5.appendingPathComponent("model.safetensors"))
        let cut = weights.count / 3
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5) { request, side, index in
            guard side == .cdn, index == 0 else { return nil }
            var response = ScriptedResponse.file(weights, for: request)
            response.cutAfter = cut
            return response
        }
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let folder = try resolveTiny(hub, cache: cache)
        let cdn = hub.cdn.requests
        #expect(cdn[0].headers["range"] == nil)
        #expect(cdn[1].headers["range"] == "bytes=\(cut)-")
        #expect(cdn[1].path == cdn[0].path)
        #expect(try Data(contentsOf: folder.appendingPathComponent("model.safetensors")) == weights)
        let blobs = cache.appendingPathComponent("models--loopback-org--tiny-t5/blobs")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: blobs.path).allSatisfy {
                !$0.hasSuffix(".incomplete")
            })
    }

    /// A CDN link that expires midway (403 on the resume) is replaced by a fresh one from the
    /// Hub, and the download resumes where it stopped.
    @Test func anExpiredCDNLinkIsRenewedAndTheDownloadResumes() throws {
        let weights = try Data(contentsOf: tinyT5.appendingPathComponent("model.safetensors"))
        let cut = weights.count / 2
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5) { request, side, index in
            guard side == .cdn else { return nil }
            if index == 0 {
                var response = ScriptedResponse.file(weights, for: request)
                response.cutAfter = cut
                return response
            }
            return index == 1
                ? ScriptedResponse(status: 403, body: Data("Request has expired".utf8)) : nil
        }
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let folder = try resolveTiny(hub, cache: cache)
        #expect(try Data(contentsOf: folder.appendingPathComponent("model.safetensors")) == weights)
        let cdn = hub.cdn.requests
        #expect(
            cdn[1].headers["range"] == "bytes=\(cut)-" && cdn[2].headers["range"] == "bytes=\(cut)-"
        )
        let heads = hub.hub.requests.filter { $0.path.hasSuffix("/model.safetensors") }
        #expect(heads.count == 2)
        #expect(heads[1].path == "/\(tinyRepo)/resolve/\(hub.commit)/model.safetensors")
    }

    /// A partial file left by an earlier run (killed midway) is resumed, not restarted.
    @Test func partialFileFromAnEarlierRunIsResumed() throws {
        let weights = try Data(contentsOf: tinyT5.appendingPathComponent("model.safetensors"))
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5)
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let blobs = cache.appendingPathComponent("models--loopback-org--tiny-t5/blobs")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        let sha = LoopbackHub.sha256(weights)
        try weights.prefix(100_000).write(to: blobs.appendingPathComponent("\(sha).incomplete"))
        let folder = try resolveTiny(hub, cache: cache)
        let weightRequest = hub.cdn.requests.first { $0.path.contains(sha) }
        #expect(weightRequest?.headers["range"] == "bytes=100000-")
        #expect(try Data(contentsOf: folder.appendingPathComponent("model.safetensors")) == weights)
    }

    /// Bytes whose sha256 differs from the announced ETag never reach blobs/ or snapshots/.
    @Test func wrongSHA256LeavesNothingInSnapshots() throws {
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5, corruptCDN: true)
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let (error, message) = hubFailure {
            _ = try resolveTiny(hub, cache: cache)
        }
        guard case .checksumMismatch(let name, let algorithm, let expected, _) = error else {
            Issue.record("unexpected: \(message)")
            return
        }
        let weights = try Data(contentsOf: tinyT5.appendingPathComponent("model.safetensors"))
        #expect(name == "loopback-org/tiny-t5/model.safetensors")
        #expect(algorithm == "sha256" && expected == LoopbackHub.sha256(weights))
        let repoFolder = cache.appendingPathComponent("models--loopback-org--tiny-t5")
        let snapshot = repoFolder.appendingPathComponent("snapshots/\(hub.commit)")
        #expect(
            !FileManager.default.fileExists(
                atPath: snapshot.appendingPathComponent("model.safetensors").path))
        #expect(linkTarget(snapshot.appendingPathComponent("model.safetensors")) == nil)
        let blobs = try FileManager.default.contentsOfDirectory(
            atPath: repoFolder.appendingPathComponent("blobs").path)
        #expect(blobs == [LoopbackHub.gitStandIn(hub.files["config.json"]!)], "\(blobs)")
    }

    /// A missing required file: 404 naming the repository and the file.
    @Test func notFoundNamesRepoAndFile() throws {
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5, skipping: ["config.json"])
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let (error, message) = hubFailure {
            _ = try resolveTiny(hub, cache: cache)
        }
        #expect(error == .fileNotFound(repo: tinyRepo, revision: "main", file: "config.json"))
        #expect(
            message.contains("'loopback-org/tiny-t5'") && message.contains("'config.json'")
                && message.contains("404"))
    }

    /// A repository without any weights file names the four candidates.
    @Test func noWeightsNamesTheCandidates() throws {
        let hub = try LoopbackHub(repo: tinyRepo, files: ["config.json": Data("{}".utf8)])
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let (error, _) = hubFailure {
            _ = try resolveTiny(hub, cache: cache)
        }
        #expect(
            error == .noWeights(repo: tinyRepo, revision: "main", tried: ModelLocator.Files.weights)
        )
    }

    /// 401 from a gated repository: the message says gated and how to pass a token; the
    /// right token then works, and a wrong one (403) is reported as not accepted.
    @Test func unauthorizedGivesTheGatedModelMessage() throws {
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5, gatedToken: "hf_right")
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let (error, message) = hubFailure {
            _ = try resolveTiny(hub, cache: cache)
        }
        guard case .accessDenied(let repo, _, let status, let gated, let tokenSent, _) = error
        else {
            Issue.record("unexpected: \(message)")
            return
        }
        #expect(repo == tinyRepo && status == 401 && gated && !tokenSent)
        #expect(
            message.contains("gated") && message.contains("HF_TOKEN")
                && message.contains("hf auth login"))
        #expect(hub.hub.requests.count == 1, "a 401 is not retried")

        let (wrong, wrongMessage) = hubFailure {
            _ = try resolveTiny(hub, cache: cache, token: "hf_wrong")
        }
        #expect(
            wrong.map {
                if case .accessDenied(_, _, 403, true, true, _) = $0 { true } else { false }
            } == true)
        #expect(wrongMessage.contains("not accepted"))

        let folder = try resolveTiny(hub, cache: cache, token: "hf_right")
        #expect(
            FileManager.default.fileExists(
                atPath: folder.appendingPathComponent("model.safetensors").path))
    }

    /// An unknown repository: the Hub's 401 RepoNotFound, and the hint that no such folder
    /// exists locally.
    @Test func unknownRepositorySaysSoAndMentionsTheLocalPath() throws {
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5)
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let (error, message) = hubFailure {
            _ = try ModelLocator.resolve(
                "someone/typo", settings: try hubSettings(hub, cache: cache),
                sink: CollectingProgressSink())
        }
        #expect(
            error
                == .accessDenied(
                    repo: "someone/typo", file: "config.json", status: 401, gated: false,
                    tokenSent: false, localPathHint: true))
        #expect(message.contains("does not exist") && message.contains("No local folder"))
    }

    /// 500, then 200: the policy retries and the download succeeds.
    @Test func serverErrorThenSuccessAfterARetry() throws {
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5) { _, side, index in
            side == .hub && index == 0
                ? ScriptedResponse(status: 500, body: Data("busy".utf8)) : nil
        }
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let sink = CollectingProgressSink()
        let folder = try ModelLocator.resolve(
            tinyRepo, settings: try hubSettings(hub, cache: cache), sink: sink)
        #expect(hub.hub.requests[0].path == hub.hub.requests[1].path)
        #expect(hub.hub.requests[1].method == "HEAD")
        #expect(sink.lines.contains { $0.contains("HTTP 500") && $0.contains("retrying") })
        #expect(
            FileManager.default.fileExists(
                atPath: folder.appendingPathComponent("config.json").path))
    }

    /// 500 on a CDN download, then 200: retried too.
    @Test func cdnErrorIsRetried() throws {
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5) { _, side, index in
            side == .cdn && index == 0 ? ScriptedResponse(status: 503) : nil
        }
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let folder = try resolveTiny(hub, cache: cache)
        #expect(
            try Data(contentsOf: folder.appendingPathComponent("model.safetensors"))
                == hub.files["model.safetensors"])
    }

    /// A server ETag or commit that would escape the cache folder is refused.
    @Test func unsafeNamesFromTheServerAreRefused() throws {
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5) { _, side, _ in
            side == .hub
                ? ScriptedResponse(
                    status: 200, headers: [("X-Repo-Commit", "../../escape"), ("ETag", "\"abc\"")])
                : nil
        }
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let (error, _) = hubFailure {
            _ = try resolveTiny(hub, cache: cache)
        }
        guard case .unsafeName(_, let value) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(value == "../../escape")
    }
}
