/// A fast parser for one line of JSONL holding a flat JSON object, used by the corpus and
/// query readers (Foundation's `JSONSerialization` is several times slower on 1M-line corpora).
///
/// Top-level string, number, boolean and null values are returned; nested objects and arrays
/// are validated for bracket balance and string syntax and returned as ``Value/nested``.
public enum JSONLine {
    /// A top-level value.
    public enum Value: Sendable, Equatable {
        case string(String)
        /// A number, kept as its source text (so ids like `007` or `1e3` round-trip).
        case number(String)
        case bool(Bool)
        case null
        case nested

        /// The value as an identifier: strings as they are, numbers as their source text.
        public var idString: String? {
            switch self {
            case .string(let s): return s
            case .number(let n): return n
            default: return nil
            }
        }
    }

    /// Why a line failed to parse, with the key being read when it happened.
    public struct ParseError: Error, Sendable, Equatable {
        public var key: String?
        public var reason: String
    }

    /// Parses `bytes` (one JSON object, surrounding whitespace allowed).
    public static func parseObject(_ bytes: UnsafeBufferPointer<UInt8>) throws(ParseError)
        -> [String: Value]
    {
        var parser = Parser(bytes: bytes)
        return try parser.parseTopLevel()
    }

    /// Parses `bytes` (one JSON object, validated whole) and returns the values of the members
    /// `names` (`nil` where absent; the last of a repeated key, as ``parseObject(_:)-(UnsafeBufferPointer<UInt8>)``
    /// keeps), without building a dictionary of every member.
    public static func parseFields(_ bytes: UnsafeBufferPointer<UInt8>, _ names: [String])
        throws(ParseError) -> [Value?]
    {
        var values = [Value?](repeating: nil, count: names.count)
        var parser = Parser(bytes: bytes)
        try parser.parseMembers { key, value in
            if let n = names.firstIndex(of: key) { values[n] = value }
        }
        return values
    }

