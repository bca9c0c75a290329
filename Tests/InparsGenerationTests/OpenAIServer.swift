import Foundation
import InparsTestSupport

/// OpenAI-format bodies for the loopback server.
enum OpenAIServer {
    /// A `/v1/completions` answer. `includeStop` puts the newline token in the token list,
    /// as some servers do.
    static func completion(
        tokens: [String], logProbs: [Double], includeStop: Bool = false, model: String = "m"
    ) -> String {
        var tokens = tokens
        var logProbs = logProbs
        if includeStop {
            tokens.append("\n")
            logProbs.append(-0.01)
        }
        let text = tokens.joined()
        let object: [String: Any] = [
            "id": "cmpl-1", "object": "text_completion", "model": model,
            "choices": [
                [
                    "index": 0, "text": text, "finish_reason": "stop",
                    "logprobs": [
                        "tokens": tokens, "token_logprobs": logProbs,
                        "top_logprobs": tokens.enumerated().map { [$1: logProbs[$0]] },
                        "text_offset": Array(0..<tokens.count),
                    ],
                ]
            ],
        ]
        return json(object)
    }

    /// A `/v1/chat/completions` answer.
    static func chat(tokens: [String], logProbs: [Double]) -> String {
        let content = tokens.enumerated().map { index, token -> [String: Any] in
            [
                "token": token, "logprob": logProbs[index],
                "bytes": Array(token.utf8).map(Int.init), "top_logprobs": [],
            ]
        }
        let object: [String: Any] = [
            "id": "chatcmpl-1", "object": "chat.completion",
            "choices": [
                [
                    "index": 0, "finish_reason": "stop",
                    "message": ["role": "assistant", "content": tokens.joined()],
                    "logprobs": ["content": content],
                ]
            ],
        ]
        return json(object)
    }

    static func json(_ object: Any) -> String {
        String(
            decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            as: UTF8.self)
    }

    /// A handler that answers every completion request with a query made from its prompt's
    /// last document line (`q:<first word of the document>`), so tests can check which
    /// prompt each output belongs to.
    static func echoingHandler(
        delay: Double = 0, chat: Bool = false
    ) -> @Sendable (RecordedRequest, Int) -> ScriptedResponse {
        { request, _ in
            let prompt = promptText(request)
            let word = firstWordOfTarget(prompt)
            let tokens = [" q", ":", word]
            let logProbs = [-0.5, -0.25, -0.125]
            return .json(
                chat
                    ? OpenAIServer.chat(tokens: tokens, logProbs: logProbs)
                    : completion(tokens: tokens, logProbs: logProbs, includeStop: true),
                delay: delay)
        }
    }

    static func promptText(_ request: RecordedRequest) -> String {
        let object = request.json ?? [:]
        if let prompt = object["prompt"] as? String { return prompt }
        let messages = object["messages"] as? [[String: Any]] ?? []
        return messages.first?["content"] as? String ?? ""
    }

    /// The first word after the last "Document: " in a prompt.
    static func firstWordOfTarget(_ prompt: String) -> String {
        guard let range = prompt.range(of: "Document: ", options: .backwards) else { return "?" }
        return String(prompt[range.upperBound...].prefix { !$0.isWhitespace })
    }
}
