import Foundation
import InparsHTTP

/// Errors of the generation stage: templates, few-shot files, backends, outputs and resume.
public enum GenerationError: Error, LocalizedError, Sendable, Equatable {
    /// `--prompt` is neither a built-in template name nor an existing file.
    case unknownPrompt(name: String, builtins: [String])
    /// A template has a `{` or `}` that is not part of `{document}`/`{query}`/`{{`/`}}`.
    case invalidTemplate(source: String, offset: Int, reason: String)
    /// A dynamic template was chosen without `--fewshot-examples`.
    case missingFewShotExamples(template: String)
    /// The few-shot file has fewer rows than `--num-examples`.
    case notEnoughExamples(path: String, available: Int, requested: Int)
    /// A request failed for good (after `attempts` attempts).
    case request(url: String, attempts: Int, error: HTTPError)
    /// The server answered 2xx with a body that is not the JSON asked for.
    case malformedResponse(url: String, reason: String, excerpt: String)
    /// The server answered without per-token log-probabilities.
    case missingLogProbs(url: String, field: String)
    /// The prompt plus `--max-new-tokens` exceeds `limit` (document skipped). `limit` is 0
    /// when the server refused the prompt; `detail` then holds its message.
    case promptTooLong(tokens: Int, limit: Int, detail: String)
    /// The output holds a complete line that is not a generation record.
    case corruptOutput(path: String, line: Int, reason: String)
    /// The output was made with other arguments than this run's.
    case manifestMismatch(path: String, differences: [String])
    /// The API key variable named by `--api-key-env` is not set.
    case missingAPIKey(variable: String)
    /// Some documents failed after all retries; rerunning resumes them.
    case incompleteRun(failed: Int, output: String)
    /// An option is out of range.
    case invalidOption(name: String, value: String, reason: String)
    /// A template without `{document}`: every prompt would be the same.
    case templateWithoutDocument(source: String)
    /// More than half the generations tried were skipped (prompts over the length limit).
    case mostlySkipped(skipped: Int, attempted: Int, limit: Int)
    /// A batch results file has no usable result for a generation (absent, or an error line).
    case batchResult(id: String, reason: String)
    /// A batch results file holds results of requests exported with other settings.
    case foreignBatchResults(path: String, count: Int, example: String)

    public var errorDescription: String? {
        switch self {
        case .unknownPrompt(let name, let builtins):
            return
                "Unknown prompt '\(name)': not a built-in template (\(builtins.joined(separator: ", ")))"
                + " nor an existing file."
        case .invalidTemplate(let source, let offset, let reason):
            return "Invalid prompt template \(source) at character \(offset): \(reason)"
                + " (write literal braces as '{{' and '}}')."
        case .missingFewShotExamples(let template):
            return "Prompt '\(template)' draws its examples per document; pass"
                + " --fewshot-examples FILE (JSONL with 'query' and 'document')."
        case .notEnoughExamples(let path, let available, let requested):
            return "Few-shot file '\(path)' has \(available) examples but --num-examples is"
                + " \(requested); lower --num-examples or add examples."
        case .request(let url, let attempts, let error):
            let tries = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
            return "Request to \(url) failed after \(tries): \(error.localizedDescription)"
        case .malformedResponse(let url, let reason, let excerpt):
            return "The server at \(url) sent an unusable response (\(reason)); body: \(excerpt)"
        case .missingLogProbs(let url, let field):
            return "The server at \(url) returned no per-token log-probabilities ('\(field)' is"
                + " missing); use a server that supports them (vLLM, llama.cpp, OpenAI"
                + " completions), since the filter stage needs them."
        case .promptTooLong(let tokens, let limit, let detail):
            if limit == 0 {
                return "Prompt too long for the model's context; the server said: \(detail)"
            }
            return "Prompt too long: \(tokens) tokens plus --max-new-tokens exceed"
                + " --max-prompt-tokens \(limit)" + (detail.isEmpty ? "." : " (\(detail)).")
        case .corruptOutput(let path, let line, let reason):
            return "Output '\(path)' line \(line) is not a generation record (\(reason)); fix or"
                + " remove that line, or rerun with --overwrite to start again."
        case .manifestMismatch(let path, let differences):
            return
                "'\(path)' was made with other arguments (\(differences.joined(separator: "; ")));"
                + " use another --output, or --overwrite to discard it and start again."
        case .missingAPIKey(let variable):
            return "Environment variable \(variable) (named by --api-key-env) is not set."
        case .batchResult(let id, let reason):
            return "No result for '\(id)' in the batch results: \(reason)."
        case .foreignBatchResults(let path, let count, let example):
            return "'\(path)' holds \(count) results of requests exported with other settings or"
                + " inputs (e.g. custom_id '\(example)'); import the results of this command's"
                + " --batch-export."
        case .incompleteRun(let failed, let output):
            return "\(failed) generation\(failed == 1 ? "" : "s") failed after all retries and"
                + " \(failed == 1 ? "is" : "are") missing from '\(output)'; rerun the same"
                + " command to resume them."
        case .invalidOption(let name, let value, let reason):
            return "invalid \(name) \(value): \(reason)"
        case .templateWithoutDocument(let source):
            return "The prompt template \(source) has no {document} placeholder, so every prompt"
                + " would be the same; put {document} where the document's text goes."
        case .mostlySkipped(let skipped, let attempted, let limit):
            return "skipped \(skipped) of \(attempted) generations because their prompts are"
                + " longer than --max-prompt-tokens \(limit); raise --max-prompt-tokens (0 = no"
                + " check), lower --max-doc-tokens, or use a shorter --prompt, then rerun to"
                + " resume."
        }
    }

    /// Whether the error would repeat for every document, so the run should stop at once
    /// rather than fail document after document (bad key, unknown model, no log-probs).
    public var stopsTheRun: Bool {
        switch self {
        case .request(_, _, .status(let code, _)):
            return code == 401 || code == 403 || code == 404
        case .missingLogProbs:
            return true
        default:
            return false
        }
    }
}
