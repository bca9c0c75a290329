/// What a model family needs from its tokenizer: text to ids and back, token ↔ id lookups,
/// the special tokens, and pairs of texts (a cross-encoder's query and passage).
///
/// Tokenisation follows Hugging Face `tokenizers`' pipeline: normaliser → pre-tokeniser →
/// model → post-processor, and the decoder back. A conforming type implements the first three
/// in ``tokenize(_:)`` (SentencePiece Unigram today; byte-level BPE for Llama-family models
/// and WordPiece for BERT cross-encoders next) and describes the last as a
/// ``TemplatePostProcessor``: which special tokens go around one sequence or a pair, and the
/// pair's token type ids. ``encode(_:addSpecialTokens:)`` and ``encode(_:pairedWith:)`` are
/// then the same for every tokenizer.
///
/// Ids are `Int32`, as the models take them. Conforming types are immutable and shared across
/// tasks.
public protocol Tokenizer: Sendable {
    /// The ids of `text` without special tokens: normalised, pre-tokenised and split by the
    /// model (added tokens such as `</s>` written in the text are matched where the reference
    /// matches them).
    func tokenize(_ text: String) -> [Int32]
    /// The special tokens around one sequence or a pair.
    var postProcessor: TemplatePostProcessor { get }
    /// The text of `ids`; special tokens are left out when `skipSpecialTokens`.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String
    /// The id of a vocabulary token (`"▁true"`, `"</s>"`, `"[SEP]"`), or `nil`.
    func id(forToken token: String) -> Int32?
    /// The vocabulary token of an id, or `nil` when the id is out of range.
    func token(forID id: Int32) -> String?
    /// The number of ids, added tokens included.
    var vocabularySize: Int { get }
    /// Beginning, end, padding and unknown tokens, where the vocabulary has them.
    var specialTokens: SpecialTokens { get }
}

extension Tokenizer {
    /// The ids of `text`, with the post-processor's special tokens for one sequence when
    /// `addSpecialTokens` (T5: `</s>` appended).
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        let ids = tokenize(text)
        return addSpecialTokens ? postProcessor.single(ids) : ids
    }

    /// The ids of a pair of texts with the post-processor's special tokens (T5: `A </s> B
    /// </s>`; BERT: `[CLS] A [SEP] B [SEP]`) and their token type ids.
    public func encode(_ first: String, pairedWith second: String) -> (
        ids: [Int32], typeIDs: [Int32]
    ) {
        postProcessor.pair(tokenize(first), tokenize(second))
    }
}

/// The special tokens of a vocabulary, as ids; `nil` where the vocabulary has none (T5 has no
/// beginning-of-sequence token, Llama no padding token).
public struct SpecialTokens: Sendable, Equatable {
    public var bos: Int32?
    public var eos: Int32?
    public var pad: Int32?
    public var unk: Int32?

    public init(bos: Int32? = nil, eos: Int32? = nil, pad: Int32? = nil, unk: Int32? = nil) {
        self.bos = bos
        self.eos = eos
        self.pad = pad
        self.unk = unk
    }
}

/// The post-processing step of tokenisation: special tokens around one sequence (`$A`) or a
/// pair (`$A`, `$B`), with a token type id for each position, as Hugging Face's
/// `TemplateProcessing` describes them in `tokenizer.json`.
///
/// | model | single | pair |
/// | --- | --- | --- |
/// | T5 | `$A </s>` | `$A </s> $B </s>` |
/// | BERT | `[CLS] $A [SEP]` | `[CLS] $A [SEP] $B:1 [SEP]:1` |
/// | Llama 3 | `<|begin_of_text|> $A` | `<|begin_of_text|> $A <|begin_of_text|>:1 $B:1` |
public struct TemplatePostProcessor: Sendable, Equatable {
    /// One element of a template.
    public enum Piece: Sendable, Equatable {
        /// The first (`$A`, 0) or second (`$B`, 1) sequence.
        case sequence(Int)
        /// Special-token ids.
        case special([Int32])
    }

