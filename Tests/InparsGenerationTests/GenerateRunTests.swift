import Foundation
import InparsCore
import InparsHTTP
import InparsTestSupport
import Testing

@testable import InparsGeneration

/// A temporary folder with a small corpus whose documents start with distinct words.
struct GenerateFixture {
    let folder: URL
    let corpus: URL
    let count: Int

    init(documents count: Int = 12, longDocuments: Set<Int> = []) throws {
        folder = try TestPaths.temporaryDirectory("inpars-generate")
        corpus = folder.appendingPathComponent("corpus.jsonl")
        self.count = count
        var lines = ""
        for i in 0..<count {
            let words = longDocuments.contains(i) ? 300 : 6
            let body = (["w\(i)"] + (0..<words).map { "filler\($0)" }).joined(separator: " ")
            lines += #"{"_id": "d\#(i)", "title": "", "text": "\#(body)"}"# + "\n"
        }
        try Data(lines.utf8).write(to: corpus)
    }

    func output(_ name: String = "out.jsonl") -> URL { folder.appendingPathComponent(name) }

    func options(
        _ output: URL, max: Int = 8, seed: UInt64 = 3, queries: Int = 1, temperature: Double = 0,
        overwrite: Bool = false
    ) -> GenerateOptions {
        GenerateOptions(
            corpus: corpus, output: output, maxGenerations: max, seed: seed,
            queriesPerDocument: queries, temperature: temperature, overwrite: overwrite)
    }

    func backend(_ server: LoopbackHTTPServer, concurrency: Int = 4, attempts: Int = 1)
        -> OpenAIBackend
    {
        OpenAIBackend(
            configuration: OpenAIConfiguration(
                apiBase: server.baseURL, model: "tiny", timeout: 5,
                retry: RetryPolicy(maxAttempts: attempts, baseDelay: 0.001),
                concurrency: concurrency))
    }

    func prompts(_ name: String = "inpars", maxPromptTokens: Int = 2048, maxDocTokens: Int = 256)
        throws -> PromptBuilder
    {
        try PromptBuilder(
            template: try #require(PromptTemplate.builtin(name)), maxDocTokens: maxDocTokens,
            maxPromptTokens: maxPromptTokens, seed: 3)
    }

    func lines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

@Suite struct GenerateRunTests {
    @Test func recordsAreWrittenInSampleOrderWithTheirOwnQueries() async throws {
        let fixture = try GenerateFixture(documents: 20)
        defer { fixture.remove() }
        // Uneven delays make answers arrive out of order.
        let handler = OpenAIServer.echoingHandler()
        let server = try LoopbackHTTPServer { request, index in
            var response = handler(request, index)
            response.delay = Double((index * 7) % 5) * 0.02
            return response
        }
        let out = fixture.output()
        let sink = CollectingProgressSink()
        let summary = try await GenerateRun.run(
            options: fixture.options(out, max: 10), prompts: fixture.prompts(),
            backend: fixture.backend(server), progress: sink)
        #expect(summary.written == 10 && summary.sampledDocuments == 10)
        #expect(summary.failures.isEmpty && summary.skipped == 0 && summary.alreadyDone == 0)

        let records = try fixture.lines(out)
        #expect(records.count == 10)
        let ids = records.map { $0["doc_id"] as? String ?? "" }
        #expect(Set(ids).count == 10)
        // The sample order is the prefix-stable draw seeded from --seed.
        var generator = SeededGenerator(seed: RandomSampling.derivedSeed(3, 0, 0))
        #expect(ids == RandomSampling.sample(10, from: 20, using: &generator).map { "d\($0)" })
        for record in records {
            let id = try #require(record["doc_id"] as? String)
            let word = "w" + id.dropFirst()
            #expect(record["query"] as? String == "q:\(word)")
            #expect(record["log_probs"] as? [Double] == [-0.5, -0.25, -0.125])
            #expect((record["text"] as? String)?.hasPrefix(word + " filler0") == true)
            let prompt = try #require(record["prompt_text"] as? String)
            #expect(prompt.hasPrefix("Example 1:\nDocument: We don't know"))
            #expect(
                prompt.hasSuffix(
                    "Example 4:\nDocument: \(record["text"] as! String)\nRelevant Query:"))
            #expect(record["fewshot_examples"] as? [String] == [])
            #expect(record["model"] as? String == "tiny")
            #expect(record["backend"] as? String == "openai-completions")
            #expect(record["query_index"] as? Int == 0)
        }
        let manifest = try #require(try OutputManifest.read(OutputManifest.url(for: out)))
        #expect(manifest.settings["seed"] == "3" && manifest.settings["prompt"] == "inpars")
        #expect(manifest.settings["model"] == "tiny")
        #expect(sink.lines.last?.contains("generate: 10/10 (100%)") == true)
    }

