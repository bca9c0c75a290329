import Foundation
import InparsCore
import InparsHTTP
import InparsTestSupport
import Testing

@testable import InparsHub

/// A BEIR download folder on loopback serving the fixture zips (and, optionally, md5 files).
final class LoopbackBEIR: @unchecked Sendable {
    // Set once in init; the server is thread-safe.
    let server: LoopbackHTTPServer
    var url: String { server.baseURL + "/datasets" }

    init(
        md5: [String: String] = [:],
        fault: @escaping @Sendable (RecordedRequest, Int) -> ScriptedResponse? = { _, _ in nil }
    ) throws {
        let folder = TestPaths.fixtures.appendingPathComponent("beir")
        let zips = try Dictionary(
            uniqueKeysWithValues: ["tiny", "subsets"].map {
                (
                    "/datasets/\($0).zip",
                    try Data(contentsOf: folder.appendingPathComponent("\($0).zip"))
                )
            })
        server = try LoopbackHTTPServer { request, index in
            if let scripted = fault(request, index) { return scripted }
            if let data = zips[request.path] { return .file(data, for: request) }
            if request.path.hasSuffix(".zip.md5"),
                let sum = md5[
                    String(request.path.dropFirst("/datasets/".count).dropLast(".zip.md5".count))]
            {
                return ScriptedResponse(body: Data("\(sum)  x.zip\n".utf8))
            }
            return ScriptedResponse(status: 404)
        }
    }

    func settings(cache: URL) -> DatasetSettings {
        DatasetSettings(
            cacheDirectory: cache, beirURL: url, downloadTimeout: 5,
            retry: RetryPolicy(maxAttempts: 4, baseDelay: 0.01, maxDelay: 0.05))
    }
}

let tinyMD5 = String(
    (try? String(
        contentsOf: TestPaths.fixtures.appendingPathComponent("beir/tiny.zip.md5"), encoding: .utf8))?
        .prefix(32) ?? "")

