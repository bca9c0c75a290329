/// The parts of SentencePiece's `ModelProto` (`sentencepiece_model.proto`) a Unigram
/// tokenizer needs, read from the protobuf wire format by ``ProtobufReader``.
///
/// Field numbers (proto2; absent fields take the proto's defaults):
/// - `ModelProto`: 1 `pieces` (repeated message), 2 `trainer_spec`, 3 `normalizer_spec`.
/// - `SentencePiece`: 1 `piece` (string), 2 `score` (float), 3 `type` (enum, default NORMAL).
/// - `TrainerSpec`: 3 `model_type` (UNIGRAM = 1), 24 `treat_whitespace_as_suffix`,
///   35 `byte_fallback`, 40 `unk_id` (default 0), 41 `bos_id` (1), 42 `eos_id` (2),
///   43 `pad_id` (-1), 44 `unk_surface` (" ⁇ ").
/// - `NormalizerSpec`: 1 `name`, 2 `precompiled_charsmap` (bytes), 3 `add_dummy_prefix` (true),
///   4 `remove_extra_whitespaces` (true), 5 `escape_whitespaces` (true).
struct SentencePieceModelProto: Sendable {
    /// `ModelProto.SentencePiece.Type`.
    enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece: Sendable {
        var piece: String
        var score: Float = 0
        var type: PieceType = .normal
    }

    struct NormalizerSpec: Sendable {
        var name = ""
        var precompiledCharsmap: [UInt8] = []
        var addDummyPrefix = true
        var removeExtraWhitespaces = true
        var escapeWhitespaces = true
    }

    var pieces: [Piece] = []
    var modelType = 1
    var treatWhitespaceAsSuffix = false
    var byteFallback = false
    var unkID: Int32 = 0
    var bosID: Int32 = 1
    var eosID: Int32 = 2
    var padID: Int32 = -1
    var unkSurface = " \u{2047} "
    var normalizer = NormalizerSpec()

    /// Parses a serialized `ModelProto`; `path` is used in error messages.
    static func parse(_ bytes: [UInt8], path: String) throws(TokenizerError) -> SentencePieceModelProto {
        var model = SentencePieceModelProto()
        var reader = ProtobufReader(bytes: bytes, path: path)
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .lengthDelimited):
                var message = try reader.readMessage()
                model.pieces.append(try parsePiece(&message))
            case (2, .lengthDelimited):
                var message = try reader.readMessage()
                try model.parseTrainerSpec(&message)
            case (3, .lengthDelimited):
                var message = try reader.readMessage()
                try model.parseNormalizerSpec(&message)
            case (1...3, _):
                throw reader.error("field \(field) of ModelProto has wire type \(wireType), expected a message")
            default:
                try reader.skip(wireType)
            }
        }
        return model
    }

    private static func parsePiece(_ reader: inout ProtobufReader) throws(TokenizerError) -> Piece {
        let start = reader.position
        var piece: String?
        var result = Piece(piece: "")
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .lengthDelimited): piece = try reader.readString()
            case (2, .fixed32): result.score = try reader.readFloat()
            case (3, .varint):
                let raw = try reader.readVarint()
                guard let type = PieceType(rawValue: Int(truncatingIfNeeded: raw)) else {
                    throw reader.error("unknown piece type \(raw)")
                }
                result.type = type
            case (1...3, _):
                throw reader.error("field \(field) of SentencePiece has wire type \(wireType)")
            default: try reader.skip(wireType)
            }
        }
        guard let piece else { throw reader.error("a vocabulary entry has no 'piece' string", at: start) }
        result.piece = piece
        return result
    }

    private mutating func parseTrainerSpec(_ reader: inout ProtobufReader) throws(TokenizerError) {
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (3, .varint): modelType = Int(truncatingIfNeeded: try reader.readVarint())
            case (24, .varint): treatWhitespaceAsSuffix = try reader.readBool()
            case (35, .varint): byteFallback = try reader.readBool()
            case (40, .varint): unkID = try reader.readInt32()
            case (41, .varint): bosID = try reader.readInt32()
            case (42, .varint): eosID = try reader.readInt32()
            case (43, .varint): padID = try reader.readInt32()
            case (44, .lengthDelimited): unkSurface = try reader.readString()
            default: try reader.skip(wireType)
            }
        }
    }

    private mutating func parseNormalizerSpec(_ reader: inout ProtobufReader) throws(TokenizerError) {
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .lengthDelimited): normalizer.name = try reader.readString()
            case (2, .lengthDelimited): normalizer.precompiledCharsmap = try reader.readBytes()
            case (3, .varint): normalizer.addDummyPrefix = try reader.readBool()
            case (4, .varint): normalizer.removeExtraWhitespaces = try reader.readBool()
            case (5, .varint): normalizer.escapeWhitespaces = try reader.readBool()
            default: try reader.skip(wireType)
            }
        }
    }
}
