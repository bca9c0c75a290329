import Foundation
import InparsCore

/// OpenAI batch files, for `vllm run-batch` and the OpenAI Batch API.
///
/// Requests (`generate --batch-export FILE`), one JSON object per line:
/// `{"custom_id": "<run>:<doc_id>#<query_index>", "method": "POST", "url":
/// "/v1/completions", "body": {…}}`, the body exactly what `generate --api-base` would send.
/// `<run>` is the first 8 hex digits of the output manifest's run id, so results of another
/// export (other settings or inputs) are recognised and refused.
///
/// Results (`generate --batch-import FILE`), one line per request in any order: `{"id": …,
/// "custom_id": …, "response": {"status_code": 200, "body": {…}}, "error": null}`, or an
/// error line (`"error": {"code", "message"}`, or a non-200 `status_code`).
public enum BatchFile {
    /// The `custom_id` of a request.
    static func customID(run: String, request: GenerationRequest) -> String {
        "\(run.prefix(8)):\(request.id)"
    }

    /// One line of a requests file.
    static func requestLine(
        _ request: GenerationRequest, run: String, configuration: OpenAIConfiguration
    ) throws -> String {
        let body = try configuration.requestBody(request)
        let head: [String: Any] = [
            "custom_id": customID(run: run, request: request), "method": "POST",
            "url": configuration.endpointPath,
        ]
        var line = try JSONSerialization.data(withJSONObject: head, options: [.sortedKeys])
        // Splice the body in as written for the online path: `{…, "body": <body>}`.
        line.removeLast()
        line.append(contentsOf: Array(",\"body\":".utf8))
        line.append(body)
        line.append(contentsOf: Array("}\n".utf8))
        return String(decoding: line, as: UTF8.self)
    }

    /// What a results file holds.
    public struct Results: Sendable {
        /// Parsed answers and failures by request id (`<doc_id>#<query_index>`).
        var answers: [String: Answer] = [:]
        /// Lines that could not be read at all: (line number, reason).
        public var unreadable: [(line: Int, reason: String)] = []
        /// Lines whose `custom_id` belongs to another export.
        public var foreign = 0
        var foreignExample = ""
    }

    /// A result line: the decoded response body, or why there is none.
    enum Answer: @unchecked Sendable {
        // `body` is a JSONSerialization tree (immutable once parsed).
        case body(Any, line: Int)
        case failure(String)
    }

    /// Reads a results file, keeping the lines of run `run`.
    ///
    /// - Throws: ``GenerationError/foreignBatchResults(path:count:example:)`` when lines of
    ///   another export are present; file errors.
    static func readResults(_ url: URL, run: String) throws -> Results {
        var results = Results()
        let reader = try LineReader(url: url)
        let prefix = String(run.prefix(8)) + ":"
        while let line = try reader.nextLine() {
            let number = reader.lineNumber
            if line.allSatisfy(\.isWhitespace) { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else {
                results.unreadable.append((number, "not a JSON object"))
                continue
            }
            guard let custom = object["custom_id"] as? String else {
                results.unreadable.append((number, "no 'custom_id'"))
                continue
            }
            guard custom.hasPrefix(prefix) else {
                results.foreign += 1
                if results.foreignExample.isEmpty { results.foreignExample = custom }
                continue
            }
            results.answers[String(custom.dropFirst(prefix.count))] = answer(object, line: number)
        }
        if results.foreign > 0 {
            throw GenerationError.foreignBatchResults(
                path: url.path, count: results.foreign, example: results.foreignExample)
        }
        return results
    }

    /// The answer of one result line.
    private static func answer(_ object: [String: Any], line: Int) -> Answer {
        if let error = object["error"] as? [String: Any] {
            let code = error["code"].map { "\($0): " } ?? ""
            return .failure("line \(line): \(code)\(error["message"] as? String ?? "error")")
        }
        guard let response = object["response"] as? [String: Any] else {
            return .failure("line \(line): no 'response'")
        }
        let status = (response["status_code"] as? NSNumber)?.intValue ?? 0
        let body = response["body"] ?? NSNull()
        guard status == 200 else {
            let message =
                ((body as? [String: Any])?["error"] as? [String: Any])?["message"] as? String
            return .failure("line \(line): status \(status)" + (message.map { ": \($0)" } ?? ""))
        }
        return .body(body, line: line)
    }
}

/// What a batch export wrote.
public struct BatchExportSummary: Sendable, Equatable {
    public var sampledDocuments = 0
    /// Requests written.
    public var requests = 0
    /// Generations already in the output (not exported).
    public var alreadyDone = 0
    /// Prompts too long for `--max-prompt-tokens` (not exported).
    public var skipped = 0
}

/// A backend that answers from a batch results file (``BatchFile``): the import route of
/// `generate`, so imported records are made, ordered, written and resumed exactly as online
/// ones.
struct BatchResultsBackend: GenerationBackend {
    let results: BatchFile.Results
    let configuration: OpenAIConfiguration
    let path: String

