import InparsCore
import InparsTokenizers

/// Builds monoT5 encoder inputs: `Query: {q} Document: {d} Relevant:` + EOS, with the
/// document's tokens truncated so the whole fits in `maxLength` (the suffix always survives).
///
/// Shared by scoring (``MonoT5Reranker``) and training (`inpars train`), so both see exactly
/// the same inputs.
public struct MonoT5InputBuilder: Sendable {
    public let tokenizer: SentencePieceTokenizer
    /// Most input tokens per pair, EOS included.
    public let maxLength: Int
    /// `Relevant:` without EOS.
    let suffixIDs: [Int32]

    /// - Throws: ``RankerError/invalidOption(name:value:reason:)`` when `maxLength` is below
    ///   `Limits.minimumMonoT5Length`.
    public init(tokenizer: SentencePieceTokenizer, maxLength: Int) throws(RankerError) {
        guard maxLength >= Limits.minimumMonoT5Length else {
            throw .invalidOption(
                name: "--max-length", value: String(maxLength),
                reason: "a monoT5 input needs at least \(Limits.minimumMonoT5Length) tokens")
        }
        self.tokenizer = tokenizer
        self.maxLength = maxLength
        self.suffixIDs = tokenizer.encode("Relevant:", addSpecialTokens: false)
    }

    /// The encoder input of a pair, at most ``maxLength`` tokens
    /// (``encode(query:document:)`` without the truncation flag).
    public func inputIDs(query: String, document: String) -> [Int32] {
        encode(query: query, document: document).ids
    }

    /// The encoder input of a pair, at most ``maxLength`` tokens, and whether the document
    /// lost tokens to fit.
    ///
    /// The three parts are tokenised separately; with SentencePiece's whitespace pieces this
    /// equals tokenising the whole string (the fixture script checks it against transformers).
    /// A query too long for any document is cut as well, never `Relevant:` or EOS.
    public func encode(query: String, document: String) -> (ids: [Int32], truncated: Bool) {
        var prefix = tokenizer.encode("Query: \(query) Document:", addSpecialTokens: false)
        var documentIDs = tokenizer.encode(document, addSpecialTokens: false)
        let room = maxLength - suffixIDs.count - 1
        if prefix.count > room {  // a query too long for any document: cut it too
            prefix.removeLast(prefix.count - max(room, 0))
        }
        let budget = max(room - prefix.count, 0)
        let truncated = documentIDs.count > budget
        if truncated { documentIDs.removeLast(documentIDs.count - budget) }
        return (prefix + documentIDs + suffixIDs + [tokenizer.eosID], truncated)
    }
}