    /// Parses `string` (one JSON object).
    public static func parseObject(_ string: String) throws(ParseError) -> [String: Value] {
        var copy = string
        let result: Result<[String: Value], ParseError> = copy.withUTF8 { bytes in
            do throws(ParseError) {
                return .success(try parseObject(bytes))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0
        var currentKey: String?
        var scratch: [UInt8] = []

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        func fail(_ reason: String) -> ParseError { ParseError(key: currentKey, reason: reason) }

        mutating func skipWhitespace() {
            while i < bytes.count {
                let c = bytes[i]
                if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 } else { break }
            }
        }

        mutating func parseTopLevel() throws(ParseError) -> [String: Value] {
            var object: [String: Value] = [:]
            try parseMembers { key, value in object[key] = value }
            return object
        }

        /// Parses the object, handing each member to `member` in the line's order.
        mutating func parseMembers(_ member: (String, Value) -> Void) throws(ParseError) {
            skipWhitespace()
            guard i < bytes.count else { throw fail("empty line, expected a JSON object") }
            guard bytes[i] == UInt8(ascii: "{") else { throw fail("expected '{' at column \(i + 1)") }
            i += 1
            skipWhitespace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "}") {
                i += 1
            } else {
                while true {
                    skipWhitespace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                        throw fail("expected a quoted key at column \(i + 1)")
                    }
                    let key = try parseString()
                    currentKey = key
                    skipWhitespace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else {
                        throw fail("expected ':' after key at column \(i + 1)")
                    }
                    i += 1
                    skipWhitespace()
                    member(key, try parseValue())
                    currentKey = nil
                    skipWhitespace()
                    guard i < bytes.count else { throw fail("unterminated object") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    if bytes[i] == UInt8(ascii: "}") {
                        i += 1
                        break
                    }
                    throw fail("expected ',' or '}' at column \(i + 1)")
                }
            }
            skipWhitespace()
            if i != bytes.count { throw fail("unexpected text after the object at column \(i + 1)") }
        }

        mutating func parseValue() throws(ParseError) -> Value {
            guard i < bytes.count else { throw fail("missing value") }
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "\""):
                return .string(try parseString())
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                try skipNested()
                return .nested
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let begin = i
                i += 1
                while i < bytes.count {
                    let d = bytes[i]
                    if (d >= 0x30 && d <= 0x39) || d == UInt8(ascii: ".") || d == UInt8(ascii: "e")
                        || d == UInt8(ascii: "E") || d == UInt8(ascii: "+")
                        || d == UInt8(ascii: "-")
                    {
                        i += 1
                    } else {
                        break
                    }
                }
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[begin..<i]), as: UTF8.self)
                if text == "-" { throw fail("invalid number") }
                return .number(text)
            default:
                throw fail("unexpected character '\(Unicode.Scalar(c))' at column \(i + 1)")
            }
        }

        mutating func expectLiteral(_ literal: StaticString) throws(ParseError) {
            let n = literal.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw fail("invalid literal") }
            let p = literal.utf8Start
            for k in 0..<n where bytes[i + k] != p[k] { throw fail("invalid literal") }
            i += n
        }

        /// Skips a nested object or array, checking brackets and strings.
        mutating func skipNested() throws(ParseError) {
            var depth = 0
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    _ = try parseString()
                    continue
                }
                if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
                if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return
                    }
                }
                i += 1
            }
            throw fail("unterminated nested value")
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                var digit: UInt32
                switch c {
                case 0x30...0x39: digit = UInt32(c - 0x30)
                case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
                default: throw fail("invalid \\u escape")
                }
                value = value << 4 | digit
                i += 1
            }
            return value
        }

        /// Parses a string starting at the opening quote.
        mutating func parseString() throws(ParseError) -> String {
            i += 1
            let begin = i
            // Fast path: no escapes.
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    let s = String(
                        decoding: UnsafeBufferPointer(rebasing: bytes[begin..<i]), as: UTF8.self)
                    i += 1
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw fail("control character in string at column \(i + 1)") }
                i += 1
            }
            guard i < bytes.count else { throw fail("unterminated string") }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[begin..<i]))
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return String(decoding: scratch, as: UTF8.self)
                }
                if c < 0x20 { throw fail("control character in string at column \(i + 1)") }
                if c != UInt8(ascii: "\\") {
                    scratch.append(c)
                    i += 1
                    continue
                }
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): scratch.append(0x22)
                case UInt8(ascii: "\\"): scratch.append(0x5C)
                case UInt8(ascii: "/"): scratch.append(0x2F)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        // High surrogate: pair with a following \uDC00-\uDFFF, else U+FFFD.
                        if i + 6 <= bytes.count && bytes[i] == UInt8(ascii: "\\")
                            && bytes[i + 1] == UInt8(ascii: "u")
                        {
                            let save = i
                            i += 2
                            let low = try hex4()
                            if low >= 0xDC00 && low < 0xE000 {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                i = save
                                scalar = 0xFFFD
                            }
                        } else {
                            scalar = 0xFFFD
                        }
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        scalar = 0xFFFD
                    }
                    let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    scratch.append(contentsOf: UTF8.encode(u)!)
                default:
                    throw fail("invalid escape '\\\(Unicode.Scalar(e))'")
                }
            }
            throw fail("unterminated string")
        }
    }
}

extension JSONLine {
    /// Parses one JSONL record, reporting failures as ``InparsCoreError/malformedLine(path:line:field:reason:)``.
    public static func parseRecord(
        _ bytes: UnsafeBufferPointer<UInt8>, path: String, line: Int
    ) throws -> [String: Value] {
        do {
            return try parseObject(bytes)
        } catch {
            throw InparsCoreError.malformedLine(
                path: path, line: line, field: error.key, reason: error.reason)
        }
    }

    /// The members `names` of one JSONL record (see ``parseFields(_:_:)``), reporting failures
    /// as ``parseRecord(_:path:line:)-(UnsafeBufferPointer<UInt8>,_,_)`` does.
    public static func parseRecordFields(
        _ bytes: UnsafeBufferPointer<UInt8>, _ names: [String], path: String, line: Int
    ) throws -> [Value?] {
        do {
            return try parseFields(bytes, names)
        } catch {
            throw InparsCoreError.malformedLine(
                path: path, line: line, field: error.key, reason: error.reason)
        }
    }

    /// Parses one JSONL record from a string (see ``parseRecord(_:path:line:)-(UnsafeBufferPointer<UInt8>,_,_)``).
    public static func parseRecord(_ string: String, path: String, line: Int) throws
        -> [String: Value]
    {
        var copy = string
        return try copy.withUTF8 { try parseRecord($0, path: path, line: line) }
    }
}