    @Test func aRunCutShortByServerFailuresResumesToTheCompleteFile() async throws {
        let fixture = try GenerateFixture(documents: 15)
        defer { fixture.remove() }
        let healthy = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler())
        let reference = fixture.output("reference.jsonl")
        _ = try await GenerateRun.run(
            options: fixture.options(reference, max: 10), prompts: fixture.prompts(),
            backend: fixture.backend(healthy), progress: CollectingProgressSink())

        // The server breaks after 4 documents: the rest fail after their retries.
        let echo = OpenAIServer.echoingHandler()
        let failing = try LoopbackHTTPServer { request, index in
            index < 4 ? echo(request, index) : .json("overloaded", status: 503)
        }
        let out = fixture.output()
        let first = try await GenerateRun.run(
            options: fixture.options(out, max: 10), prompts: fixture.prompts(),
            backend: fixture.backend(failing, concurrency: 1, attempts: 2),
            progress: CollectingProgressSink())
        #expect(first.written == 4)
        #expect(first.failures.count == 6)
        #expect(first.retries == 6)
        let failure = try #require(first.failures.first)
        #expect(
            failure.error
                == .request(
                    url: failing.baseURL + "/v1/completions", attempts: 2,
                    error: .status(code: 503, body: "overloaded")))
        #expect(try fixture.lines(out).count == 4)

        let second = try await GenerateRun.run(
            options: fixture.options(out, max: 10), prompts: fixture.prompts(),
            backend: fixture.backend(healthy), progress: CollectingProgressSink())
        #expect(second.alreadyDone == 4 && second.written == 6 && second.failures.isEmpty)
        #expect(try Data(contentsOf: out) == Data(contentsOf: reference))
    }

    @Test func aTornLastLineIsDroppedAndRedone() async throws {
        let fixture = try GenerateFixture()
        defer { fixture.remove() }
        let server = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler())
        let reference = fixture.output("reference.jsonl")
        _ = try await GenerateRun.run(
            options: fixture.options(reference), prompts: fixture.prompts(),
            backend: fixture.backend(server), progress: CollectingProgressSink())
        let full = try Data(contentsOf: reference)
        let lines = full.split(separator: 0x0A, omittingEmptySubsequences: false)
        // Three whole lines and half of the fourth, as a crash mid-write would leave.
        let half = lines[3].count / 2
        let torn =
            Data(lines[0..<3].joined(separator: [0x0A])) + Data([0x0A])
            + Data(lines[3].prefix(half))
        let out = fixture.output()
        try torn.write(to: out)
        try FileManager.default.copyItem(
            at: OutputManifest.url(for: reference), to: OutputManifest.url(for: out))

        let sink = CollectingProgressSink()
        let summary = try await GenerateRun.run(
            options: fixture.options(out), prompts: fixture.prompts(),
            backend: fixture.backend(server), progress: sink)
        #expect(summary.tornBytesDropped == half)
        #expect(summary.alreadyDone == 3 && summary.written == 5)
        #expect(try Data(contentsOf: out) == full)
        #expect(sink.lines.contains { $0.contains("dropped a torn last line (\(half) bytes)") })
        #expect(sink.lines.contains { $0.contains("resuming: 3 of 8 generations") })
    }

    @Test func aRerunOfAFinishedRunDoesNothing() async throws {
        let fixture = try GenerateFixture()
        defer { fixture.remove() }
        let server = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler())
        let out = fixture.output()
        _ = try await GenerateRun.run(
            options: fixture.options(out), prompts: fixture.prompts(),
            backend: fixture.backend(server), progress: CollectingProgressSink())
        let before = try Data(contentsOf: out)
        let requests = server.requests.count
        let again = try await GenerateRun.run(
            options: fixture.options(out), prompts: fixture.prompts(),
            backend: fixture.backend(server), progress: CollectingProgressSink())
        #expect(again.alreadyDone == 8 && again.written == 0)
        #expect(server.requests.count == requests)
        #expect(try Data(contentsOf: out) == before)
    }

    @Test func otherSettingsAreRefusedUnlessOverwriting() async throws {
        let fixture = try GenerateFixture()
        defer { fixture.remove() }
        let server = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler())
        let out = fixture.output()
        _ = try await GenerateRun.run(
            options: fixture.options(out), prompts: fixture.prompts(),
            backend: fixture.backend(server), progress: CollectingProgressSink())
        await #expect(
            throws: GenerationError.manifestMismatch(
                path: out.path,
                differences: [
                    "prompt: inpars → inpars-gbq",
                    "prompt_sha: \(try sha("inpars")) → \(try sha("inpars-gbq"))",
                    "temperature: 0.0 → 0.7",
                ])
        ) {
            _ = try await GenerateRun.run(
                options: fixture.options(out, temperature: 0.7),
                prompts: fixture.prompts("inpars-gbq"),
                backend: fixture.backend(server), progress: CollectingProgressSink())
        }
        let summary = try await GenerateRun.run(
            options: fixture.options(out, temperature: 0.7, overwrite: true),
            prompts: fixture.prompts("inpars-gbq"), backend: fixture.backend(server),
            progress: CollectingProgressSink())
        #expect(summary.written == 8 && summary.alreadyDone == 0)
        #expect(
            try fixture.lines(out).allSatisfy {
                ($0["prompt_text"] as? String)?.hasSuffix("Good Question:") == true
            })
    }

    func sha(_ name: String) throws -> String {
        var hash = FNV1a()
        hash.add(try #require(PromptTemplate.builtin(name)).text)
        return hash.hex
    }

    @Test func anOutputWithoutManifestIsNotAppendedTo() async throws {
        let fixture = try GenerateFixture()
        defer { fixture.remove() }
        let server = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler())
        let out = fixture.output()
        try Data("{\"doc_id\": \"x\", \"query\": \"q\"}\n".utf8).write(to: out)
        do {
            _ = try await GenerateRun.run(
                options: fixture.options(out), prompts: fixture.prompts(),
                backend: fixture.backend(server), progress: CollectingProgressSink())
            Issue.record("expected a refusal")
        } catch let error as GenerationError {
            guard case .manifestMismatch(let path, let differences) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(path == out.path)
            #expect(differences.first?.contains("no manifest") == true)
        }
        #expect(server.requests.isEmpty)
    }

    @Test func aCorruptCompleteLineIsReportedWithItsNumber() async throws {
        let fixture = try GenerateFixture()
        defer { fixture.remove() }
        let server = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler())
        let out = fixture.output()
        _ = try await GenerateRun.run(
            options: fixture.options(out), prompts: fixture.prompts(),
            backend: fixture.backend(server), progress: CollectingProgressSink())
        var text = try String(contentsOf: out, encoding: .utf8)
        text += "{\"query\": \"no id\"}\n"
        try Data(text.utf8).write(to: out)
        await #expect(
            throws: GenerationError.corruptOutput(path: out.path, line: 9, reason: "no 'doc_id'")
        ) {
            _ = try await GenerateRun.run(
                options: fixture.options(out), prompts: fixture.prompts(),
                backend: fixture.backend(server), progress: CollectingProgressSink())
        }
    }

    @Test func aServerWithoutLogProbsStopsTheRunKeepingFinishedDocuments() async throws {
        let fixture = try GenerateFixture()
        defer { fixture.remove() }
        let echo = OpenAIServer.echoingHandler()
        let server = try LoopbackHTTPServer { request, index in
            index < 3
                ? echo(request, index) : .json(#"{"choices":[{"text":" q","logprobs":null}]}"#)
        }
        let out = fixture.output()
        await #expect(
            throws: GenerationError.missingLogProbs(
                url: server.baseURL + "/v1/completions", field: "choices[0].logprobs")
        ) {
            _ = try await GenerateRun.run(
                options: fixture.options(out), prompts: fixture.prompts(),
                backend: fixture.backend(server, concurrency: 1), progress: CollectingProgressSink()
            )
        }
        #expect(try fixture.lines(out).count == 3)
        #expect(server.requests.count == 4)
    }

    @Test func overlongPromptsAreSkippedAndCounted() async throws {
        // Documents 1, 4 and 7 have 301 words; the others 7. With no document cut and a
        // 400-word limit, only the long ones overflow (inpars examples ≈ 190 words).
        let long: Set<Int> = [1, 4, 7]
        let fixture = try GenerateFixture(documents: 9, longDocuments: long)
        defer { fixture.remove() }
        let server = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler())
        let out = fixture.output()
        let summary = try await GenerateRun.run(
            options: fixture.options(out, max: 9),
            prompts: fixture.prompts(maxPromptTokens: 400, maxDocTokens: 0),
            backend: fixture.backend(server), progress: CollectingProgressSink())
        #expect(summary.skipped == 3 && summary.written == 6)
        let ids = Set(try fixture.lines(out).compactMap { $0["doc_id"] as? String })
        #expect(ids == Set((0..<9).filter { !long.contains($0) }.map { "d\($0)" }))
        #expect(server.requests.count == 6)
    }

    @Test func aLargerSampleExtendsAnEarlierRun() async throws {
        let fixture = try GenerateFixture(documents: 20)
        defer { fixture.remove() }
        let server = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler())
        let reference = fixture.output("reference.jsonl")
        _ = try await GenerateRun.run(
            options: fixture.options(reference, max: 12), prompts: fixture.prompts(),
            backend: fixture.backend(server), progress: CollectingProgressSink())
        let out = fixture.output()
        _ = try await GenerateRun.run(
            options: fixture.options(out, max: 5), prompts: fixture.prompts(),
            backend: fixture.backend(server), progress: CollectingProgressSink())
        let extended = try await GenerateRun.run(
            options: fixture.options(out, max: 12), prompts: fixture.prompts(),
            backend: fixture.backend(server), progress: CollectingProgressSink())
        #expect(extended.alreadyDone == 5 && extended.written == 7)
        #expect(try Data(contentsOf: out) == Data(contentsOf: reference))
    }

    @Test func severalQueriesPerDocumentGetTheirOwnIndexAndSeed() async throws {
        let fixture = try GenerateFixture()
        defer { fixture.remove() }
        let server = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler())
        let out = fixture.output()
        let summary = try await GenerateRun.run(
            options: fixture.options(out, max: 4, queries: 3, temperature: 0.8),
            prompts: fixture.prompts(), backend: fixture.backend(server),
            progress: CollectingProgressSink())
        #expect(summary.written == 12)
        let records = try fixture.lines(out)
        #expect(
            records.map { $0["query_index"] as? Int ?? -1 }
                == Array(repeating: [0, 1, 2], count: 4).flatMap { $0 })
        let ids = records.map { $0["doc_id"] as? String ?? "" }
        #expect(Set(ids).count == 4)
        for start in stride(from: 0, to: 12, by: 3) {
            #expect(Set(ids[start..<start + 3]).count == 1)
        }
        let seeds = server.requests.compactMap { $0.json?["seed"] as? Int }
        #expect(seeds.count == 12 && Set(seeds).count == 12)
        #expect(server.requests.allSatisfy { $0.json?["temperature"] as? Double == 0.8 })
    }

    @Test func dynamicPromptsRecordTheirExamples() async throws {
        let fixture = try GenerateFixture()
        defer { fixture.remove() }
        let server = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler())
        let pool = (0..<5).map {
            FewShotExample(id: "q\($0)", query: "query \($0)", document: "Document: e\($0) text")
        }
        let prompts = try PromptBuilder(
            template: try #require(PromptTemplate.builtin("promptagator-nfcorpus")),
            examples: pool, numExamples: 2, seed: 3)
        let out = fixture.output()
        _ = try await GenerateRun.run(
            options: fixture.options(out, max: 6), prompts: prompts,
            backend: fixture.backend(server), progress: CollectingProgressSink())
        for record in try fixture.lines(out) {
            let examples = try #require(record["fewshot_examples"] as? [String])
            #expect(examples.count == 2 && Set(examples).count == 2)
            let prompt = try #require(record["prompt_text"] as? String)
            let expectedStart = examples.map { id in
                let n = id.dropFirst()
                return "Article: Document: e\(n) text\nQuery: query \(n)\n"
            }.joined()
            #expect(prompt.hasPrefix(expectedStart))
            #expect(prompt.hasSuffix("\nQuery:"))
        }
        let manifest = try #require(try OutputManifest.read(OutputManifest.url(for: out)))
        #expect(manifest.settings["num_examples"] == "2")
    }

    @Test func recordsAreValidJSONWithEscapes() throws {
        let record = GenerationRecord(
            docID: "a\"b", text: "line\nnext\ttab \u{01} é", query: "q\\",
            logProbs: [-0.5, -1e-05, -.infinity],
            promptText: "p", fewshotExamples: ["x"], model: "m", backend: "b", queryIndex: 2)
        let line = record.jsonLine
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        #expect(
            line.hasPrefix(
                #"{"doc_id": "a\"b", "text": "line\nnext\ttab \u0001 é", "query": "q\\", "log_probs": [-0.5, -1e-05, -Infinity]"#
            ))
        let finite = GenerationRecord(
            docID: "a\"b", text: "line\nnext\ttab \u{01} é", query: "q\\",
            logProbs: [-0.5, -1e-05],
            promptText: "p", fewshotExamples: ["x"], model: "m", backend: "b", queryIndex: 2)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(finite.jsonLine.utf8)) as? [String: Any])
        #expect(object["doc_id"] as? String == "a\"b")
        #expect(object["text"] as? String == "line\nnext\ttab \u{01} é")
        #expect(object["log_probs"] as? [Double] == [-0.5, -1e-05])
        #expect(object["query_index"] as? Int == 2)
    }
}

