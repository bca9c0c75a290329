import Foundation

/// Reads an HF `tokenizer.json` with a `Unigram` model into ``TokenizerComponents``.
///
/// Supported (what T5-family tokenizer files use): normalizers `Precompiled`, `NFKC`, `NFC`,
/// `Strip`, `Replace` (a literal string, or the regex `" {2,}"`) and `Sequence`;
/// pre-tokenizers `WhitespaceSplit`, `Metaspace` and `Sequence` (whitespace split first);
/// decoder `Metaspace` (or none); a `TemplateProcessing` post-processor that appends special
/// tokens after `$A`. Anything else is reported as `TokenizerError.unsupported`.
enum TokenizerJSON {
    typealias Object = [String: Any]

    static func components(_ bytes: [UInt8], path: String) throws(TokenizerError)
        -> TokenizerComponents
    {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(
                with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw .malformedJSON(path: path, reason: "\(error.localizedDescription)")
        }
        guard let root = parsed as? Object else {
            throw .malformedJSON(path: path, reason: "the top level is not an object")
        }
        var (pieces, scores, unk) = try unigramVocabulary(root, path: path)
        let modelCount = pieces.count
        var kinds = Array(repeating: TokenizerComponents.PieceKind.normal, count: pieces.count)
        kinds[unk] = .unknown

        var pipeline = HuggingFacePipeline()
        if let normalizer = root["normalizer"] as? Object {
            pipeline.steps = try normalizerSteps(normalizer, path: path, field: "normalizer")
        }
        if let preTokenizer = root["pre_tokenizer"] as? Object {
            try applyPreTokenizer(preTokenizer, to: &pipeline, path: path, field: "pre_tokenizer")
        }
        if let decoder = root["decoder"] as? Object {
            pipeline.decoder = try decoderMetaspace(decoder, path: path)
        }

        let (added, special) = try addedTokens(
            root, pieces: &pieces, scores: &scores, kinds: &kinds, modelCount: modelCount,
            path: path)
        pipeline.setAddedTokens(added)

        func idOf(_ piece: String) -> Int32? {
            if let token = added.first(where: { $0.content.elementsEqual(piece.utf8) }) {
                return token.id
            }
            return pieces.firstIndex(of: piece).map { Int32($0) }
        }
        var postProcessor: TemplatePostProcessor?
        if let post = root["post_processor"] as? Object {
            postProcessor = try template(post, path: path, idOf: idOf)
        }
        let lastSpecial = postProcessor?.singleTemplate.last.flatMap {
            if case .special(let ids) = $0.piece { return ids.last } else { return nil }
        }
        guard let eos = idOf("</s>") ?? lastSpecial else {
            throw .missingField(path: path, field: "added_tokens (</s>)")
        }
        guard let pad = idOf("<pad>") else {
            throw .missingField(path: path, field: "added_tokens (<pad>)")
        }

        var components = TokenizerComponents(
            compatibility: .huggingFace, pieces: pieces, scores: scores, kinds: kinds,
            searchable: pieces.indices.map { $0 < modelCount },
            minScore: scores[..<modelCount].min() ?? 0, unkID: Int32(unk), eosID: eos, padID: pad,
            special: special)
        components.pipeline = pipeline
        components.postProcessor = postProcessor ?? .appending([])
        return components
    }

    // MARK: Components

    private static func typeName(_ object: Object, path: String, field: String)
        throws(TokenizerError) -> String
    {
        guard let type = object["type"] as? String else {
            throw .missingField(path: path, field: "\(field).type")
        }
        return type
    }

