import Foundation
import InparsCore
import InparsRanker
import InparsTestSupport
import Testing

@testable import InparsHub

@Suite struct CacheAndSettingsTests {
    /// Builds, by hand, the cache huggingface_hub leaves after downloading the tiny T5
    /// (blobs named by ETag, refs/main, relative symlinks, a .no_exist marker).
    private func buildPythonStyleCache(at cache: URL, commit: String) throws -> URL {
        let repoFolder = cache.appendingPathComponent("models--acme--tiny-t5")
        let manager = FileManager.default
        try manager.createDirectory(
            at: repoFolder.appendingPathComponent("blobs"), withIntermediateDirectories: true)
        try manager.createDirectory(
            at: repoFolder.appendingPathComponent("refs"), withIntermediateDirectories: true)
        let snapshot = repoFolder.appendingPathComponent("snapshots/\(commit)")
        try manager.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: repoFolder.appendingPathComponent("refs/main"))
        for name in [
            "config.json", "model.safetensors", "spiece.model", "tokenizer.json",
            "tokenizer_config.json",
        ] {
            let data = try Data(contentsOf: tinyT5.appendingPathComponent(name))
            let etag =
                name.hasSuffix(".json") ? LoopbackHub.gitStandIn(data) : LoopbackHub.sha256(data)
            try data.write(to: repoFolder.appendingPathComponent("blobs/\(etag)"))
            try manager.createSymbolicLink(
                atPath: snapshot.appendingPathComponent(name).path,
                withDestinationPath: "../../blobs/\(etag)")
        }
        let noExist = repoFolder.appendingPathComponent(".no_exist/\(commit)")
        try manager.createDirectory(at: noExist, withIntermediateDirectories: true)
        _ = manager.createFile(
            atPath: noExist.appendingPathComponent("added_tokens.json").path, contents: Data())
        return snapshot
    }

    /// HF_HUB_OFFLINE with a huggingface_hub-style cache and no server: the snapshot is used
    /// (and loads); a missing file is named.
    @Test func pythonLayoutCacheWorksOfflineWithoutAServer() throws {
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let commit = "fedcba9876543210fedcba9876543210fedcba98"
        let snapshot = try buildPythonStyleCache(at: cache, commit: commit)
        let settings = HubSettings.fromEnvironment([
            "HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "1",
            "HF_ENDPOINT": "http://127.0.0.1:\(try LoopbackHTTPServer.unusedPort())",
        ])
        #expect(settings.offline)
        let folder = try ModelLocator.resolve(
            "acme/tiny-t5", settings: settings, sink: CollectingProgressSink())
        #expect(folder.path == snapshot.path)
        let reranker = try MonoT5Reranker.load(directory: folder)
        let reference = try MonoT5Reranker.load(directory: tinyT5)
        #expect(
            reranker.score(query: "q", documents: ["a b c"])
                == reference.score(query: "q", documents: ["a b c"]))
        #expect(reranker.labels == .trueFalse)

        try FileManager.default.removeItem(at: snapshot.appendingPathComponent("model.safetensors"))
        let (error, message) = hubFailure {
            _ = try ModelLocator.resolve(
                "acme/tiny-t5", settings: settings, sink: CollectingProgressSink())
        }
        #expect(
            error
                == .offlineFileMissing(
                    repo: "acme/tiny-t5", revision: "main", file: "model.safetensors",
                    cacheFolder: cache.appendingPathComponent("models--acme--tiny-t5").path))
        #expect(
            message.contains("HF_HUB_OFFLINE") && message.contains("inpars download acme/tiny-t5"))

        let (unknown, _) = hubFailure {
            _ = try ModelLocator.resolve(
                "acme/other", settings: settings, sink: CollectingProgressSink())
        }
        guard case .offlineFileMissing(let repo, _, let file, _) = unknown else {
            Issue.record("unexpected \(String(describing: unknown))")
            return
        }
        #expect(repo == "acme/other" && file.isEmpty)
    }

    /// Online, a Python-made snapshot that lacks some optional files: only the unknown files
    /// are asked for, and the Hub being down falls back to the cached snapshot with a note.
    @Test func hubDownFallsBackToTheCachedSnapshot() throws {
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let commit = "fedcba9876543210fedcba9876543210fedcba98"
        let snapshot = try buildPythonStyleCache(at: cache, commit: commit)
        let down = try LoopbackHTTPServer { _, _ in ScriptedResponse(status: 503) }
        var settings = try hubSettings(nil, cache: cache)
        settings.endpoint = down.baseURL
        let sink = CollectingProgressSink()
        let folder = try ModelLocator.resolve("acme/tiny-t5", settings: settings, sink: sink)
        #expect(folder.path == snapshot.path)
        #expect(down.requests.count == 1, "no retries before falling back")
        #expect(
            sink.lines.contains {
                $0.contains("HTTP 503") && $0.contains("cached snapshot \(commit)")
            })
    }

    @Test func settingsFollowHuggingFaceHubPrecedence() throws {
        let home = try TestPaths.temporaryDirectory("hf-home")
        defer { try? FileManager.default.removeItem(at: home) }
        try Data(" hf_from_file\n".utf8).write(to: home.appendingPathComponent("token"))

        let defaults = HubSettings.fromEnvironment(["HOME": "/home/u"])
        #expect(defaults.cacheDirectory.path == "/home/u/.cache/huggingface/hub")
        #expect(defaults.endpoint == "https://huggingface.co" && !defaults.offline)

        let xdg = HubSettings.fromEnvironment(["HOME": "/home/u", "XDG_CACHE_HOME": "/x"])
        #expect(xdg.cacheDirectory.path == "/x/huggingface/hub")

        let hfHome = HubSettings.fromEnvironment(["HF_HOME": home.path, "XDG_CACHE_HOME": "/x"])
        #expect(hfHome.cacheDirectory.path == home.appendingPathComponent("hub").path)
        #expect(hfHome.token == "hf_from_file")

        let explicit = HubSettings.fromEnvironment([
            "HF_HOME": home.path, "HF_HUB_CACHE": "~/hub-cache", "HOME": "/home/u",
            "HF_TOKEN": "hf_env", "HF_ENDPOINT": "http://mirror.local/", "HF_HUB_OFFLINE": "yes",
        ])
        #expect(explicit.cacheDirectory.path == "/home/u/hub-cache")
        #expect(explicit.token == "hf_env" && explicit.endpoint == "http://mirror.local")
        #expect(explicit.offline)
        #expect(HubSettings.fromEnvironment(["TRANSFORMERS_OFFLINE": "true"]).offline)
        #expect(!HubSettings.fromEnvironment(["HF_HUB_OFFLINE": "0"]).offline)
        #expect(
            HubSettings.fromEnvironment([
                "HF_HOME": home.path, "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
            ]).token == nil)

        let datasets = DatasetSettings.fromEnvironment(["HOME": "/home/u"])
        #expect(datasets.cacheDirectory.path == "/home/u/.cache/inpars" && datasets.isOfficialBEIR)
        let custom = DatasetSettings.fromEnvironment([
            "INPARS_CACHE": "/c", "INPARS_BEIR_URL": "http://h/beir/",
        ])
        #expect(
            custom.cacheDirectory.path == "/c" && custom.beirURL == "http://h/beir"
                && !custom.isOfficialBEIR)
    }

    @Test func modelSpecsAreFoldersOrHubIds() throws {
        #expect(try ModelLocator.reference(tinyT5.path, revision: nil) == nil)
        #expect(
            try ModelLocator.reference("org/name", revision: nil)
                == HubModelReference(repo: "org/name", revision: "main"))
        #expect(
            try ModelLocator.reference("org/name@v1.0", revision: nil)
                == HubModelReference(repo: "org/name", revision: "v1.0"))
        #expect(
            try ModelLocator.reference("org/name", revision: "refs/pr/1")
                == HubModelReference(repo: "org/name", revision: "refs/pr/1"))
        for bad in [
            "./missing/folder", "/no/such/model", "just-a-name", "a/b/c", "org/na--me",
            "org/.hidden", "org/name@",
        ] {
            #expect(throws: HubError.self, "\(bad)") {
                try ModelLocator.reference(bad, revision: nil)
            }
        }
        #expect(throws: HubError.self) { try ModelLocator.reference("org/name@v1", revision: "v2") }
        #expect(throws: HubError.self) { try ModelLocator.reference(tinyT5.path, revision: "main") }
        #expect(HubClient.quote("refs/pr/1", keepingSlash: false) == "refs%2Fpr%2F1")
        #expect(HubClient.quote("sub dir/é.json", keepingSlash: true) == "sub%20dir/%C3%A9.json")
        #expect(
            HubClient.normalizeEtag("W/\"abc\"") == "abc"
                && HubClient.normalizeEtag("\"abc\"") == "abc")
    }

    @Test func snapshotFoldersAreNamedByTheirRepository() {
        let snapshot = URL(fileURLWithPath: "/c/hub/models--google--flan-t5-base/snapshots/0123")
        #expect(ModelFolderName.of(snapshot) == "google/flan-t5-base")
        #expect(ModelFolderName.of(URL(fileURLWithPath: "/models/monot5-base")) == "monot5-base")
    }
}
