/// A tokenizer described by a Hugging Face `tokenizer.json` (or, for BERT folders, a
/// `vocab.txt`), encoding and decoding exactly as HF `tokenizers` does: added tokens →
/// normaliser → pre-tokenizer → model (Unigram, BPE or WordPiece) → post-processor, and the
/// decoder back.
///
/// Load it with ``TokenizerLoader/load(directory:)`` (which picks the kind from the folder) or
/// ``init(tokenizerJSON:)``. The instance is immutable and safe to share across tasks.
///
/// | family | model | pipeline |
/// | --- | --- | --- |
/// | Llama 3, SmolLM | BPE, `ignore_merges` | `Split` regex + `ByteLevel`; `<|begin_of_text|>` added |
/// | Qwen2 / 2.5 / 3 | BPE | NFC; `Split` regex + `ByteLevel`; nothing added |
/// | Llama 2, Mistral, TinyLlama | BPE, byte fallback | `Prepend("▁")` + `Replace(" ", "▁")` (or `Metaspace`); `<s>` added |
/// | BERT, MiniLM, ELECTRA | WordPiece | `BertNormalizer`, `BertPreTokenizer`; `[CLS] … [SEP]` |
/// | XLM-R, T5 | Unigram | `Precompiled` charsmap, `Metaspace`; `<s> … </s>` / `… </s>` |
public final class HuggingFaceTokenizer: Tokenizer {
    /// The model kind, as `tokenizer.json` names it (`"BPE"`, `"WordPiece"`, `"Unigram"`).
    public let modelType: String
    public let postProcessor: TemplatePostProcessor
    public let specialTokens: SpecialTokens

    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer
    let addedTokens: AddedTokens
    let model: TokenizerModel
    /// `nil`: tokens are joined with spaces (HF's behaviour without a decoder).
    let decoder: TokenDecoder?
    /// Token strings by id (added tokens' contents where they have an id of their own).
    let tokens: [String]
    /// What `decode` reads for each id: the token, or a `normalized` added token's normalised
    /// content (as HF's `simple_id_to_token`).
    let decodeForms: [String]
    /// Ids `decode(_:skipSpecialTokens: true)` leaves out: those whose decode form is the
    /// content of a special added token (HF compares strings).
    let skippedWhenDecoding: [Bool]
    let tokenIDs: [String: Int32]

    /// The parts of a tokenizer, as a loader assembles them.
    struct Parts {
        var modelType: String
        var normalizer: Normalizer?
        var preTokenizer = PreTokenizer()
        var addedTokens: [AddedTokens.Token] = []
        var model: TokenizerModel
        /// Model vocabulary by id (`""` for ids it does not define).
        var vocabulary: [String]
        var decoder: TokenDecoder?
        var postProcessor: TemplatePostProcessor
        var specialTokens = SpecialTokens()
    }

    init(_ parts: Parts) {
        modelType = parts.modelType
        normalizer = parts.normalizer
        preTokenizer = parts.preTokenizer
        model = parts.model
        decoder = parts.decoder
        postProcessor = parts.postProcessor
        let normalize: ([UInt8]) -> [UInt8] = { parts.normalizer?.normalize($0).text ?? $0 }
        addedTokens = AddedTokens(parts.addedTokens, normalize: normalize)

        var tokens = parts.vocabulary
        for token in parts.addedTokens where Int(token.id) >= tokens.count {
            tokens += repeatElement("", count: Int(token.id) + 1 - tokens.count)
        }
        var decodeForms = tokens
        var specialContents = Set<String>()
        for token in parts.addedTokens {
            let content = String(decoding: token.content, as: UTF8.self)
            tokens[Int(token.id)] = content
            decodeForms[Int(token.id)] =
                token.normalized ? String(decoding: normalize(token.content), as: UTF8.self) : content
            if token.special { specialContents.insert(content) }
        }
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (id, token) in parts.vocabulary.enumerated() where !token.isEmpty && ids[token] == nil {
            ids[token] = Int32(id)
        }
        for token in parts.addedTokens { ids[String(decoding: token.content, as: UTF8.self)] = token.id }
        self.tokens = tokens
        self.decodeForms = decodeForms
        skippedWhenDecoding = decodeForms.map { specialContents.contains($0) }
        tokenIDs = ids
        specialTokens = parts.specialTokens
    }

    // MARK: Tokenizer

    public var vocabularySize: Int { tokens.count }

    public func id(forToken token: String) -> Int32? { tokenIDs[token] }

    public func token(forID id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count && !tokens[Int(id)].isEmpty ? tokens[Int(id)] : nil
    }

    /// The ids of `text` without the post-processor's special tokens.
    public func tokenize(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        let utf8 = Array(text.utf8)
        utf8.withUnsafeBufferPointer { raw in
            addedTokens.raw.split(raw) { range, token in
                if let token {
                    ids.append(token)
                    return
                }
                var segment = Array(raw[range])
                var startsText = range.lowerBound == 0
                if let normalizer {
                    let (text, droppedLeading) = normalizer.normalize(segment)
                    segment = text
                    startsText = startsText && !droppedLeading
                }
                encodeNormalized(segment, startsText: startsText, into: &ids)
            }
        }
        return ids
    }

    /// Step 2 of added-token matching, then pre-tokenizer and model, for one normalised piece.
    private func encodeNormalized(_ text: [UInt8], startsText: Bool, into ids: inout [Int32]) {
        text.withUnsafeBufferPointer { normalized in
            addedTokens.normalized.split(normalized) { range, token in
                if let token {
                    ids.append(token)
                    return
                }
                let pieces = preTokenizer.preTokenize(
                    Array(normalized[range]), startsText: startsText && range.lowerBound == 0)
                pieces.bytes.withUnsafeBufferPointer {
                    model.encode($0, ranges: pieces.ranges, into: &ids)
                }
            }
        }
    }

    /// The text of `ids` as HF `tokenizers`' `decode` gives it: each id's token (special ones
    /// left out when `skipSpecialTokens`), through the decoder. Ids out of range are ignored.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        var parts: [String] = []
        parts.reserveCapacity(ids.count)
        for id in ids where id >= 0 && Int(id) < decodeForms.count {
            let form = decodeForms[Int(id)]
            if form.isEmpty && tokens[Int(id)].isEmpty { continue }  // an id nothing defines
            if skipSpecialTokens && skippedWhenDecoding[Int(id)] { continue }
            parts.append(form)
        }
        guard let decoder else { return parts.joined(separator: " ") }
        return decoder.decode(parts)
    }
}

/// The model of a ``HuggingFaceTokenizer``.
enum TokenizerModel: Sendable {
    case unigram(UnigramModel)
    case bpe(BPEModel)
    case wordPiece(WordPieceModel)

    /// Appends the ids of each pre-token (a range of `text`) to `ids`.
    func encode(_ text: UnsafeBufferPointer<UInt8>, ranges: [Range<Int>], into ids: inout [Int32]) {
        switch self {
        case .unigram(let model): model.encode(text, ranges: ranges, into: &ids)
        case .bpe(let model): model.encode(text, ranges: ranges, into: &ids)
        case .wordPiece(let model): model.encode(text, ranges: ranges, into: &ids)
        }
    }
}
