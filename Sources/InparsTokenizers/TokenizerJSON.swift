import Foundation
import InparsCore

/// Reads an HF `tokenizer.json` with a `Unigram` model into ``TokenizerComponents``.
///
/// Supported (what T5-family tokenizer files use): normalizers `Precompiled`, `NFKC`, `NFC`,
/// `Strip`, `Replace` (a literal string, or the regex `" {2,}"`) and `Sequence`;
/// pre-tokenizers `WhitespaceSplit`, `Metaspace` and `Sequence` (whitespace split first);
/// decoder `Metaspace` (or none); a `TemplateProcessing` post-processor that appends special
/// tokens after `$A`. Anything else is reported as `TokenizerError.unsupported`.
enum TokenizerJSON {
    typealias Object = [String: Any]

    /// A JSON number that is a whole, non-negative token id that fits an `Int32`, else `nil`.
    static func tokenID(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber, let id = Int(exactly: number.doubleValue),
            id >= 0, id <= Int(Int32.max)
        else { return nil }
        return id
    }

    static func components(_ bytes: [UInt8], path: String) throws(TokenizerError)
        -> TokenizerComponents
    {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(
                with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw .malformedJSON(path: path, reason: plainDescription(of: error))
        }
        guard let root = parsed as? Object else {
            throw .malformedJSON(path: path, reason: "the top level is not an object")
        }
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
        guard let unk = tokenID(model["unk_id"]) else {
            throw .missingField(path: path, field: "model.unk_id")
        }
        guard unk >= 0, unk < pieces.count else {
            throw .invalidField(
                path: path, field: "model.unk_id", reason: "\(unk) is not a vocabulary id")
        }
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

        // Added tokens: ids may lie beyond the model vocabulary.
        var added: [HuggingFacePipeline.AddedToken] = []
        var special: [Bool] = Array(repeating: false, count: pieces.count)
        let addedEntries = (root["added_tokens"] as? [Any]) ?? []
        for (index, entry) in addedEntries.enumerated() {
            guard let token = entry as? Object, let id = tokenID(token["id"]),
                let content = token["content"] as? String
            else {
                throw .invalidField(
                    path: path, field: "added_tokens[\(index)]",
                    reason: "expected an id and a content")
            }
            // Added tokens extend the vocabulary without gaps; an id past that is a broken
            // file (and would size the vocabulary by it).
            guard id < modelCount + addedEntries.count else {
                throw .invalidField(
                    path: path, field: "added_tokens[\(index)].id",
                    reason: "\(id) is beyond the \(modelCount) pieces and \(addedEntries.count)"
                        + " added tokens")
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
        pipeline.setAddedTokens(added)
        let vocabularySize = pieces.count

        func idOf(_ piece: String) -> Int32? {
            if let token = added.first(where: { $0.content.elementsEqual(piece.utf8) }) {
                return token.id
            }
            return pieces.firstIndex(of: piece).map { Int32($0) }
        }
        if let post = root["post_processor"] as? Object {
            pipeline.suffix = try templateSuffix(post, path: path, idOf: idOf)
            for id in pipeline.suffix where Int(id) >= vocabularySize {
                throw .invalidField(
                    path: path, field: "post_processor",
                    reason: "special token id \(id) is beyond the vocabulary of \(vocabularySize)")
            }
        }
        guard let eos = idOf("</s>") ?? pipeline.suffix.last else {
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

    /// The ids a `TemplateProcessing` post-processor appends after `$A` for one sequence.
    private static func templateSuffix(
        _ object: Object, path: String, idOf: (String) -> Int32?
    ) throws(TokenizerError) -> [Int32] {
        let type = try typeName(object, path: path, field: "post_processor")
        guard type == "TemplateProcessing" else {
            throw .unsupported(path: path, feature: "the post-processor '\(type)'")
        }
        guard let single = object["single"] as? [Any] else {
            throw .missingField(path: path, field: "post_processor.single")
        }
        let specials = object["special_tokens"] as? Object ?? [:]
        var suffix: [Int32] = []
        var seenSequence = false
        for (index, item) in single.enumerated() {
            let field = "post_processor.single[\(index)]"
            guard let element = item as? Object else {
                throw .invalidField(path: path, field: field, reason: "not an object")
            }
            if element["Sequence"] != nil {
                seenSequence = true
                continue
            }
            guard let token = element["SpecialToken"] as? Object, let name = token["id"] as? String
            else {
                throw .invalidField(
                    path: path, field: field, reason: "expected Sequence or SpecialToken")
            }
            guard seenSequence else {
                throw .unsupported(
                    path: path, feature: "special tokens before the sequence in '\(field)'")
            }
            if let entry = specials[name] as? Object, let ids = entry["ids"] as? [Any] {
                for id in ids {
                    guard let value = tokenID(id) else {
                        throw .invalidField(
                            path: path, field: "post_processor.special_tokens.\(name)",
                            reason: "ids are not token ids")
                    }
                    suffix.append(Int32(value))
                }
            } else if let id = idOf(name) {
                suffix.append(id)
            } else {
                throw .invalidField(
                    path: path, field: field, reason: "unknown special token '\(name)'")
            }
        }
        return suffix
    }
}