@Suite struct DatasetTests {
    /// `beir/tiny` downloads (md5 checked), unpacks to the files Python zipped, and the zip is
    /// removed; a second resolve sends nothing.
    @Test func beirNameDownloadsChecksAndUnpacks() throws {
        let beir = try LoopbackBEIR(md5: ["tiny": tinyMD5])
        let cache = try TestPaths.temporaryDirectory("inpars-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let settings = beir.settings(cache: cache)
        let sink = CollectingProgressSink()
        let corpus = try DatasetLocator.resolve(
            "beir/tiny", role: .corpus, settings: settings, sink: sink)
        let plain = TestPaths.fixtures.appendingPathComponent("beir/tiny")
        #expect(corpus.path == cache.appendingPathComponent("beir/tiny/corpus.jsonl").path)
        #expect(
            try Data(contentsOf: corpus)
                == Data(contentsOf: plain.appendingPathComponent("corpus.jsonl")))
        let qrels = try DatasetLocator.resolve(
            "beir/tiny", role: .qrels, settings: settings, sink: sink)
        #expect(
            try Data(contentsOf: qrels)
                == Data(contentsOf: plain.appendingPathComponent("qrels/test.tsv")))
        #expect(
            !FileManager.default.fileExists(
                atPath: cache.appendingPathComponent("beir/tiny.zip").path))
        #expect(
            beir.server.requests.map(\.path) == [
                "/datasets/tiny.zip", "/datasets/tiny.zip.md5", "/datasets/tiny.zip",
            ])

        // Queries of a split: the qrels' queries only, lines as they were.
        let test = try DatasetLocator.resolve(
            "beir/tiny", role: .queries, settings: settings, sink: sink)
        let lines = try String(contentsOf: test, encoding: .utf8).split(separator: "\n")
        #expect(
            lines.map { $0.contains("\"q1\"") || $0.contains("\"q2\"") || $0.contains("\"q3\"") }
                == [true, true, true])
        let train = try DatasetLocator.resolve(
            "beir/tiny/train", role: .queries, settings: settings, sink: sink)
        #expect(
            try String(contentsOf: train, encoding: .utf8)
                == #"{"_id": "q4", "text": "hotel india", "metadata": {}}"# + "\n")
        #expect(beir.server.requests.count == 3)
    }

    /// A wrong md5 stops before unpacking and leaves neither a zip nor a folder.
    @Test func wrongMD5LeavesNothing() throws {
        let beir = try LoopbackBEIR(md5: ["tiny": String(repeating: "0", count: 32)])
        let cache = try TestPaths.temporaryDirectory("inpars-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let (error, message) = hubFailure {
            _ = try DatasetLocator.resolve(
                "beir/tiny", role: .corpus, settings: beir.settings(cache: cache),
                sink: CollectingProgressSink())
        }
        #expect(
            error
                == .checksumMismatch(
                    name: "beir/tiny.zip", algorithm: "md5",
                    expected: String(repeating: "0", count: 32), actual: tinyMD5))
        #expect(message.contains("beir/tiny.zip"))
        let left = try FileManager.default.contentsOfDirectory(
            atPath: cache.appendingPathComponent("beir").path)
        #expect(left.filter { !$0.hasSuffix(".lock") } == [])
    }

    /// Without an md5 file beside the zip, nothing is checked (and the user is told); a cut
    /// download resumes with Range.
    @Test func noMD5FileAndACutDownload() throws {
        let zip = try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("beir/tiny.zip"))
        let beir = try LoopbackBEIR { request, _ in
            guard request.method == "GET", request.path == "/datasets/tiny.zip",
                request.headers["range"] == nil
            else { return nil }
            var response = ScriptedResponse.file(zip, for: request)
            response.cutAfter = 10_000
            return response
        }
        let cache = try TestPaths.temporaryDirectory("inpars-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let sink = CollectingProgressSink()
        let corpus = try DatasetLocator.resolve(
            "beir/tiny", role: .corpus, settings: beir.settings(cache: cache), sink: sink)
        #expect(FileManager.default.fileExists(atPath: corpus.path))
        #expect(sink.lines.contains { $0.contains("no published md5") })
        #expect(beir.server.requests.last?.headers["range"] == "bytes=10000-")
    }

    /// Subsets (cqadupstack's forums), missing splits and unknown names.
    @Test func subsetsSplitsAndErrors() throws {
        let beir = try LoopbackBEIR()
        let cache = try TestPaths.temporaryDirectory("inpars-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let settings = beir.settings(cache: cache)
        let sink = CollectingProgressSink()
        let beta = try DatasetLocator.resolve(
            "beir/subsets/beta", role: .corpus, settings: settings, sink: sink)
        #expect(try String(contentsOf: beta, encoding: .utf8).contains("lima"))
        let (noSubset, subsetMessage) = hubFailure {
            _ = try DatasetLocator.resolve(
                "beir/subsets", role: .corpus, settings: settings, sink: sink)
        }
        #expect(noSubset.map { if case .invalidDatasetSpec = $0 { true } else { false } } == true)
        #expect(subsetMessage.contains("alpha, beta"))
        let (noSplit, _) = hubFailure {
            _ = try DatasetLocator.resolve(
                "beir/tiny/dev", role: .qrels, settings: settings, sink: sink)
        }
        #expect(
            noSplit
                == .splitNotFound(dataset: "beir/tiny", split: "dev", available: ["test", "train"]))
        let (unknown, unknownMessage) = hubFailure {
            _ = try DatasetLocator.resolve(
                "beir/nosuch", role: .corpus, settings: settings, sink: sink)
        }
        #expect(unknown == .datasetNotFound(name: "beir/nosuch", url: beir.url + "/nosuch.zip"))
        #expect(unknownMessage.contains("404"))
        #expect(throws: HubError.self) {
            try DatasetLocator.resolve("beir/../etc", role: .corpus, settings: settings, sink: sink)
        }
        #expect(!DatasetLocator.isDatasetName(TestPaths.fixtures.path))
    }
}
