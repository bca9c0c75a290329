/// Byte ranges of the top-level values of one JSON object line, so a value can be read or
/// replaced without re-serialising the rest of the row (key order, number spelling and
/// escapes of the other fields stay exactly as they were).
///
/// The scanner assumes syntactically valid JSON (the caller validates with
/// `InparsCore.JSONLine` first); it only tracks strings and bracket depth.
struct JSONObjectSpans {
    /// Raw key bytes (between the quotes, escapes not decoded) → value byte range.
    private(set) var values: [(key: [UInt8], range: Range<Int>)] = []
    /// Offset of the closing `}` of the object.
    private(set) var closingBrace: Int = -1

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        var i = 0
        let n = bytes.count
        func skipWhitespace() {
            while i < n,
                bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D
            {
                i += 1
            }
        }
        /// Moves `i` past a string starting at its opening quote.
        func skipString() {
            i += 1
            while i < n {
                if bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
                if bytes[i] == UInt8(ascii: "\"") { i += 1; return }
                i += 1
            }
        }
        skipWhitespace()
        guard i < n, bytes[i] == UInt8(ascii: "{") else { return }
        i += 1
        while i < n {
            skipWhitespace()
            guard i < n else { return }
            if bytes[i] == UInt8(ascii: "}") { closingBrace = i; return }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            guard bytes[i] == UInt8(ascii: "\"") else { return }
            let keyStart = i + 1
            skipString()
            let key = Array(UnsafeBufferPointer(rebasing: bytes[keyStart..<(i - 1)]))
            skipWhitespace()
            guard i < n, bytes[i] == UInt8(ascii: ":") else { return }
            i += 1
            skipWhitespace()
            let valueStart = i
            var depth = 0
            while i < n {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { skipString(); if depth == 0 { break }; continue }
                if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
                if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                    if depth == 0 { break }
                    depth -= 1
                    if depth == 0 { i += 1; break }
                }
                if depth == 0 && c == UInt8(ascii: ",") { break }
                i += 1
            }
            var valueEnd = i
            while valueEnd > valueStart,
                bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09
                    || bytes[valueEnd - 1] == 0x0A || bytes[valueEnd - 1] == 0x0D
            {
                valueEnd -= 1
            }
            values.append((key, valueStart..<valueEnd))
        }
    }

    /// The value range of the last occurrence of `key` (JSON keeps the last duplicate).
    func range(of key: String) -> Range<Int>? {
        let keyBytes = Array(key.utf8)
        return values.last(where: { $0.key == keyBytes })?.range
    }
}

extension JSONObjectSpans {
    /// `line` with the top-level number field `key` set to `value` (its JSON text): the old
    /// value is replaced in place when the key exists, else `, "key": value` is appended
    /// before the closing brace. Every other byte of the line is kept.
    static func setting(_ key: String, toJSON value: String, in line: String) -> String {
        var copy = line
        return copy.withUTF8 { bytes -> String in
            let spans = JSONObjectSpans(bytes)
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + key.utf8.count + value.utf8.count + 8)
            if let range = spans.range(of: key) {
                out.append(contentsOf: bytes[0..<range.lowerBound])
                out.append(contentsOf: value.utf8)
                out.append(contentsOf: bytes[range.upperBound...])
            } else {
                precondition(spans.closingBrace >= 0, "setting(_:toJSON:in:) needs a JSON object")
                out.append(contentsOf: bytes[0..<spans.closingBrace])
                let inserted = (spans.values.isEmpty ? "" : ", ") + "\"\(key)\": \(value)"
                out.append(contentsOf: inserted.utf8)
                out.append(contentsOf: bytes[spans.closingBrace...])
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
