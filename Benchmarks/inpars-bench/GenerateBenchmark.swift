import ArgumentParser
import Foundation
import InparsCore
import InparsGeneration
import InparsHTTP
import InparsTestSupport

/// Wall time of `inpars generate` against a loopback OpenAI-style server that delays each
/// answer: proves that requests overlap (issue 5: 200 documents, 200 ms, concurrency 16, < 4 s).
struct GenerateBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generation throughput against a delaying loopback server.")

    @Option(help: "Documents to generate for.") var documents = 200
    @Option(help: "Server delay per answer, milliseconds.") var delay = 200
    @Option(help: "Requests in flight.") var concurrency = 16
    @Option(help: "Documents for the serial reference run (concurrency 1).") var serialDocuments =
        10

    func run() throws {
        let delaySeconds = Double(delay) / 1000
        let parallel = try measure(
            documents: documents, concurrency: concurrency, delay: delaySeconds)
        let serial = try measure(documents: serialDocuments, concurrency: 1, delay: delaySeconds)
        let waves = (documents + concurrency - 1) / concurrency
        let ideal = Double(waves) * delaySeconds
        let serialPerDocument = serial.seconds / Double(serialDocuments)
        print("| run | documents | concurrency | wall s | docs/s |")
        print("|---|---:|---:|---:|---:|")
        print(row("inpars generate", documents, concurrency, parallel.seconds))
        print(row("inpars generate (serial reference)", serialDocuments, 1, serial.seconds))
        print(
            "ideal overlap: \(waves) waves × \(delay) ms = \(String(format: "%.2f", ideal)) s;"
                + " serial at the measured \(String(format: "%.0f", serialPerDocument * 1000)) ms/doc"
                + " would take \(String(format: "%.1f", serialPerDocument * Double(documents))) s;"
                + " goal < 4 s: \(parallel.seconds < 4 ? "met" : "NOT met")")
        if parallel.written != documents || serial.written != serialDocuments {
            throw ValidationError("expected every document to be written")
        }
    }

    private func row(_ name: String, _ documents: Int, _ concurrency: Int, _ seconds: Double)
        -> String
    {
        "| \(name) | \(documents) | \(concurrency) | \(String(format: "%.2f", seconds)) | "
            + "\(String(format: "%.1f", Double(documents) / seconds)) |"
    }

    private func measure(documents: Int, concurrency: Int, delay: Double) throws -> (
        seconds: Double, written: Int
    ) {
        let folder = try TestPaths.temporaryDirectory("inpars-bench-generate")
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = folder.appendingPathComponent("corpus.jsonl")
        var lines = ""
        for i in 0..<documents {
            lines +=
                #"{"_id": "d\#(i)", "title": "Title \#(i)", "text": "Body of document \#(i) about topic \#(i % 17)."}"#
                + "\n"
        }
        try Data(lines.utf8).write(to: corpus)
        let answer = Data(
            #"{"choices":[{"text":" a query\n","logprobs":{"tokens":[" a"," query","\n"],"token_logprobs":[-0.5,-0.25,-0.1]}}]}"#
                .utf8)
        let server = try LoopbackHTTPServer { _, _ in
            ScriptedResponse(
                status: 200, headers: [("Content-Type", "application/json")], body: answer,
                delay: delay)
        }
        let backend = OpenAIBackend(
            configuration: OpenAIConfiguration(
                apiBase: server.baseURL, model: "bench", timeout: 30, concurrency: concurrency))
        let prompts = try PromptBuilder(template: PromptTemplate.builtin("inpars")!)
        let options = GenerateOptions(
            corpus: corpus, output: folder.appendingPathComponent("out.jsonl"),
            maxGenerations: documents)
        let box = ResultBox()
        let semaphore = DispatchSemaphore(value: 0)
        let start = ProcessInfo.processInfo.systemUptime
        Task {
            do {
                let summary = try await GenerateRun.run(
                    options: options, prompts: prompts, backend: backend,
                    progress: CollectingProgressSink())
                box.set(.success(summary.written))
            } catch {
                box.set(.failure(error))
            }
            semaphore.signal()
        }
        semaphore.wait()
        let seconds = ProcessInfo.processInfo.systemUptime - start
        return (seconds, try box.get())
    }
}

/// Hands a result from the benchmark task to the blocked main thread.
/// Invariant behind `@unchecked Sendable`: `value` is only touched under `lock`.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<Int, any Error> = .success(0)
    func set(_ result: Result<Int, any Error>) { lock.withLock { value = result } }
    func get() throws -> Int { try lock.withLock { value }.get() }
}