@Suite struct GenerateRunChatTests {
    @Test func chatRunsRecordTheChatBackend() async throws {
        let fixture = try GenerateFixture()
        defer { fixture.remove() }
        let server = try LoopbackHTTPServer(handler: OpenAIServer.echoingHandler(chat: true))
        let backend = OpenAIBackend(
            configuration: OpenAIConfiguration(
                apiBase: server.baseURL + "/v1", model: "chatty", chat: true, timeout: 5,
                concurrency: 3))
        let out = fixture.output()
        let summary = try await GenerateRun.run(
            options: fixture.options(out, max: 5), prompts: fixture.prompts("inpars-gbq"),
            backend: backend, progress: CollectingProgressSink())
        #expect(summary.written == 5)
        for record in try fixture.lines(out) {
            let id = try #require(record["doc_id"] as? String)
            #expect(record["query"] as? String == "q:w" + id.dropFirst())
            #expect(record["backend"] as? String == "openai-chat")
            #expect(record["model"] as? String == "chatty")
        }
        #expect(server.requests.allSatisfy { $0.path == "/v1/chat/completions" })
    }
}

@Suite struct GenerateRunGapTests {
    @Test func aFailureInTheMiddleIsFilledInByTheRerunWithoutDuplicates() async throws {
        let fixture = try GenerateFixture(documents: 12)
        defer { fixture.remove() }
        let echo = OpenAIServer.echoingHandler()
        // Every request for documents d2 and d7 fails on the first run.
        let flaky = try LoopbackHTTPServer { request, index in
            let word = OpenAIServer.firstWordOfTarget(OpenAIServer.promptText(request))
            return ["w2", "w7"].contains(word) ? .json("no", status: 502) : echo(request, index)
        }
        let out = fixture.output()
        let first = try await GenerateRun.run(
            options: fixture.options(out, max: 12), prompts: fixture.prompts(),
            backend: fixture.backend(flaky, concurrency: 4, attempts: 2),
            progress: CollectingProgressSink())
        #expect(Set(first.failures.map(\.docID)) == ["d2", "d7"])
        #expect(first.written == 10)
        #expect(try OutputManifest.read(OutputManifest.url(for: out))?.state == .running)

        let healthy = try LoopbackHTTPServer(handler: echo)
        let second = try await GenerateRun.run(
            options: fixture.options(out, max: 12), prompts: fixture.prompts(),
            backend: fixture.backend(healthy), progress: CollectingProgressSink())
        #expect(second.alreadyDone == 10 && second.written == 2)
        let ids = try fixture.lines(out).compactMap { $0["doc_id"] as? String }
        #expect(ids.count == 12)
        #expect(Set(ids) == Set((0..<12).map { "d\($0)" }))
        // The retried generations are put back in sample order: the file is byte for byte an
        // uninterrupted run's, and its manifest says complete.
        let reference = fixture.output("reference.jsonl")
        _ = try await GenerateRun.run(
            options: fixture.options(reference, max: 12), prompts: fixture.prompts(),
            backend: fixture.backend(try LoopbackHTTPServer(handler: echo)),
            progress: CollectingProgressSink())
        #expect(try Data(contentsOf: out) == Data(contentsOf: reference))
        #expect(try OutputManifest.read(OutputManifest.url(for: out))?.state == .complete)
        #expect(
            Set(
                healthy.requests.map { OpenAIServer.firstWordOfTarget(OpenAIServer.promptText($0)) }
            ) == ["w2", "w7"])
    }
}
