import Foundation

/// The T5 tokenizer: a SentencePiece Unigram model, loaded from `spiece.model` or from an HF
/// `tokenizer.json`, written in Swift (no sentencepiece or tokenizers library).
///
/// It reproduces one of two references exactly (see ``Compatibility``): the `sentencepiece`
/// library T5 was trained with, or HF `tokenizers` (`T5TokenizerFast`, what monoT5 users run
/// in `transformers`). They differ only on rare inputs: literal special-token text such as
/// `</s>` (HF maps it to the token), stacked combining marks, and whitespace characters the
/// charsmap does not map to a space (U+0085). Docs/tokenizer.md lists the differences.
/// In HF mode the work is done by a ``HuggingFaceTokenizer``; this type adds T5's `</s>`,
/// `<pad>` and `<unk>` ids and the sentencepiece mode.
///
/// Ids: the SentencePiece pieces first (T5: `<pad>` = 0, `</s>` = 1, `<unk>` = 2), then the
/// 100 sentinels in reverse (`<extra_id_99>` … `<extra_id_0>`, so `<extra_id_0>` is the last id).
///
/// The instance is immutable and safe to share across tasks.
public final class SentencePieceTokenizer: Tokenizer {
    /// Which reference implementation encoding and decoding follow.
    public enum Compatibility: String, Sendable {
        /// The `sentencepiece` library (`SentencePieceProcessor.encode` + EOS; `decode`).
        case sentencePiece
        /// HF `tokenizers` (`Tokenizer.encode`, `decode`), as `T5TokenizerFast` runs it.
        case huggingFace
    }

    /// The reference this tokenizer reproduces.
    public let compatibility: Compatibility
    /// `</s>`, appended by the post-processor (``encode(_:addSpecialTokens:)``).
    public let eosID: Int32
    /// `<pad>`.
    public let padID: Int32
    /// `<unk>`, for characters no piece covers (a run of them becomes one `<unk>`).
    public let unkID: Int32
    public let postProcessor: TemplatePostProcessor

    private enum Engine {
        case sentencePiece(SentencePieceEngine)
        case huggingFace(HuggingFaceTokenizer)
    }

    private let engine: Engine

    /// sentencepiece mode.
    init(components c: TokenizerComponents) {
        compatibility = .sentencePiece
        eosID = c.eosID
        padID = c.padID
        unkID = c.unkID
        postProcessor = .appending([c.eosID])
        engine = .sentencePiece(SentencePieceEngine(c))
    }

    /// HF mode.
    init(huggingFace: HuggingFaceTokenizer, eosID: Int32, padID: Int32, unkID: Int32) {
        compatibility = .huggingFace
        self.eosID = eosID
        self.padID = padID
        self.unkID = unkID
        postProcessor = huggingFace.postProcessor
        engine = .huggingFace(huggingFace)
    }

    /// The number of ids, sentinels included (T5: 32100; the fixture: 1100).
    public var vocabularySize: Int {
        switch engine {
        case .sentencePiece(let engine): engine.pieces.count
        case .huggingFace(let tokenizer): tokenizer.vocabularySize
        }
    }

    /// `</s>`, `<pad>` and `<unk>`; T5 has no beginning-of-sequence token.
    public var specialTokens: SpecialTokens {
        SpecialTokens(bos: nil, eos: eosID, pad: padID, unk: unkID)
    }

    /// The id of a piece (`"▁true"`, `"</s>"`, `"<extra_id_0>"`), or `nil`.
    public func id(forToken piece: String) -> Int32? {
        switch engine {
        case .sentencePiece(let engine): engine.pieceIDs[piece]
        case .huggingFace(let tokenizer): tokenizer.id(forToken: piece)
        }
    }

    /// The piece of an id, or `nil` when the id is out of range.
    public func token(forID id: Int32) -> String? {
        switch engine {
        case .sentencePiece(let engine):
            id >= 0 && Int(id) < engine.pieces.count ? engine.pieces[Int(id)] : nil
        case .huggingFace(let tokenizer): tokenizer.token(forID: id)
        }
    }

