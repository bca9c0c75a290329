import Foundation

/// The T5 tokenizer: a SentencePiece Unigram model, loaded from `spiece.model` or from an HF
/// `tokenizer.json`, written in Swift (no sentencepiece or tokenizers library).
///
/// It reproduces one of two references exactly (see ``Compatibility``): the `sentencepiece`
/// library T5 was trained with, or HF `tokenizers` (`T5TokenizerFast`, what monoT5 users run
/// in `transformers`). They differ only on rare inputs: literal special-token text such as
/// `</s>` (HF maps it to the token), stacked combining marks, and whitespace characters the
/// charsmap does not map to a space (U+0085). Docs/tokenizer.md lists the differences.
///
/// Ids: the SentencePiece pieces first (T5: `<pad>` = 0, `</s>` = 1, `<unk>` = 2), then the
/// 100 sentinels in reverse (`<extra_id_99>` … `<extra_id_0>`, so `<extra_id_0>` is the last id).
///
/// It conforms to ``Tokenizer``: ``tokenize(_:)`` is the normaliser, pre-tokeniser and Unigram
/// model; the post-processor appends `</s>` (`$A </s>`, and `$A </s> $B </s>` for pairs, or
/// the `TemplateProcessing` of a `tokenizer.json`).
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

    let pieces: [String]
    let pieceIDs: [String: Int32]
    let kinds: [TokenizerComponents.PieceKind]
    let special: [Bool]
    let model: UnigramModel
    let normalizer: SentencePieceNormalizer?
    let pipeline: HuggingFacePipeline?
    let unkSurface: String
    public let postProcessor: TemplatePostProcessor

    /// The number of ids, sentinels included (T5: 32100; the fixture: 1100).
    public var vocabularySize: Int { pieces.count }

    /// `</s>`, `<pad>` and `<unk>`; T5 has no beginning-of-sequence token.
    public var specialTokens: SpecialTokens {
        SpecialTokens(bos: nil, eos: eosID, pad: padID, unk: unkID)
    }

    init(components c: TokenizerComponents) {
        compatibility = c.compatibility
        eosID = c.eosID
        padID = c.padID
        unkID = c.unkID
        pieces = c.pieces
        kinds = c.kinds
        special = c.special
        normalizer = c.normalizer
        pipeline = c.pipeline
        unkSurface = c.unkSurface
        postProcessor = c.postProcessor ?? .appending([c.eosID])
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(c.pieces.count)
        for (id, piece) in c.pieces.enumerated() where ids[piece] == nil { ids[piece] = Int32(id) }
        pieceIDs = ids
        let searchable = c.pieces.indices.lazy.filter { c.searchable[$0] }
            .map { (bytes: Array(c.pieces[$0].utf8), id: Int32($0)) }
        model = UnigramModel(
            pieces: Array(searchable), scores: c.scores, minScore: c.minScore, unkID: c.unkID,
            accumulatesInFloat: c.compatibility == .sentencePiece)
    }

    // MARK: Lookups

    /// The id of a piece (`"▁true"`, `"</s>"`, `"<extra_id_0>"`), or `nil`.
    public func id(forToken piece: String) -> Int32? { pieceIDs[piece] }

    /// The piece of an id, or `nil` when the id is out of range.
    public func token(forID id: Int32) -> String? {
        id >= 0 && Int(id) < pieces.count ? pieces[Int(id)] : nil
    }

    // MARK: Encoding

    /// Token ids of `text` without `</s>` (``encode(_:addSpecialTokens:)`` appends it).
    ///
    /// - Returns: `[tokens]`; empty text gives `[]`.
    public func tokenize(_ text: String) -> [Int32] {
        var utf8 = Array(text.utf8)
        var ids: [Int32] = []
        ids.reserveCapacity(utf8.count / 3 + 4)
        if let pipeline {
            encodeHuggingFace(&utf8, pipeline: pipeline, into: &ids)
        } else if let normalizer {
            var normalized: [UInt8] = []
            normalized.reserveCapacity(utf8.count + utf8.count / 4 + 4)
            utf8.withUnsafeBufferPointer { normalizer.normalize($0, into: &normalized) }
            normalized.withUnsafeBufferPointer {
                model.encode($0, ranges: [0..<$0.count], into: &ids)
            }
        }
        return ids
    }

    private func encodeHuggingFace(
        _ utf8: inout [UInt8], pipeline: HuggingFacePipeline, into ids: inout [Int32]
    ) {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(utf8.count + utf8.count / 4 + 8)
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(utf8.count / 3 + 4)
        utf8.withUnsafeBufferPointer { text in
            var isFirstSegment = true
            pipeline.splitAddedTokens(text) { plain, token in
                if let token {
                    ids.append(token)
                } else if let plain {
                    let normalized = pipeline.normalize(Array(text[plain]))
                    buffer.removeAll(keepingCapacity: true)
                    ranges.removeAll(keepingCapacity: true)
                    pipeline.preTokenize(
                        normalized, isFirstSegment: isFirstSegment && plain.lowerBound == 0,
                        buffer: &buffer, ranges: &ranges)
                    buffer.withUnsafeBufferPointer { model.encode($0, ranges: ranges, into: &ids) }
                }
                isFirstSegment = false
            }
        }
    }

    // MARK: Decoding

    /// The text of `ids`.
    ///
    /// In ``Compatibility/sentencePiece`` mode this is `SentencePieceProcessor.decode`: control
    /// pieces and sentinels vanish, `<unk>` reads " ⁇ ", `▁` becomes a space and the dummy-prefix
    /// space at the start is dropped. In ``Compatibility/huggingFace`` mode it is
    /// `tokenizers`' `decode`: special tokens are dropped when `skipSpecialTokens` (else written
    /// as `</s>`, `<unk>`, ...), then the Metaspace decoder turns `▁` into spaces and drops
    /// those of the first token. Ids out of range are ignored.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        let valid = ids.filter { $0 >= 0 && Int($0) < pieces.count }
        if let pipeline {
            return decodeHuggingFace(
                valid, pipeline: pipeline, skipSpecialTokens: skipSpecialTokens)
        }
        return decodeSentencePiece(valid, skipSpecialTokens: skipSpecialTokens)
    }

    private func decodeSentencePiece(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var output = ""
        var atStart = true
        for id in ids {
            let index = Int(id)
            switch kinds[index] {
            case .control, .added:
                if !skipSpecialTokens { output += pieces[index] }
            case .unknown:
                output += unkSurface
            default:
                var piece = Substring(pieces[index])
                if atStart, normalizer?.addDummyPrefix ?? true, piece.first == "▁" {
                    piece = piece.dropFirst()
                }
                output += piece.replacingOccurrences(of: "▁", with: " ")
            }
            if !output.isEmpty { atStart = false }
        }
        return output
    }

    private func decodeHuggingFace(
        _ ids: [Int32], pipeline: HuggingFacePipeline, skipSpecialTokens: Bool
    ) -> String {
        let tokens = ids.filter { !(skipSpecialTokens && special[Int($0)]) }.map { pieces[Int($0)] }
        guard let decoder = pipeline.decoder else { return tokens.joined() }
        let replacement = String(decoding: decoder.replacement, as: UTF8.self)
        var output = ""
        for (i, token) in tokens.enumerated() {
            if i == 0 && decoder.prependScheme != .never {
                output += token.replacingOccurrences(of: replacement, with: "")
            } else {
                output += token.replacingOccurrences(of: replacement, with: " ")
            }
        }
        return output
    }
}