    static func normalizerSteps(
        _ object: Object, path: String, field: String
    ) throws(TokenizerError) -> [HuggingFacePipeline.Step] {
        let type = try typeName(object, path: path, field: field)
        switch type {
        case "Sequence":
            guard let list = object["normalizers"] as? [Any] else {
                throw .missingField(path: path, field: "\(field).normalizers")
            }
            var steps: [HuggingFacePipeline.Step] = []
            for (index, item) in list.enumerated() {
                guard let child = item as? Object else {
                    throw .invalidField(
                        path: path, field: "\(field).normalizers[\(index)]", reason: "not an object"
                    )
                }
                steps += try normalizerSteps(
                    child, path: path, field: "\(field).normalizers[\(index)]")
            }
            return steps
        case "Precompiled":
            guard let base64 = object["precompiled_charsmap"] as? String else { return [] }
            guard let data = Data(base64Encoded: base64) else {
                throw .invalidField(
                    path: path, field: "\(field).precompiled_charsmap", reason: "not valid base64")
            }
            if data.isEmpty { return [] }
            return [.precompiled(try PrecompiledCharsmap(blob: Array(data), path: path))]
        case "NFKC": return [.nfkc]
        case "NFC": return [.nfc]
        case "Strip":
            return [
                .strip(
                    left: object["strip_left"] as? Bool ?? true,
                    right: object["strip_right"] as? Bool ?? true)
            ]
        case "Replace":
            guard let pattern = object["pattern"] as? Object,
                let content = object["content"] as? String
            else {
                throw .missingField(path: path, field: "\(field).pattern")
            }
            if let literal = pattern["String"] as? String {
                return [.replace(pattern: Array(literal.utf8), content: Array(content.utf8))]
            }
            if let regex = pattern["Regex"] as? String, regex == " {2,}" {
                return [.replaceSpaceRuns(content: Array(content.utf8))]
            }
            throw .unsupported(path: path, feature: "the Replace pattern \(pattern) in '\(field)'")
        default:
            throw .unsupported(path: path, feature: "the normalizer '\(type)' in '\(field)'")
        }
    }

    private static func metaspace(_ object: Object, path: String, field: String)
        throws(TokenizerError)
        -> HuggingFacePipeline.Metaspace
    {
        guard let replacement = object["replacement"] as? String, replacement.count == 1 else {
            throw .invalidField(
                path: path, field: "\(field).replacement", reason: "expected one character")
        }
        var scheme = HuggingFacePipeline.PrependScheme.always
        if let name = object["prepend_scheme"] as? String {
            guard let parsed = HuggingFacePipeline.PrependScheme(rawValue: name) else {
                throw .invalidField(
                    path: path, field: "\(field).prepend_scheme", reason: "unknown scheme '\(name)'"
                )
            }
            scheme = parsed
        }
        if object["add_prefix_space"] as? Bool == false { scheme = .never }
        return .init(
            replacement: Array(replacement.utf8), prependScheme: scheme,
            split: object["split"] as? Bool ?? true)
    }

    static func applyPreTokenizer(
        _ object: Object, to pipeline: inout HuggingFacePipeline, path: String, field: String
    ) throws(TokenizerError) {
        let type = try typeName(object, path: path, field: field)
        switch type {
        case "Sequence":
            guard let list = object["pretokenizers"] as? [Any] else {
                throw .missingField(path: path, field: "\(field).pretokenizers")
            }
            for (index, item) in list.enumerated() {
                guard let child = item as? Object else {
                    throw .invalidField(
                        path: path, field: "\(field).pretokenizers[\(index)]",
                        reason: "not an object")
                }
                try applyPreTokenizer(
                    child, to: &pipeline, path: path, field: "\(field).pretokenizers[\(index)]")
            }
        case "WhitespaceSplit":
            guard pipeline.metaspace == nil else {
                throw .unsupported(
                    path: path, feature: "WhitespaceSplit after Metaspace in '\(field)'")
            }
            pipeline.whitespaceSplit = true
        case "Metaspace":
            guard pipeline.metaspace == nil else {
                throw .unsupported(
                    path: path, feature: "two Metaspace pre-tokenizers in '\(field)'")
            }
            pipeline.metaspace = try metaspace(object, path: path, field: field)
        default:
            throw .unsupported(path: path, feature: "the pre-tokenizer '\(type)' in '\(field)'")
        }
    }

