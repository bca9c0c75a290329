import Foundation

/// One line of the `generate` output: a generated query with its document and log-probs.
///
/// The fields are those of the InPars toolkit's output (`doc_id`, `text`, `query`,
/// `log_probs`, `prompt_text`, `fewshot_examples`), so files move between the two tools, plus
/// `model`, `backend` and `query_index` (0-based, < `--num-queries-per-doc`; read as 0 when a
/// file lacks it).
public struct GenerationRecord: Sendable, Equatable {
    public var docID: String
    /// The full document text (title and body, not truncated).
    public var text: String
    public var query: String
    /// Natural-log probability of each generated query token, stop token excluded.
    public var logProbs: [Double]
    /// The exact prompt sent.
    public var promptText: String
    /// Ids of the few-shot examples shown in the prompt (empty for static templates).
    public var fewshotExamples: [String]
    public var model: String
    public var backend: String
    public var queryIndex: Int

    public init(
        docID: String, text: String, query: String, logProbs: [Double], promptText: String,
        fewshotExamples: [String], model: String, backend: String, queryIndex: Int
    ) {
        self.docID = docID
        self.text = text
        self.query = query
        self.logProbs = logProbs
        self.promptText = promptText
        self.fewshotExamples = fewshotExamples
        self.model = model
        self.backend = backend
        self.queryIndex = queryIndex
    }

    /// The record as one JSON object followed by `\n`, keys in the order above.
    ///
    /// Log-probs are written with Swift's shortest round-trip formatting (as Python's `repr`);
    /// a non-finite value is written as `-Infinity`/`Infinity`/`NaN`, as Python's `json` does.
    public var jsonLine: String {
        var out = "{\"doc_id\": "
        Self.appendString(docID, to: &out)
        out += ", \"text\": "
        Self.appendString(text, to: &out)
        out += ", \"query\": "
        Self.appendString(query, to: &out)
        out += ", \"log_probs\": ["
        for (index, value) in logProbs.enumerated() {
            if index > 0 { out += ", " }
            if value.isFinite {
                out += "\(value)"
            } else {
                out += value.isNaN ? "NaN" : (value < 0 ? "-Infinity" : "Infinity")
            }
        }
        out += "], \"prompt_text\": "
        Self.appendString(promptText, to: &out)
        out += ", \"fewshot_examples\": ["
        for (index, id) in fewshotExamples.enumerated() {
            if index > 0 { out += ", " }
            Self.appendString(id, to: &out)
        }
        out += "], \"model\": "
        Self.appendString(model, to: &out)
        out += ", \"backend\": "
        Self.appendString(backend, to: &out)
        out += ", \"query_index\": \(queryIndex)}\n"
        return out
    }

    /// Appends `string` as a JSON string literal (UTF-8 kept, controls escaped).
    static func appendString(_ string: String, to out: inout String) {
        out.unicodeScalars.append("\"")
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    out +=
                        "\\u00" + (scalar.value < 0x10 ? "0" : "")
                        + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.unicodeScalars.append("\"")
    }
}
