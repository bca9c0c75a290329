import Foundation
import InparsCore
import InparsTestSupport
import Testing

/// Hub ids and BEIR names through the built binary, against loopback servers only.
@Suite struct HubCommandTests {
    let fixture = TestPaths.fixtures.appendingPathComponent("t5-tiny-v11")

    /// An environment with its own caches and no token, pointing at loopback servers.
    func environment(_ folder: URL, _ extra: [String: String]) -> [String: String] {
        var environment = [
            "HOME": folder.path, "HF_HUB_CACHE": folder.appendingPathComponent("hf").path,
            "INPARS_CACHE": folder.appendingPathComponent("inpars").path,
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
        ]
        environment.merge(extra) { _, new in new }
        return environment
    }

    func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// `rerank --model org/name` from an empty cache writes the same run as the local folder;
    /// a second run, offline, needs no server.
    @Test func rerankWithAHubIdFromAnEmptyCache() throws {
        let hub = try LoopbackHub(repo: "loopback-org/monot5-tiny", folder: fixture)
        let folder = try TestPaths.temporaryDirectory("hub-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = try ParisRerankInputs(in: folder)
        func rerank(_ model: String, _ output: String, _ env: [String: String]) throws
            -> BuiltProducts.Result
        {
            try BuiltProducts.run(
                inputs.arguments(
                    model: model, output: folder.appendingPathComponent(output).path, ["--threads", "1"]),
                environment: environment(folder, env))
        }
        let online = try rerank(
            "loopback-org/monot5-tiny", "hub.trec", ["HF_ENDPOINT": hub.endpoint])
        #expect(online.status == 0, "\(online.stderr)")
        #expect(online.stderr.contains("loopback-org/monot5-tiny/model.safetensors"))
        let local = try rerank(fixture.path, "local.trec", [:])
        #expect(local.status == 0, "\(local.stderr)")
        let hubRun = try Data(contentsOf: folder.appendingPathComponent("hub.trec"))
        let localRun = try Data(contentsOf: folder.appendingPathComponent("local.trec"))
        #expect(!hubRun.isEmpty && hubRun == localRun)

        let requests = hub.requestCount
        hub.hub.stop()
        hub.cdn.stop()
        let offline = try rerank(
            "loopback-org/monot5-tiny", "offline.trec",
            ["HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "1"])
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(hub.requestCount == requests)

        let missing = try rerank("loopback-org/absent", "x.trec", ["HF_HUB_OFFLINE": "1"])
        #expect(missing.status == 1)
        #expect(
            missing.stderr.contains("HF_HUB_OFFLINE")
                && missing.stderr.contains("inpars download loopback-org/absent"))
    }

    /// `train --model org/name` starts from the snapshot and its output folder holds real
    /// tokenizer files (copies of the blobs), not the snapshot's relative symlinks.
    @Test func trainFromAHubIdCopiesTheTokenizerFiles() throws {
        let tiny = TestPaths.fixtures.appendingPathComponent("t5-tiny")
        let hub = try LoopbackHub(repo: "loopback-org/t5-tiny", folder: tiny)
        let folder = try TestPaths.temporaryDirectory("hub-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = (0..<4).map { "topic\($0)\ttopic\($0) text\tother words\n" }.joined()
        let triplesFile = try write(triples, "triples.tsv", in: folder)
        let output = folder.appendingPathComponent("out")
        let result = try BuiltProducts.run(
            [
                "train", "--model", "loopback-org/t5-tiny", "--triples", triplesFile,
                "--output", output.path, "--steps", "1", "--batch-size", "2", "--max-length", "16",
                "--threads", "1",
            ], environment: environment(folder, ["HF_ENDPOINT": hub.endpoint]))
        #expect(result.status == 0, "\(result.stderr)")
        for name in ["spiece.model", "tokenizer.json", "tokenizer_config.json"] {
            let copy = output.appendingPathComponent("final/\(name)")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: copy.path)) == nil, "\(name)")
            #expect(try Data(contentsOf: copy) == Data(contentsOf: tiny.appendingPathComponent(name)), "\(name)")
        }
    }