    private static func decoderMetaspace(_ object: Object, path: String) throws(TokenizerError)
        -> HuggingFacePipeline.Metaspace?
    {
        let type = try typeName(object, path: path, field: "decoder")
        switch type {
        case "Metaspace": return try metaspace(object, path: path, field: "decoder")
        case "Sequence":
            let list = object["decoders"] as? [Any] ?? []
            guard list.count == 1, let only = list[0] as? Object else {
                throw .unsupported(
                    path: path, feature: "a decoder sequence other than one Metaspace")
            }
            return try decoderMetaspace(only, path: path)
        default:
            throw .unsupported(path: path, feature: "the decoder '\(type)'")
        }
    }

    /// The Unigram model's pieces and scores (`model.vocab`) and its unknown id.
    private static func unigramVocabulary(_ root: Object, path: String) throws(TokenizerError)
        -> (pieces: [String], scores: [Double], unk: Int)
    {
        guard let model = root["model"] as? Object else {
            throw .missingField(path: path, field: "model")
        }
        guard let type = model["type"] as? String else {
            throw .missingField(path: path, field: "model.type")
        }
        guard type == "Unigram" else { throw .unsupported(path: path, feature: "a \(type) model") }
        if model["byte_fallback"] as? Bool == true {
            throw .unsupported(path: path, feature: "byte fallback")
        }
        guard let vocab = model["vocab"] as? [Any] else {
            throw .missingField(path: path, field: "model.vocab")
        }
        var pieces: [String] = []
        var scores: [Double] = []
        pieces.reserveCapacity(vocab.count)
        scores.reserveCapacity(vocab.count)
        for (index, entry) in vocab.enumerated() {
            guard let pair = entry as? [Any], pair.count == 2, let piece = pair[0] as? String,
                let score = (pair[1] as? NSNumber)?.doubleValue
            else {
                throw .invalidField(
                    path: path, field: "model.vocab[\(index)]", reason: "expected [piece, score]")
            }
            pieces.append(piece)
            scores.append(score)
        }
        guard !pieces.isEmpty else {
            throw .invalidField(path: path, field: "model.vocab", reason: "it is empty")
        }
        guard let unk = (model["unk_id"] as? NSNumber)?.intValue else {
            throw .missingField(path: path, field: "model.unk_id")
        }
        guard unk >= 0, unk < pieces.count else {
            throw .invalidField(
                path: path, field: "model.unk_id", reason: "\(unk) is not a vocabulary id")
        }
        return (pieces, scores, unk)
    }

    /// `added_tokens`: ids may lie beyond the model vocabulary (the arrays grow to hold them);
    /// special ones become control pieces.
    ///
    /// - Returns: the added tokens for the pipeline, and which ids are special.
    private static func addedTokens(
        _ root: Object, pieces: inout [String], scores: inout [Double],
        kinds: inout [TokenizerComponents.PieceKind], modelCount: Int, path: String
    ) throws(TokenizerError) -> ([HuggingFacePipeline.AddedToken], [Bool]) {
        var added: [HuggingFacePipeline.AddedToken] = []
        var special: [Bool] = Array(repeating: false, count: pieces.count)
        for (index, entry) in ((root["added_tokens"] as? [Any]) ?? []).enumerated() {
            guard let token = entry as? Object, let id = (token["id"] as? NSNumber)?.intValue,
                let content = token["content"] as? String, id >= 0
            else {
                throw .invalidField(
                    path: path, field: "added_tokens[\(index)]",
                    reason: "expected an id and a content")
            }
            while pieces.count <= id {
                pieces.append("")
                scores.append(0)
                kinds.append(.added)
                special.append(false)
            }
            if id >= modelCount { pieces[id] = content }
            if kinds[id] == .normal, token["special"] as? Bool ?? false { kinds[id] = .control }
            special[id] = token["special"] as? Bool ?? false
            added.append(.init(content: Array(content.utf8), id: Int32(id), special: special[id]))
        }
        return (added, special)
    }