    /// A template element and the token type id of its positions.
    public struct Item: Sendable, Equatable {
        public var piece: Piece
        public var typeID: Int32

        public init(_ piece: Piece, typeID: Int32 = 0) {
            self.piece = piece
            self.typeID = typeID
        }
    }

    /// The template of one sequence; it holds `.sequence(0)` once.
    public var singleTemplate: [Item]
    /// The template of a pair; it holds `.sequence(0)` and `.sequence(1)` once each.
    public var pairTemplate: [Item]

    public init(single: [Item], pair: [Item]) {
        precondition(
            single.filter { $0.piece == .sequence(0) }.count == 1
                && !single.contains { $0.piece == .sequence(1) },
            "a single-sequence template holds $A once")
        precondition(
            pair.filter { $0.piece == .sequence(0) }.count == 1
                && pair.filter { $0.piece == .sequence(1) }.count == 1,
            "a pair template holds $A and $B once each")
        singleTemplate = single
        pairTemplate = pair
    }

    /// `$A` followed by `suffix` alone, and `$A suffix $B suffix` for pairs (T5's template,
    /// all type ids 0).
    public static func appending(_ suffix: [Int32]) -> TemplatePostProcessor {
        TemplatePostProcessor(
            single: [Item(.sequence(0)), Item(.special(suffix))],
            pair: [
                Item(.sequence(0)), Item(.special(suffix)), Item(.sequence(1)),
                Item(.special(suffix)),
            ])
    }

    /// `ids` with the single-sequence template's special tokens.
    public func single(_ ids: [Int32]) -> [Int32] {
        var result: [Int32] = []
        result.reserveCapacity(ids.count + 4)
        for item in singleTemplate {
            switch item.piece {
            case .sequence: result += ids
            case .special(let special): result += special
            }
        }
        return result
    }

    /// Two sequences joined by the pair template, with the token type ids.
    public func pair(_ first: [Int32], _ second: [Int32]) -> (ids: [Int32], typeIDs: [Int32]) {
        expand(pairTemplate, [first, second])
    }

    private func expand(_ template: [Item], _ sequences: [[Int32]]) -> (
        ids: [Int32], typeIDs: [Int32]
    ) {
        var ids: [Int32] = []
        var typeIDs: [Int32] = []
        for item in template {
            let part: [Int32]
            switch item.piece {
            case .sequence(let index): part = sequences[index]
            case .special(let special): part = special
            }
            ids += part
            typeIDs += repeatElement(item.typeID, count: part.count)
        }
        return (ids, typeIDs)
    }
}

extension TemplatePostProcessor {
    /// No special tokens: `$A`, and `$A $B` with type ids 0 and 1 (HF without a post-processor,
    /// or with `ByteLevel`).
    public static let plain = TemplatePostProcessor(
        single: [Item(.sequence(0))], pair: [Item(.sequence(0)), Item(.sequence(1), typeID: 1)])

    /// The number of special tokens around one sequence, or a pair.
    public func addedCount(pair: Bool) -> Int {
        (pair ? pairTemplate : singleTemplate).reduce(0) {
            if case .special(let ids) = $1.piece { return $0 + ids.count } else { return $0 }
        }
    }

    /// The last id of a special token before `$A` in the single template (Llama's `<s>`, BERT's
    /// `[CLS]`), or `nil`.
    var leadingSpecial: Int32? {
        guard let first = singleTemplate.first, case .special(let ids) = first.piece else { return nil }
        return ids.last
    }

    /// The first id of a special token after `$A` in the single template (T5's and XLM-R's
    /// `</s>`, BERT's `[SEP]`), or `nil`.
    var trailingSpecial: Int32? {
        guard let last = singleTemplate.last, case .special(let ids) = last.piece else { return nil }
        return ids.first
    }
}
