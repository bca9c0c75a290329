/// What a loader (`spiece.model` or `tokenizer.json`) hands to ``SentencePieceTokenizer``.
struct TokenizerComponents: Sendable {
    /// The role of a vocabulary entry.
    enum PieceKind: UInt8, Sendable {
        case normal, unknown, control, userDefined, unused, byte
        /// A token added on top of the SentencePiece vocabulary (`<extra_id_N>`), or an HF
        /// added token that is not in the model's vocabulary.
        case added
    }

    var compatibility: SentencePieceTokenizer.Compatibility
    /// Piece strings by id.
    var pieces: [String]
    var scores: [Double]
    var kinds: [PieceKind]
    /// Ids whose pieces take part in the Viterbi search.
    var searchable: [Bool]
    /// The lowest score, as the reference computes it (for the unknown penalty).
    var minScore: Double
    var unkID: Int32
    var eosID: Int32
    var padID: Int32
    /// Ids `decode(_:skipSpecialTokens: true)` leaves out.
    var special: [Bool]
    /// sentencepiece mode: the normaliser and decoding settings.
    var normalizer: SentencePieceNormalizer?
    var unkSurface: String = " \u{2047} "
    /// HF mode: the pipeline.
    var pipeline: HuggingFacePipeline?
    /// The special tokens around sequences; `nil`: `</s>` appended (`$A </s>`).
    var postProcessor: TemplatePostProcessor?
}
