import Foundation

/// The `normalizer`, `pre_tokenizer` and `decoder` sections of a `tokenizer.json`.
extension TokenizerJSON {
    // MARK: Normalizers

    static func normalizerSteps(_ object: JSONFields) throws(TokenizerError) -> [Normalizer.Step] {
        switch try object.type() {
        case "Sequence":
            var steps: [Normalizer.Step] = []
            for child in try object.objects("normalizers") { steps += try normalizerSteps(child) }
            return steps
        case "Precompiled":
            guard let base64 = try object.optionalString("precompiled_charsmap") else { return [] }
            guard let data = Data(base64Encoded: base64) else {
                throw object.invalid("precompiled_charsmap", "not valid base64")
            }
            if data.isEmpty { return [] }
            return [.precompiled(try PrecompiledCharsmap(blob: Array(data), path: object.path))]
        case "NFC": return [.nfc]
        case "NFD": return [.nfd]
        case "NFKC": return [.nfkc]
        case "NFKD": return [.nfkd]
        case "Lowercase": return [.lowercase]
        case "StripAccents": return [.stripAccents]
        case "Strip":
            return [
                .strip(
                    left: try object.bool("strip_left", default: true),
                    right: try object.bool("strip_right", default: true))
            ]
        case "Replace":
            return [.replace(try pattern(object), content: Array(try object.string("content").utf8))]
        case "Prepend": return [.prepend(Array(try object.string("prepend").utf8))]
        case "BertNormalizer":
            let lowercase = try object.bool("lowercase", default: true)
            return [
                .bert(
                    Normalizer.BertOptions(
                        cleanText: try object.bool("clean_text", default: true),
                        handleChineseChars: try object.bool("handle_chinese_chars", default: true),
                        stripAccents: try object.optionalBool("strip_accents") ?? lowercase,
                        lowercase: lowercase))
            ]
        case let other: throw object.unsupported("the normalizer '\(other)'")
        }
    }

    /// `pattern`: `{"String": "..."}` (a literal) or `{"Regex": "..."}`.
    static func pattern(_ object: JSONFields) throws(TokenizerError) -> TokenizerRegex {
        let pattern = try object.object("pattern")
        if let literal = try pattern.optionalString("String") {
            return TokenizerRegex(literal: literal)
        }
        guard let source = try pattern.optionalString("Regex") else {
            throw object.invalid("pattern", "expected {\"String\": ...} or {\"Regex\": ...}")
        }
        do {
            return try TokenizerRegex(source)
        } catch {
            throw .unsupported(
                path: object.path,
                feature: "the regex \(source.debugDescription) at '\(pattern.name("Regex"))' (\(error.message))")
        }
    }

    // MARK: Pre-tokenizers

    static func preTokenizerSteps(_ object: JSONFields) throws(TokenizerError) -> [PreTokenizer.Step] {
        switch try object.type() {
        case "Sequence":
            var steps: [PreTokenizer.Step] = []
            for child in try object.objects("pretokenizers") { steps += try preTokenizerSteps(child) }
            return steps
        case "Split":
            return [
                .split(
                    try pattern(object), try behavior(object, default: nil),
                    invert: try object.bool("invert", default: false))
            ]
        case "ByteLevel":
            return [
                .byteLevel(
                    addPrefixSpace: try object.bool("add_prefix_space", default: true),
                    useRegex: try object.bool("use_regex", default: true))
            ]
        case "Metaspace": return [.metaspace(try metaspace(object))]
        case "WhitespaceSplit": return [.whitespaceSplit]
        case "Whitespace": return [.whitespace]
        case "BertPreTokenizer": return [.bert]
        case "Punctuation": return [.punctuation(try behavior(object, default: .isolated))]
        case "Digits": return [.digits(individual: try object.bool("individual_digits", default: false))]
        case let other: throw object.unsupported("the pre-tokenizer '\(other)'")
        }
    }

    private static func behavior(_ object: JSONFields, default value: PreTokenizer.SplitBehavior?)
        throws(TokenizerError) -> PreTokenizer.SplitBehavior
    {
        guard let name = try object.optionalString("behavior") else {
            if let value { return value }
            throw .missingField(path: object.path, field: object.name("behavior"))
        }
        guard let behavior = PreTokenizer.SplitBehavior(rawValue: name) else {
            throw object.invalid("behavior", "unknown behavior '\(name)'")
        }
        return behavior
    }

    /// `Metaspace` (pre-tokenizer or decoder): `replacement`, `prepend_scheme` (or the older
    /// `add_prefix_space`), `split`.
    static func metaspace(_ object: JSONFields) throws(TokenizerError) -> PreTokenizer.Metaspace {
        let replacement = try object.string("replacement")
        guard replacement.unicodeScalars.count == 1 else {
            throw object.invalid("replacement", "expected one character")
        }
        var scheme = PreTokenizer.PrependScheme.always
        if let name = try object.optionalString("prepend_scheme") {
            guard let parsed = PreTokenizer.PrependScheme(rawValue: name) else {
                throw object.invalid("prepend_scheme", "unknown scheme '\(name)'")
            }
            scheme = parsed
        }
        if try object.optionalBool("add_prefix_space") == false { scheme = .never }
        return .init(
            replacement: Array(replacement.utf8), prependScheme: scheme,
            split: try object.bool("split", default: true))
    }

    // MARK: Decoders

    static func decoderSteps(_ object: JSONFields) throws(TokenizerError) -> [TokenDecoder.Step] {
        switch try object.type() {
        case "Sequence":
            var steps: [TokenDecoder.Step] = []
            for child in try object.objects("decoders") { steps += try decoderSteps(child) }
            return steps
        case "ByteLevel": return [.byteLevel]
        case "Metaspace": return [.metaspace(try metaspace(object))]
        case "Replace": return [.replace(try pattern(object), content: try object.string("content"))]
        case "ByteFallback": return [.byteFallback]
        case "Fuse": return [.fuse]
        case "Strip":
            let content = try object.string("content")
            guard content.unicodeScalars.count == 1 else {
                throw object.invalid("content", "expected one character")
            }
            return [
                .strip(
                    content: content.unicodeScalars.first!,
                    start: max(0, try object.optionalInt("start") ?? 0),
                    stop: max(0, try object.optionalInt("stop") ?? 0))
            ]
        case "WordPiece":
            return [
                .wordPiece(
                    prefix: try object.optionalString("prefix") ?? "##",
                    cleanup: try object.bool("cleanup", default: true))
            ]
        case "BPEDecoder": return [.bpeSuffix(try object.optionalString("suffix") ?? "</w>")]
        case let other: throw object.unsupported("the decoder '\(other)'")
        }
    }
}
