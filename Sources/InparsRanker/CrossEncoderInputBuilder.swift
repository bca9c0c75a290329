import InparsModels
import InparsTokenizers

/// Builds cross-encoder inputs: the tokenizer's pair template (`[CLS] q [SEP] d [SEP]`, or
/// `<s> q </s></s> d </s>`) with token type ids, cut to ``maxLength`` tokens by removing
/// tokens from the end of the document only (HF `truncation="only_second"`). A query too long
/// to leave one document token is cut together with the document (`longest_first`, what
/// sentence-transformers does for every pair) rather than failing the run.
///
/// Shared by scoring (``CrossEncoderReranker``) and training (`inpars train`), so both see
/// exactly the same inputs.
public struct CrossEncoderInputBuilder: Sendable {
    public let tokenizer: any Tokenizer
    /// Most tokens per pair, special tokens included: the asked length, lowered to the model's
    /// position limit (``BertConfiguration/maxSequenceLength``) when that is smaller.
    public let maxLength: Int

    /// - Parameters:
    ///   - maxLength: the asked length (`--max-length`).
    ///   - directory: the model folder, for messages.
    /// - Throws: ``RankerError/invalidOption(name:value:reason:)`` for a length that cannot
    ///   hold the pair's special tokens and one token of each text, or a tokenizer whose ids or
    ///   token types the model has no embedding for.
    public init(
        tokenizer: any Tokenizer, configuration c: BertConfiguration, maxLength asked: Int,
        directory: String = ""
    ) throws(RankerError) {
        let maxLength = min(asked, c.maxSequenceLength)
        let added = tokenizer.postProcessor.addedCount(pair: true)
        guard maxLength >= added + 2 else {
            throw .invalidOption(
                name: "--max-length", value: String(asked),
                reason: "leaves no room for a query and a document beside the pair's \(added) special tokens")
        }
        guard tokenizer.vocabularySize <= c.vocabSize else {
            throw .invalidOption(
                name: "--model", value: directory,
                reason: "the tokenizer has \(tokenizer.vocabularySize) tokens but the model embeds only \(c.vocabSize) (config.json vocab_size); the tokenizer files belong to another model")
        }
        let types = tokenizer.postProcessor.pairTemplate.map(\.typeID)
        if let type = types.first(where: { $0 < 0 || Int($0) >= c.typeVocabSize }) {
            throw .invalidOption(
                name: "--model", value: directory,
                reason: "the tokenizer's pair template uses token type \(type) but the model has \(c.typeVocabSize) (config.json type_vocab_size)")
        }
        self.tokenizer = tokenizer
        self.maxLength = maxLength
    }

    /// The model input of a pair, cut to ``maxLength``, and whether it was cut.
    public func encode(query: String, document: String) -> (input: BertInput, truncated: Bool) {
        let first = tokenizer.tokenize(query)
        var second = tokenizer.tokenize(document)
        let budget = maxLength - tokenizer.postProcessor.addedCount(pair: true)
        if first.count + second.count <= budget {
            let (ids, types) = tokenizer.postProcessor.pair(first, second)
            return (BertInput(ids: ids, typeIDs: types), false)
        }
        if first.count < budget {
            second.removeLast(first.count + second.count - budget)
            let (ids, types) = tokenizer.postProcessor.pair(first, second)
            return (BertInput(ids: ids, typeIDs: types), true)
        }
        // The init checked that the budget holds two tokens, so longest-first cannot fail.
        let (ids, types) =
            (try? tokenizer.encode(
                query, pairedWith: document, maxLength: maxLength, truncation: .longestFirst))
            ?? tokenizer.postProcessor.pair(Array(first.prefix(budget / 2)), [])
        return (BertInput(ids: ids, typeIDs: types), true)
    }
}