    var backendName: String { configuration.backendName }
    var modelName: String { configuration.model }
    var maxBatchSize: Int { 1 }
    var maxConcurrentCalls: Int { 1 }

    func generate(_ requests: [GenerationRequest]) async throws -> [GenerationOutput] {
        try requests.map { request in
            switch results.answers[request.id] {
            case nil:
                throw GenerationError.batchResult(id: request.id, reason: "not in '\(path)'")
            case .failure(let reason)?:
                throw GenerationError.batchResult(id: request.id, reason: reason)
            case .body(let body, let line)?:
                let place = "\(path) line \(line)"
                let data = Data()
                return configuration.chat
                    ? try OpenAIResponse.parseChat(object: body, url: place, body: data)
                    : try OpenAIResponse.parseCompletion(object: body, url: place, body: data)
            }
        }
    }
}

extension GenerateRun {
    /// What a batch export may replace: an earlier export (lines with a `custom_id`).
    static let batchRequestsKind = OutputKind.file("an OpenAI batch request file") { line in
        (try? JSONLine.parseObject(line))?["custom_id"] != nil
    }

    /// Writes the OpenAI batch requests of every generation `options.output` still lacks
    /// (this shard's, with `options.shard`), instead of sending them. The manifest is written
    /// as for a run, so the import (and any later run) must use the same settings.
    public static func exportBatch(
        options: GenerateOptions, prompts: PromptBuilder, configuration: OpenAIConfiguration,
        to url: URL
    ) throws -> BatchExportSummary {
        let plan = try prepare(
            options: options, prompts: prompts, backendName: configuration.backendName,
            modelName: configuration.model)
        var summary = BatchExportSummary()
        summary.sampledDocuments = plan.summary.sampledDocuments
        summary.alreadyDone = plan.summary.alreadyDone
        let run = plan.manifest.runID
        try AtomicFile.write(to: url, replacing: batchRequestsKind, compressed: false) { file in
            for item in plan.items {
                let document = plan.documents[item.position - plan.firstPosition]
                do {
                    let (_, request) = try Runner.request(
                        for: item, document: document, prompts: prompts, options: options)
                    try file.write(
                        BatchFile.requestLine(request, run: run, configuration: configuration))
                    summary.requests += 1
                } catch GenerationError.promptTooLong {
                    summary.skipped += 1
                }
            }
        }
        return summary
    }

    /// Reads an OpenAI batch results file into `options.output`: the same records, order,
    /// resume and failure accounting as a run against the servers. A generation without a
    /// usable result (absent, an error line, a malformed body) is a failure, listed and not
    /// written; exporting again then exports just those.
    ///
    /// - Returns: the summary and the results file's unreadable lines.
    public static func importBatch(
        options: GenerateOptions, prompts: PromptBuilder, configuration: OpenAIConfiguration,
        results url: URL, progress sink: ProgressSink
    ) async throws -> (summary: GenerateSummary, unreadable: [(line: Int, reason: String)]) {
        let plan = try prepare(
            options: options, prompts: prompts, backendName: configuration.backendName,
            modelName: configuration.model)
        let results = try BatchFile.readResults(url, run: plan.manifest.runID)
        let backend = BatchResultsBackend(
            results: results, configuration: configuration, path: url.path)
        let summary = try await run(
            plan: plan, options: options, prompts: prompts, backend: backend, progress: sink)
        return (summary, results.unreadable)
    }
}