    /// Token ids of `text` without `</s>` (``encode(_:addSpecialTokens:)`` appends it).
    ///
    /// - Returns: `[tokens]`; empty text gives `[]`.
    public func tokenize(_ text: String) -> [Int32] {
        switch engine {
        case .sentencePiece(let engine): engine.tokenize(text)
        case .huggingFace(let tokenizer): tokenizer.tokenize(text)
        }
    }

    /// The text of `ids`.
    ///
    /// In ``Compatibility/sentencePiece`` mode this is `SentencePieceProcessor.decode`: control
    /// pieces and sentinels vanish, `<unk>` reads " ⁇ ", `▁` becomes a space and the dummy-prefix
    /// space at the start is dropped. In ``Compatibility/huggingFace`` mode it is
    /// `tokenizers`' `decode`: special tokens are dropped when `skipSpecialTokens` (else written
    /// as `</s>`, `<unk>`, ...), then the Metaspace decoder turns `▁` into spaces and drops
    /// those of the first token. Ids out of range are ignored.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        switch engine {
        case .sentencePiece(let engine): engine.decode(ids, skipSpecialTokens: skipSpecialTokens)
        case .huggingFace(let tokenizer): tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        }
    }
}

/// The `sentencepiece` library's encoding and decoding (`SentencePieceProcessor`).
private struct SentencePieceEngine: Sendable {
    let pieces: [String]
    let pieceIDs: [String: Int32]
    let kinds: [TokenizerComponents.PieceKind]
    let model: UnigramModel
    let normalizer: SentencePieceNormalizer
    let unkSurface: String

    init(_ c: TokenizerComponents) {
        pieces = c.pieces
        kinds = c.kinds
        normalizer = c.normalizer
        unkSurface = c.unkSurface
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(c.pieces.count)
        for (id, piece) in c.pieces.enumerated() where ids[piece] == nil { ids[piece] = Int32(id) }
        pieceIDs = ids
        // sentencepiece matches normal and user-defined pieces; its minimum score is over
        // normal pieces only.
        let searchable = c.pieces.indices.lazy.filter {
            c.kinds[$0] == .normal || c.kinds[$0] == .userDefined
        }.map { (bytes: Array(c.pieces[$0].utf8), id: Int32($0)) }
        let minScore = zip(c.kinds, c.scores).filter { $0.0 == .normal }.map(\.1).min() ?? 0
        model = UnigramModel(
            pieces: Array(searchable), scores: c.scores, minScore: minScore, unkID: c.unkID,
            accumulatesInFloat: true)
    }

    func tokenize(_ text: String) -> [Int32] {
        let utf8 = Array(text.utf8)
        var ids: [Int32] = []
        ids.reserveCapacity(utf8.count / 3 + 4)
        var normalized: [UInt8] = []
        normalized.reserveCapacity(utf8.count + utf8.count / 4 + 4)
        utf8.withUnsafeBufferPointer { normalizer.normalize($0, into: &normalized) }
        normalized.withUnsafeBufferPointer {
            model.encode($0, ranges: [0..<$0.count], into: &ids)
        }
        return ids
    }

    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var output = ""
        var atStart = true
        for id in ids where id >= 0 && Int(id) < pieces.count {
            let index = Int(id)
            switch kinds[index] {
            case .control, .added:
                if !skipSpecialTokens { output += pieces[index] }
            case .unknown:
                output += unkSurface
            default:
                var piece = Substring(pieces[index])
                if atStart, normalizer.addDummyPrefix, piece.first == "▁" {
                    piece = piece.dropFirst()
                }
                output += piece.replacingOccurrences(of: "▁", with: " ")
            }
            if !output.isEmpty { atStart = false }
        }
        return output
    }
}
