import Foundation
import InparsHTTP

/// Reads the two OpenAI response shapes into a ``GenerationOutput`` cut at the first newline.
///
/// - `/v1/completions`: `choices[0].text`, `choices[0].logprobs.tokens` and
///   `choices[0].logprobs.token_logprobs` (the legacy shape OpenAI, vLLM and TGI send; a
///   chat-style `choices[0].logprobs.content` list is read too, as some servers send it).
/// - `/v1/chat/completions`: `choices[0].message.content` and
///   `choices[0].logprobs.content[i].{token, logprob}`.
///
/// Servers differ on whether the stop string appears in the token list; either way the kept
/// tokens are those before the first token that contains `"\n"`, and the text is cut at its
/// first newline.
public enum OpenAIResponse {
    /// Parses a `/v1/completions` body.
    ///
    /// - Parameter url: the endpoint, named in errors.
    /// - Throws: ``GenerationError/malformedResponse(url:reason:excerpt:)`` for JSON that is
    ///   not a completion, ``GenerationError/missingLogProbs(url:field:)`` when the log-probs
    ///   are absent.
    public static func parseCompletion(_ body: Data, url: String) throws -> GenerationOutput {
        try parseCompletion(object: try json(body, url: url), url: url, body: body)
    }

    /// Parses an already decoded `/v1/completions` body (a batch result line's
    /// `response.body`); `body` is only quoted in errors.
    public static func parseCompletion(object: Any, url: String, body: Data) throws
        -> GenerationOutput
    {
        let choice = try firstChoice(object, url: url, body: body)
        guard let text = choice["text"] as? String else {
            throw malformed(url, body, "'choices[0].text' is missing or not a string")
        }
        guard let logprobs = choice["logprobs"] as? [String: Any] else {
            throw GenerationError.missingLogProbs(url: url, field: "choices[0].logprobs")
        }
        if let content = logprobs["content"] as? [Any] {
            let (tokens, values) = try readContent(
                content, field: "choices[0].logprobs.content", url: url, body: body)
            return try cut(text: text, tokens: tokens, logProbs: values, url: url)
        }
        guard let tokens = logprobs["tokens"] as? [Any] else {
            throw GenerationError.missingLogProbs(url: url, field: "choices[0].logprobs.tokens")
        }
        guard let values = logprobs["token_logprobs"] as? [Any] else {
            throw GenerationError.missingLogProbs(
                url: url, field: "choices[0].logprobs.token_logprobs")
        }
        guard tokens.count == values.count else {
            throw malformed(
                url, body,
                "\(tokens.count) tokens but \(values.count) log-probs in 'choices[0].logprobs'")
        }
        var tokenStrings: [String] = []
        var logProbs: [Double?] = []
        for (index, (token, value)) in zip(tokens, values).enumerated() {
            guard let token = token as? String else {
                throw malformed(url, body, "'choices[0].logprobs.tokens[\(index)]' is not a string")
            }
            tokenStrings.append(token)
            logProbs.append(number(value))
        }
        return try cut(text: text, tokens: tokenStrings, logProbs: logProbs, url: url)
    }

    /// Parses a `/v1/chat/completions` body (see ``parseCompletion(_:url:)`` for errors).
    public static func parseChat(_ body: Data, url: String) throws -> GenerationOutput {
        try parseChat(object: try json(body, url: url), url: url, body: body)
    }

    /// Parses an already decoded `/v1/chat/completions` body.
    public static func parseChat(object: Any, url: String, body: Data) throws -> GenerationOutput {
        let choice = try firstChoice(object, url: url, body: body)
        guard let message = choice["message"] as? [String: Any] else {
            throw malformed(url, body, "'choices[0].message' is missing")
        }
        let text = message["content"] as? String ?? ""
        guard let logprobs = choice["logprobs"] as? [String: Any],
            let content = logprobs["content"] as? [Any]
        else {
            throw GenerationError.missingLogProbs(url: url, field: "choices[0].logprobs.content")
        }
        let (tokens, values) = try readContent(
            content, field: "choices[0].logprobs.content", url: url, body: body)
        return try cut(text: text, tokens: tokens, logProbs: values, url: url)
    }

    /// Keeps the tokens before the first one containing a newline, and the text before its
    /// first newline.
    static func cut(text: String, tokens: [String], logProbs: [Double?], url: String) throws
        -> GenerationOutput
    {
        let end = tokens.firstIndex { $0.contains("\n") } ?? tokens.count
        var kept: [Double] = []
        kept.reserveCapacity(end)
        for index in 0..<end {
            guard let value = logProbs[index] else {
                throw GenerationError.missingLogProbs(
                    url: url, field: "token log-prob \(index) (null)")
            }
            kept.append(value)
        }
        let line = text.firstIndex(of: "\n").map { String(text[..<$0]) } ?? text
        if end == 0 && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            throw GenerationError.missingLogProbs(url: url, field: "choices[0].logprobs (empty)")
        }
        return GenerationOutput(text: line, tokens: Array(tokens[..<end]), logProbs: kept)
    }

    private static func json(_ body: Data, url: String) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: body)
        } catch {
            throw malformed(url, body, "not valid JSON")
        }
    }

    private static func firstChoice(_ object: Any, url: String, body: Data) throws -> [String: Any] {
        guard let root = object as? [String: Any] else {
            throw malformed(url, body, "not a JSON object")
        }
        guard let choices = root["choices"] as? [Any], let first = choices.first else {
            throw malformed(url, body, "no 'choices'")
        }
        guard let choice = first as? [String: Any] else {
            throw malformed(url, body, "'choices[0]' is not an object")
        }
        return choice
    }

    private static func readContent(_ content: [Any], field: String, url: String, body: Data)
        throws -> ([String], [Double?])
    {
        var tokens: [String] = []
        var values: [Double?] = []
        for (index, item) in content.enumerated() {
            guard let entry = item as? [String: Any], let token = entry["token"] as? String else {
                throw malformed(url, body, "'\(field)[\(index)].token' is missing")
            }
            tokens.append(token)
            values.append(number(entry["logprob"] as Any))
        }
        return (tokens, values)
    }

    private static func number(_ value: Any) -> Double? {
        if value is NSNull { return nil }
        if let number = value as? NSNumber { return number.doubleValue }
        return nil
    }

    private static func malformed(_ url: String, _ body: Data, _ reason: String)
        -> GenerationError
    {
        .malformedResponse(url: url, reason: reason, excerpt: HTTPError.excerpt(body))
    }
}
