/// A minimal reader for the protobuf wire format, enough for SentencePiece's `ModelProto`.
///
/// It walks `bytes[position..<end]` field by field; nested messages are read by making a
/// reader over the field's byte range. Every read checks bounds and throws
/// `TokenizerError.malformedModel` with the file name and byte offset instead of trapping.
struct ProtobufReader {
    /// Protobuf wire types (the low three bits of a field tag).
    enum WireType: UInt64 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4,
            fixed32 = 5
    }

    let bytes: [UInt8]
    let path: String
    private(set) var position: Int
    let end: Int

    init(bytes: [UInt8], path: String, range: Range<Int>? = nil) {
        self.bytes = bytes
        self.path = path
        self.position = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
    }

    var isAtEnd: Bool { position >= end }

    func error(_ reason: String, at offset: Int? = nil) -> TokenizerError {
        .malformedModel(path: path, offset: offset ?? position, reason: reason)
    }

    /// Reads the next field tag, or `nil` at the end of the message.
    mutating func readTag() throws(TokenizerError) -> (field: Int, wireType: WireType)? {
        if isAtEnd { return nil }
        let start = position
        let tag = try readVarint()
        guard let wireType = WireType(rawValue: tag & 7) else {
            throw error("unknown wire type \(tag & 7)", at: start)
        }
        let field = tag >> 3
        guard field > 0, field < (1 << 29) else { throw error("invalid field number \(field)", at: start) }
        return (Int(field), wireType)
    }

    mutating func readVarint() throws(TokenizerError) -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw error("truncated varint", at: start) }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw error("varint overflows 64 bits", at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            guard shift < 64 else { throw error("varint longer than 10 bytes", at: start) }
        }
    }

    /// A varint field holding an `int32` (negative values are sign-extended to 64 bits).
    mutating func readInt32() throws(TokenizerError) -> Int32 {
        Int32(truncatingIfNeeded: Int64(bitPattern: try readVarint()))
    }

    mutating func readBool() throws(TokenizerError) -> Bool { try readVarint() != 0 }

    mutating func readFixed32() throws(TokenizerError) -> UInt32 {
        guard end - position >= 4 else { throw error("truncated fixed32") }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return value
    }

    mutating func readFloat() throws(TokenizerError) -> Float {
        Float(bitPattern: try readFixed32())
    }

    /// The byte range of a length-delimited field (string, bytes or nested message).
    mutating func readLengthDelimited() throws(TokenizerError) -> Range<Int> {
        let start = position
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw error("length \(length) runs past the end of the message", at: start)
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func readString() throws(TokenizerError) -> String {
        let start = position
        let range = try readLengthDelimited()
        guard let string = String(validating: bytes[range], as: UTF8.self) else {
            throw error("string is not valid UTF-8", at: start)
        }
        return string
    }

    mutating func readBytes() throws(TokenizerError) -> [UInt8] {
        Array(bytes[try readLengthDelimited()])
    }

    /// A reader over a nested message.
    mutating func readMessage() throws(TokenizerError) -> ProtobufReader {
        ProtobufReader(bytes: bytes, path: path, range: try readLengthDelimited())
    }

    /// Skips a field we do not need.
    mutating func skip(_ wireType: WireType) throws(TokenizerError) {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64:
            guard end - position >= 8 else { throw error("truncated fixed64") }
            position += 8
        case .lengthDelimited: _ = try readLengthDelimited()
        case .fixed32: _ = try readFixed32()
        case .startGroup, .endGroup: throw error("groups are not used by SentencePiece models")
        }
    }
}