    /// A `TemplateProcessing` post-processor: its `single` and `pair` templates, each a list
    /// of `{"Sequence": {"id": "A"|"B", "type_id": n}}` and `{"SpecialToken": {"id": name,
    /// "type_id": n}}`, special tokens resolved through `special_tokens` (or the vocabulary).
    private static func template(
        _ object: Object, path: String, idOf: (String) -> Int32?
    ) throws(TokenizerError) -> TemplatePostProcessor {
        let type = try typeName(object, path: path, field: "post_processor")
        guard type == "TemplateProcessing" else {
            throw .unsupported(path: path, feature: "the post-processor '\(type)'")
        }
        let specials = object["special_tokens"] as? Object ?? [:]
        func items(_ key: String, sequences: [String]) throws(TokenizerError)
            -> [TemplatePostProcessor.Item]
        {
            guard let list = object[key] as? [Any] else {
                throw .missingField(path: path, field: "post_processor.\(key)")
            }
            var result: [TemplatePostProcessor.Item] = []
            for (index, item) in list.enumerated() {
                let field = "post_processor.\(key)[\(index)]"
                result.append(
                    try templateItem(
                        item, field: field, sequences: sequences, specials: specials,
                        path: path, idOf: idOf))
            }
            let found = result.compactMap { item -> Int? in
                if case .sequence(let index) = item.piece { return index } else { return nil }
            }
            guard found.sorted() == Array(sequences.indices) else {
                throw .invalidField(
                    path: path, field: "post_processor.\(key)",
                    reason: "expected the sequence\(sequences.count > 1 ? "s" : "") \(sequences.map { "$" + $0 }.joined(separator: " and ")) once each")
            }
            return result
        }
        let single = try items("single", sequences: ["A"])
        let pair = object["pair"] == nil ? nil : try items("pair", sequences: ["A", "B"])
        // A template without a pair form (not written by `tokenizers`) pairs as single + single.
        return TemplatePostProcessor(
            single: single,
            pair: pair
                ?? single + single.map {
                    $0.piece == .sequence(0) ? .init(.sequence(1), typeID: $0.typeID) : $0
                })
    }

    /// One template element (see ``template(_:path:idOf:)``).
    private static func templateItem(
        _ item: Any, field: String, sequences: [String], specials: Object, path: String,
        idOf: (String) -> Int32?
    ) throws(TokenizerError) -> TemplatePostProcessor.Item {
        guard let element = item as? Object else {
            throw .invalidField(path: path, field: field, reason: "not an object")
        }
        if let sequence = element["Sequence"] as? Object {
            let name = sequence["id"] as? String ?? "A"
            guard let index = sequences.firstIndex(of: name) else {
                throw .invalidField(path: path, field: field, reason: "unknown sequence '\(name)'")
            }
            let typeID = (sequence["type_id"] as? NSNumber)?.int32Value ?? 0
            return .init(.sequence(index), typeID: typeID)
        }
        guard let token = element["SpecialToken"] as? Object, let name = token["id"] as? String
        else {
            throw .invalidField(path: path, field: field, reason: "expected Sequence or SpecialToken")
        }
        let typeID = (token["type_id"] as? NSNumber)?.int32Value ?? 0
        if let entry = specials[name] as? Object, let ids = entry["ids"] as? [Any] {
            var values: [Int32] = []
            for id in ids {
                guard let value = (id as? NSNumber)?.intValue else {
                    throw .invalidField(
                        path: path, field: "post_processor.special_tokens.\(name)",
                        reason: "ids are not numbers")
                }
                values.append(Int32(value))
            }
            return .init(.special(values), typeID: typeID)
        }
        guard let id = idOf(name) else {
            throw .invalidField(path: path, field: field, reason: "unknown special token '\(name)'")
        }
        return .init(.special([id]), typeID: typeID)
    }
}
