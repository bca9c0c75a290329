/// What the `spiece.model` loader hands to ``SentencePieceTokenizer`` in sentencepiece mode.
struct TokenizerComponents: Sendable {
    /// The role of a vocabulary entry.
    enum PieceKind: UInt8, Sendable {
        case normal, unknown, control, userDefined, unused, byte
        /// A token added on top of the SentencePiece vocabulary (`<extra_id_N>`).
        case added
    }

    /// Piece strings by id.
    var pieces: [String]
    var scores: [Double]
    var kinds: [PieceKind]
    var unkID: Int32
    var eosID: Int32
    var padID: Int32
    /// The normaliser and decoding settings.
    var normalizer: SentencePieceNormalizer
    var unkSurface: String = " \u{2047} "
}
