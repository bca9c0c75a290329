import Foundation

/// A few-shot prompt template with `{document}` and `{query}` placeholders.
///
/// Rendering follows Python's `str.format`, as the InPars toolkit does: `{document}` and
/// `{query}` are replaced, `{{` and `}}` stand for literal braces, anything else in braces is
/// an error (reported when the template is loaded, with its character offset).
///
/// Two modes, as in the toolkit:
/// - static (`inpars`, `inpars-gbq`, a user file): the examples are part of the text; the
///   prompt is the template rendered with the target document and an empty query, then
///   right-stripped, so it ends with the label's colon (`…Relevant Query:`).
/// - dynamic (`promptagator-<dataset>`, or a user file given `--fewshot-examples`): the
///   template is one example; the prompt is the template rendered for each drawn example,
///   concatenated with nothing in between, followed by the rendered, right-stripped target.
public struct PromptTemplate: Sendable, Equatable {
    /// How examples get into the prompt.
    public enum Mode: String, Sendable, Codable {
        /// Examples are fixed text inside the template.
        case `static`
        /// Examples are drawn per document from a few-shot file.
        case dynamic
    }

    /// The built-in name, or the file path for a user template.
    public var name: String
    /// The template text, byte for byte.
    public var text: String
    /// Static or dynamic.
    public var mode: Mode

    private var pieces: [Piece]

    enum Piece: Sendable, Equatable {
        case literal(String)
        case document
        case query
    }

    /// Parses `text`.
    ///
    /// - Parameter source: how errors name the template (`'inpars'`, `file 'x.txt'`).
    /// - Throws: ``GenerationError/invalidTemplate(source:offset:reason:)``.
    public init(name: String, text: String, mode: Mode, source: String? = nil) throws {
        self.name = name
        self.text = text
        self.mode = mode
        self.pieces = try Self.parse(text, source: source ?? "'\(name)'")
        guard pieces.contains(.document) else {
            throw GenerationError.templateWithoutDocument(source: source ?? "'\(name)'")
        }
    }

    /// Names of the built-in templates, sorted.
    public static var builtinNames: [String] { builtinTexts.keys.sorted() }

    /// A built-in template (`inpars`, `inpars-gbq`, `promptagator-<dataset>`), or `nil`.
    public static func builtin(_ name: String) -> PromptTemplate? {
        guard let text = builtinTexts[name] else { return nil }
        let mode: Mode = name.hasPrefix("promptagator-") ? .dynamic : .static
        return try? PromptTemplate(name: name, text: text, mode: mode)
    }

    /// A built-in template by name, else the template in the file at `nameOrPath` (static,
    /// or dynamic when `dynamic` is true, i.e. when few-shot examples are given).
    ///
    /// - Throws: ``GenerationError/unknownPrompt(name:builtins:)`` when neither exists,
    ///   ``GenerationError/invalidTemplate(source:offset:reason:)`` for a bad file.
    public static func load(_ nameOrPath: String, dynamic: Bool = false) throws -> PromptTemplate {
        if let builtin = builtin(nameOrPath) { return builtin }
        let url = URL(fileURLWithPath: nameOrPath)
        guard FileManager.default.fileExists(atPath: url.path),
            let data = FileManager.default.contents(atPath: url.path)
        else {
            throw GenerationError.unknownPrompt(name: nameOrPath, builtins: builtinNames)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw GenerationError.invalidTemplate(
                source: "file '\(nameOrPath)'", offset: 0, reason: "the file is not UTF-8")
        }
        return try PromptTemplate(
            name: nameOrPath, text: text, mode: dynamic ? .dynamic : .static,
            source: "file '\(nameOrPath)'")
    }

    /// The template with `{document}` and `{query}` replaced (Python `str.format`).
    public func render(document: String, query: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count + document.utf8.count + query.utf8.count)
        for piece in pieces {
            switch piece {
            case .literal(let string): result += string
            case .document: result += document
            case .query: result += query
            }
        }
        return result
    }

    /// The prompt's last part: the template for `document` with an empty query, with trailing
    /// whitespace removed (Python `rstrip()`), so it ends with the query label's colon.
    public func renderTarget(document: String) -> String {
        var rendered = render(document: document, query: "")
        while let last = rendered.last, last.isWhitespace { rendered.removeLast() }
        return rendered
    }

    private static func parse(_ text: String, source: String) throws -> [Piece] {
        var pieces: [Piece] = []
        var literal = ""
        let scalars = Array(text.unicodeScalars)
        var index = 0
        func fail(_ reason: String) -> GenerationError {
            .invalidTemplate(source: source, offset: index, reason: reason)
        }
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "{" {
                if index + 1 < scalars.count && scalars[index + 1] == "{" {
                    literal.unicodeScalars.append("{")
                    index += 2
                    continue
                }
                guard let close = scalars[(index + 1)...].firstIndex(of: "}") else {
                    throw fail("'{' without a closing '}'")
                }
                var field = String(String.UnicodeScalarView(scalars[(index + 1)..<close]))
                field = field.trimmingCharacters(in: .init())
                if !literal.isEmpty {
                    pieces.append(.literal(literal))
                    literal = ""
                }
                switch field {
                case "document": pieces.append(.document)
                case "query": pieces.append(.query)
                default:
                    throw fail("unknown placeholder '{\(field)}' (only {document} and {query})")
                }
                index = close + 1
            } else if scalar == "}" {
                guard index + 1 < scalars.count && scalars[index + 1] == "}" else {
                    throw fail("single '}'")
                }
                literal.unicodeScalars.append("}")
                index += 2
            } else {
                literal.unicodeScalars.append(scalar)
                index += 1
            }
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return pieces
    }
}
