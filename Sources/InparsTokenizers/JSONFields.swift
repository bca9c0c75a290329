import Foundation

/// A JSON object of a tokenizer file with its location, so that every error names the file
/// and the JSON path of the offending field (`pre_tokenizer.pretokenizers[0].pattern`).
struct JSONFields {
    let values: [String: Any]
    /// The file.
    let path: String
    /// The JSON path of this object (`""` for the root).
    let field: String

    init(_ values: [String: Any], path: String, field: String) {
        self.values = values
        self.path = path
        self.field = field
    }

    /// Parses `bytes` as a JSON object; errors say where the JSON breaks.
    static func parse(_ bytes: [UInt8], path: String) throws(TokenizerError) -> JSONFields {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            let preview = String(decoding: bytes.prefix(40), as: UTF8.self)
                .replacingOccurrences(of: "\n", with: " ")
            throw .malformedJSON(
                path: path,
                reason: "it is not valid JSON\(detail.map { ": " + $0 } ?? "") (\(bytes.count) bytes,"
                    + " starting \"\(preview)\")")
        }
        guard let root = parsed as? [String: Any] else {
            throw .malformedJSON(path: path, reason: "the top level is not an object")
        }
        return JSONFields(root, path: path, field: "")
    }

    /// Whether a parsed number is a JSON `true`/`false` (Foundation types them as `char`).
    static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    /// The JSON path of `key` in this object.
    func name(_ key: String) -> String { field.isEmpty ? key : "\(field).\(key)" }

    func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    func invalid(_ key: String, _ reason: String) -> TokenizerError {
        .invalidField(path: path, field: name(key), reason: reason)
    }

    func unsupported(_ what: String) -> TokenizerError {
        .unsupported(path: path, feature: "\(what) at '\(field.isEmpty ? "(top level)" : field)'")
    }

    /// `type`.
    func type() throws(TokenizerError) -> String {
        guard let type = try optionalString("type") else {
            throw .missingField(path: path, field: name("type"))
        }
        return type
    }

    func optionalString(_ key: String) throws(TokenizerError) -> String? {
        guard has(key) else { return nil }
        guard let value = values[key] as? String else { throw invalid(key, "expected a string") }
        return value
    }

    func string(_ key: String) throws(TokenizerError) -> String {
        guard let value = try optionalString(key) else {
            throw .missingField(path: path, field: name(key))
        }
        return value
    }

    func bool(_ key: String, default value: Bool) throws(TokenizerError) -> Bool {
        guard has(key) else { return value }
        guard let flag = values[key] as? Bool else { throw invalid(key, "expected true or false") }
        return flag
    }

    func optionalBool(_ key: String) throws(TokenizerError) -> Bool? {
        has(key) ? try bool(key, default: false) : nil
    }

    func optionalInt(_ key: String) throws(TokenizerError) -> Int? {
        guard has(key) else { return nil }
        guard let number = values[key] as? NSNumber,
            let value = Int(exactly: number.doubleValue)
        else { throw invalid(key, "expected an integer") }
        return value
    }

    func optionalDouble(_ key: String) throws(TokenizerError) -> Double? {
        guard has(key) else { return nil }
        guard let number = values[key] as? NSNumber else { throw invalid(key, "expected a number") }
        return number.doubleValue
    }

    func optionalObject(_ key: String) throws(TokenizerError) -> JSONFields? {
        guard has(key) else { return nil }
        guard let object = values[key] as? [String: Any] else {
            throw invalid(key, "expected an object")
        }
        return JSONFields(object, path: path, field: name(key))
    }

    func object(_ key: String) throws(TokenizerError) -> JSONFields {
        guard let object = try optionalObject(key) else {
            throw .missingField(path: path, field: name(key))
        }
        return object
    }

    func array(_ key: String) throws(TokenizerError) -> [Any] {
        guard has(key) else { throw .missingField(path: path, field: name(key)) }
        guard let array = values[key] as? [Any] else { throw invalid(key, "expected an array") }
        return array
    }

    /// The objects of the array `key`, each with its JSON path.
    func objects(_ key: String) throws(TokenizerError) -> [JSONFields] {
        var result: [JSONFields] = []
        for (index, item) in try array(key).enumerated() {
            guard let object = item as? [String: Any] else {
                throw invalid("\(key)[\(index)]", "expected an object")
            }
            result.append(JSONFields(object, path: path, field: name("\(key)[\(index)]")))
        }
        return result
    }
}
