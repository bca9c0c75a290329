import Foundation
import InparsCore
import InparsHTTP
import InparsRanker
import InparsTestSupport
import Testing

@testable import InparsHub

@Suite struct ModelDownloadTests {
    /// A model by id lands in huggingface_hub's layout, loads and scores exactly as the
    /// fixture folder does, and a second resolve sends nothing.
    @Test func modelByIdDownloadsIntoTheStandardLayoutAndLoads() throws {
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5)
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let settings = try hubSettings(hub, cache: cache, token: "hf_secret")
        let sink = CollectingProgressSink()

        let folder = try ModelLocator.resolve(tinyRepo, settings: settings, sink: sink)

        let repoFolder = cache.appendingPathComponent("models--loopback-org--tiny-t5")
        #expect(folder.path == repoFolder.appendingPathComponent("snapshots/\(hub.commit)").path)
        #expect(
            try String(contentsOf: repoFolder.appendingPathComponent("refs/main"), encoding: .utf8)
                == hub.commit)
        for name in [
            "config.json", "model.safetensors", "spiece.model", "tokenizer.json",
            "tokenizer_config.json",
        ] {
            let data = hub.files[name]!
            let etag =
                hub.lfsFiles.contains(name)
                ? LoopbackHub.sha256(data) : LoopbackHub.gitStandIn(data)
            #expect(
                linkTarget(folder.appendingPathComponent(name)) == "../../blobs/\(etag)", "\(name)")
            #expect(
                try Data(contentsOf: repoFolder.appendingPathComponent("blobs/\(etag)")) == data)
        }
        #expect(
            !FileManager.default.fileExists(
                atPath: folder.appendingPathComponent("golden.json").path))
        for absent in [
            "special_tokens_map.json", "added_tokens.json", "vocab.txt", "generation_config.json",
            "model.safetensors.index.json",
        ] {
            let marker = repoFolder.appendingPathComponent(".no_exist/\(hub.commit)/\(absent)")
            #expect(
                FileManager.default.fileExists(atPath: marker.path)
                    == (absent != "model.safetensors.index.json"), "\(absent)")
        }
        #expect(
            FileManager.default.fileExists(
                atPath: cache.appendingPathComponent("CACHEDIR.TAG").path))
        // The token goes to the Hub, never to the CDN.
        #expect(hub.hub.requests.allSatisfy { $0.headers["authorization"] == "Bearer hf_secret" })
        #expect(hub.cdn.requests.count == 2)
        #expect(hub.cdn.requests.allSatisfy { $0.headers["authorization"] == nil })
        #expect(sink.lines.contains { $0.contains("loopback-org/tiny-t5/model.safetensors") })

        let fromHub = try MonoT5Reranker.load(directory: folder)
        let fromFolder = try MonoT5Reranker.load(directory: tinyT5)
        let documents = ["the cat sat on the mat", "stock markets fell sharply"]
        #expect(
            fromHub.score(query: "where did the cat sit", documents: documents)
                == fromFolder.score(query: "where did the cat sit", documents: documents))

        let before = hub.requestCount
        let again = try ModelLocator.resolve(tinyRepo, settings: settings, sink: sink)
        #expect(again == folder)
        #expect(hub.requestCount == before, "a second run sent requests")
    }

    /// `inpars download` asks the Hub for the branch's commit again, but downloads nothing.
    @Test func refreshChecksTheBranchWithoutDownloadingAgain() throws {
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5)
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let settings = try hubSettings(hub, cache: cache)
        _ = try ModelLocator.resolve(tinyRepo, settings: settings, sink: CollectingProgressSink())
        let cdnBefore = hub.cdn.requests.count
        let hubBefore = hub.hub.requests.count
        _ = try ModelLocator.resolve(
            tinyRepo, refresh: true, settings: settings, sink: CollectingProgressSink())
        #expect(hub.hub.requests.count == hubBefore + 1)
        #expect(hub.hub.requests.last?.method == "HEAD")
        #expect(hub.cdn.requests.count == cdnBefore)
    }

    /// A revision given as a commit hash resolves without writing a ref.
    @Test func commitRevisionWritesNoRef() throws {
        let hub = try LoopbackHub(repo: tinyRepo, folder: tinyT5)
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let folder = try ModelLocator.resolve(
            "\(tinyRepo)@\(hub.commit)", settings: try hubSettings(hub, cache: cache),
            sink: CollectingProgressSink())
        #expect(folder.lastPathComponent == hub.commit)
        #expect(hub.hub.requests.first?.path == "/\(tinyRepo)/resolve/\(hub.commit)/config.json")
        let refs = cache.appendingPathComponent("models--loopback-org--tiny-t5/refs")
        #expect(!FileManager.default.fileExists(atPath: refs.path))
    }

    /// Sharded safetensors: the index, then every shard it lists; PyTorch weights are never
    /// asked for.
    @Test func shardedWeightsFetchTheIndexAndEveryShard() throws {
        let index =
            #"{"metadata": {"total_size": 8}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}"#
        let files: [String: Data] = [
            "config.json": Data("{}".utf8),
            "model.safetensors.index.json": Data(index.utf8),
            "model-00001-of-00002.safetensors": Data(repeating: 1, count: 3000),
            "model-00002-of-00002.safetensors": Data(repeating: 2, count: 5000),
        ]
        let hub = try LoopbackHub(repo: tinyRepo, files: files)
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let folder = try ModelLocator.resolve(
            tinyRepo, settings: try hubSettings(hub, cache: cache), sink: CollectingProgressSink())
        for (name, data) in files {
            #expect(try Data(contentsOf: folder.appendingPathComponent(name)) == data, "\(name)")
        }
        #expect(!hub.hub.requests.contains { $0.path.hasSuffix("pytorch_model.bin") })
        #expect(
            LocalPlan.check(
                RepoCache(root: cache, repo: tinyRepo), commit: hub.commit, strict: true)
                == .complete)
    }

    /// PyTorch weights only when the repository has no safetensors.
    @Test func pytorchWeightsWhenNoSafetensorsExist() throws {
        let hub = try LoopbackHub(
            repo: tinyRepo, folder: TestPaths.fixtures.appendingPathComponent("t5-tiny-bin"))
        let cache = try TestPaths.temporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let folder = try ModelLocator.resolve(
            tinyRepo, settings: try hubSettings(hub, cache: cache), sink: CollectingProgressSink())
        #expect(linkTarget(folder.appendingPathComponent("pytorch_model.bin")) != nil)
        let asked = hub.hub.requests.filter { $0.method == "HEAD" }.map {
            String($0.path.split(separator: "/").last!)
        }
        #expect(
            Array(asked.prefix(4)) == [
                "config.json", "model.safetensors", "model.safetensors.index.json",
                "pytorch_model.bin",
            ])
    }
}