    /// `download` prints the snapshot folder; the gated-model message reaches the user.
    @Test func downloadPrintsTheSnapshotAndErrorsAreSentences() throws {
        let hub = try LoopbackHub(
            repo: "loopback-org/monot5-tiny", folder: fixture, gatedToken: "hf_ok")
        let folder = try TestPaths.temporaryDirectory("hub-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let denied = try BuiltProducts.run(
            ["download", "loopback-org/monot5-tiny"],
            environment: environment(folder, ["HF_ENDPOINT": hub.endpoint]))
        #expect(denied.status == 1)
        #expect(
            denied.stderr.contains("gated") && denied.stderr.contains("HF_TOKEN"),
            "\(denied.stderr)")
        let fetched = try BuiltProducts.run(
            ["download", "loopback-org/monot5-tiny"],
            environment: environment(folder, ["HF_ENDPOINT": hub.endpoint, "HF_TOKEN": "hf_ok"]))
        #expect(fetched.status == 0, "\(fetched.stderr)")
        let expected = folder.appendingPathComponent(
            "hf/models--loopback-org--monot5-tiny/snapshots/\(hub.commit)"
        ).path
        #expect(fetched.stdout == expected + "\n")
    }

    /// `index`, `search` and `evaluate` on `beir/tiny`: BM25 finds q1's and q2's judged
    /// documents first and nothing for q3 (no shared word), so nDCG@10 is 1 over the two
    /// retrieved queries and 2/3 over all three (-c).
    @Test func searchAndEvaluateOnABEIRName() throws {
        let zip = try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("beir/tiny.zip"))
        let md5 = try String(
            contentsOf: TestPaths.fixtures.appendingPathComponent("beir/tiny.zip.md5"),
            encoding: .utf8)
        let server = try LoopbackHTTPServer { request, _ in
            switch request.path {
            case "/beir/tiny.zip": return .file(zip, for: request)
            case "/beir/tiny.zip.md5": return ScriptedResponse(body: Data(md5.utf8))
            default: return ScriptedResponse(status: 404)
            }
        }
        let folder = try TestPaths.temporaryDirectory("beir-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let env = environment(folder, ["INPARS_BEIR_URL": server.baseURL + "/beir"])
        let index = folder.appendingPathComponent("index").path
        let built = try BuiltProducts.run(
            ["index", "--corpus", "beir/tiny", "--index", index], environment: env)
        #expect(built.status == 0, "\(built.stderr)")
        let run = folder.appendingPathComponent("run.trec").path
        let searched = try BuiltProducts.run(
            [
                "search", "--index", index, "--queries", "beir/tiny", "--qrels", "beir/tiny",
                "--output", run, "--k", "10",
            ],
            environment: env)
        #expect(searched.status == 0, "\(searched.stderr)")
        let firstHits = try String(contentsOfFile: run, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: " ") }.filter { $0[3] == "1" }.map { "\($0[0]) \($0[2])" }
        #expect(firstHits == ["q1 d1", "q2 d2"])
        let evaluated = try BuiltProducts.run(
            ["evaluate", "--qrels", "beir/tiny", "--run", run, "--metrics", "ndcg@10"],
            environment: env)
        #expect(
            evaluated.stdout == "queries\tall\t2\nndcg@10\tall\t1.0000\n", "\(evaluated.stderr)")
        let all = try BuiltProducts.run(
            ["evaluate", "--qrels", "beir/tiny/test", "--run", run, "--metrics", "ndcg@10", "-c"],
            environment: env)
        #expect(all.stdout == "queries\tall\t3\nndcg@10\tall\t0.6667\n", "\(all.stderr)")
        #expect(
            server.requests.filter { $0.path == "/beir/tiny.zip" && $0.method == "GET" }.count == 1)

        let printed = try BuiltProducts.run(["download", "beir/tiny"], environment: env)
        #expect(printed.stdout == folder.appendingPathComponent("inpars/beir/tiny").path + "\n")
    }
}
