import Foundation

/// Decodes ids one at a time into the text each one completes, as HF `tokenizers`'
/// `DecodeStream` does: a step returns `nil` while the ids so far end inside a UTF-8 sequence
/// (byte-level and byte-fallback tokens can split a character) or add no text, and otherwise
/// the new text since the last chunk. Decoding a short window of recent ids keeps each step
/// cheap and lets decoders that depend on neighbours (the leading space of Llama 2's
/// `Strip`, WordPiece's `##`) see them.
///
/// ```swift
/// var stream = IncrementalDecoder(tokenizer)
/// for id in generated { if let chunk = try stream.step(id), chunk.contains("\n") { break } }
/// ```
public struct IncrementalDecoder {
    /// The tokenizer's decoding of the window no longer starts with the text already returned.
    public struct PrefixMismatch: Error, LocalizedError, Sendable {
        public var id: Int32
        public var expected: String
        public var actual: String

        public var errorDescription: String? {
            "Incremental decoding at id \(id): the decoded text \(actual.debugDescription) does not start with the text already returned, \(expected.debugDescription)."
        }
    }

    public let tokenizer: any Tokenizer
    public let skipSpecialTokens: Bool
    private var ids: [Int32] = []
    private var prefix = ""
    private var prefixIndex = 0

    public init(_ tokenizer: any Tokenizer, skipSpecialTokens: Bool = true) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Feeds one id; returns the text it completes, or `nil` (HF `DecodeStream.step`).
    public mutating func step(_ id: Int32) throws(PrefixMismatch) -> String? {
        if prefix.isEmpty && !ids.isEmpty {
            let newPrefix = decode(ids)
            if newPrefix.unicodeScalars.last != "\u{FFFD}" {
                prefix = newPrefix
                prefixIndex = ids.count
            }
        }
        ids.append(id)
        let string = decode(ids)
        guard string.utf8.count > prefix.utf8.count, string.unicodeScalars.last != "\u{FFFD}" else {
            return nil
        }
        guard string.utf8.starts(with: prefix.utf8) else {
            throw PrefixMismatch(id: id, expected: prefix, actual: string)
        }
        let newText = String(decoding: string.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
        let newPrefixIndex = ids.count - prefixIndex
        ids.removeFirst(prefixIndex)
        prefix = decode(ids)
        prefixIndex = newPrefixIndex
        return newText
    }

    private func decode(_ ids: [Int32]) -> String {
        tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
    }
}
