import Foundation

/// Reads an HF `tokenizer.json` into the parts of a ``HuggingFaceTokenizer``.
///
/// Supported components (anything else is a `TokenizerError.unsupported` naming the file and
/// the JSON path, never a silent approximation):
///
/// - models `BPE` (merges as `"a b"` strings or `["a", "b"]` pairs, `byte_fallback`,
///   `fuse_unk`, `ignore_merges`, `continuing_subword_prefix`, `end_of_word_suffix`),
///   `WordPiece`, `Unigram` (without byte fallback);
/// - normalizers, pre-tokenizers and decoders: see ``Normalizer``, ``PreTokenizer`` and
///   ``TokenDecoder`` (this file's `+Pipeline` extension parses them);
/// - post-processors `TemplateProcessing`, `BertProcessing`, `RobertaProcessing`,
///   `ByteLevel` and `Sequence`;
/// - `added_tokens` with their `special`, `normalized`, `single_word`, `lstrip`, `rstrip` flags.
enum TokenizerJSON {
    static func parts(_ bytes: [UInt8], path: String) throws(TokenizerError)
        -> HuggingFaceTokenizer.Parts
    {
        let root = try JSONFields.parse(bytes, path: path)
        let (model, vocabulary, type, unkToken) = try self.model(try root.object("model"))
        var normalizer: Normalizer?
        if let object = try root.optionalObject("normalizer") {
            normalizer = Normalizer(steps: try normalizerSteps(object))
        }
        var preTokenizer = PreTokenizer()
        if let object = try root.optionalObject("pre_tokenizer") {
            preTokenizer.steps = try preTokenizerSteps(object)
        }
        var decoder: TokenDecoder?
        if let object = try root.optionalObject("decoder") {
            decoder = TokenDecoder(steps: try decoderSteps(object))
        }
        var ids: [String: Int32] = [:]
        for (id, token) in vocabulary.enumerated() where !token.isEmpty && ids[token] == nil {
            ids[token] = Int32(id)
        }
        let added = try addedTokens(root, modelCount: ids.count, modelIDs: ids)
        for token in added { ids[String(decoding: token.content, as: UTF8.self)] = token.id }
        let idOf = { (token: String) in ids[token] }
        var postProcessor = TemplatePostProcessor.plain
        if let object = try root.optionalObject("post_processor") {
            postProcessor = try self.postProcessor(object, idOf: idOf) ?? .plain
            let count = max(vocabulary.count, Int(added.map(\.id).max() ?? -1) + 1)
            for item in postProcessor.singleTemplate + postProcessor.pairTemplate {
                if case .special(let ids) = item.piece, let bad = ids.first(where: { $0 < 0 || Int($0) >= count }) {
                    throw object.invalid("special_tokens", "id \(bad) is not a token id (there are \(count))")
                }
            }
        }
        return HuggingFaceTokenizer.Parts(
            modelType: type, normalizer: normalizer, preTokenizer: preTokenizer, addedTokens: added,
            model: model, vocabulary: vocabulary, decoder: decoder, postProcessor: postProcessor,
            specialTokens: SpecialTokens(
                bos: postProcessor.leadingSpecial, eos: postProcessor.trailingSpecial,
                unk: unkToken.flatMap(idOf)))
    }

    // MARK: Models

    /// The model, its vocabulary by id, its type name and its unknown token.
    private static func model(_ object: JSONFields) throws(TokenizerError) -> (
        TokenizerModel, [String], String, String?
    ) {
        var type = try object.optionalString("type")
        if type == nil {
            // Older files omit the type; HF then tries the model kinds in turn.
            if object.has("merges") {
                type = "BPE"
            } else if object.values["vocab"] is [Any] {
                type = "Unigram"
            } else if object.has("max_input_chars_per_word") {
                type = "WordPiece"
            }
        }
        switch type {
        case "Unigram": return try unigram(object)
        case "BPE": return try bpe(object)
        case "WordPiece": return try wordPiece(object)
        case nil: throw .missingField(path: object.path, field: object.name("type"))
        case let other?: throw object.unsupported("the model type '\(other)'")
        }
    }

    private static func unigram(_ object: JSONFields) throws(TokenizerError) -> (
        TokenizerModel, [String], String, String?
    ) {
        if try object.bool("byte_fallback", default: false) {
            throw object.unsupported("a Unigram model with byte fallback")
        }
        var pieces: [String] = []
        var scores: [Double] = []
        for (index, entry) in try object.array("vocab").enumerated() {
            guard let pair = entry as? [Any], pair.count == 2, let piece = pair[0] as? String,
                let score = (pair[1] as? NSNumber)?.doubleValue
            else {
                throw object.invalid("vocab[\(index)]", "expected [piece, score]")
            }
            pieces.append(piece)
            scores.append(score)
        }
        guard !pieces.isEmpty else { throw object.invalid("vocab", "it is empty") }
        guard let unk = try object.optionalInt("unk_id") else {
            throw .missingField(path: object.path, field: object.name("unk_id"))
        }
        guard unk >= 0, unk < pieces.count else {
            throw object.invalid("unk_id", "\(unk) is not a vocabulary id")
        }
        let model = UnigramModel(
            pieces: pieces.enumerated().map { (Array($0.element.utf8), Int32($0.offset)) },
            scores: scores, minScore: scores.min() ?? 0, unkID: Int32(unk),
            accumulatesInFloat: false)
        return (.unigram(model), pieces, "Unigram", pieces[unk])
    }

    /// A `{token: id}` vocabulary as an array by id, and the reverse map.
    private static func vocabularyMap(_ object: JSONFields) throws(TokenizerError) -> (
        [String], [String: Int32]
    ) {
        guard let vocab = object.values["vocab"] as? [String: Any] else {
            throw object.has("vocab")
                ? object.invalid("vocab", "expected an object of token: id")
                : .missingField(path: object.path, field: object.name("vocab"))
        }
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(vocab.count)
        var maxID = -1
        for (token, value) in vocab {
            guard let number = value as? NSNumber, let id = Int32(exactly: number.doubleValue),
                id >= 0
            else {
                throw object.invalid("vocab.\(token)", "expected a non-negative integer id")
            }
            ids[token] = id
            maxID = max(maxID, Int(id))
        }
        guard maxID < 10_000_000 else {
            throw object.invalid("vocab", "id \(maxID) is over 10,000,000 (not supported)")
        }
        var tokens = [String](repeating: "", count: maxID + 1)
        for (token, id) in ids { tokens[Int(id)] = token }
        return (tokens, ids)
    }

    private static func bpe(_ object: JSONFields) throws(TokenizerError) -> (
        TokenizerModel, [String], String, String?
    ) {
        if let dropout = try object.optionalDouble("dropout"), dropout > 0 {
            throw object.unsupported("BPE dropout \(dropout) (random segmentation)")
        }
        let (tokens, ids) = try vocabularyMap(object)
        let prefix = try object.optionalString("continuing_subword_prefix") ?? ""
        var merges: [UInt64: UInt64] = [:]
        let list = try object.array("merges")
        merges.reserveCapacity(list.count)
        var rank: UInt64 = 0
        for (index, entry) in list.enumerated() {
            let pair: [String]
            if let line = entry as? String {
                if line.hasPrefix("#version") { continue }
                pair = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else {
                pair = (entry as? [Any])?.compactMap { $0 as? String } ?? []
            }
            guard pair.count == 2 else {
                throw object.invalid("merges[\(index)]", "expected \"a b\" or [\"a\", \"b\"]")
            }
            guard let left = ids[pair[0]], let right = ids[pair[1]] else {
                throw object.invalid(
                    "merges[\(index)]",
                    "'\(ids[pair[0]] == nil ? pair[0] : pair[1])' is not in model.vocab")
            }
            // HF drops the prefix's length from the right part, whatever it starts with.
            let merged = pair[0] + String(decoding: Array(pair[1].utf8).dropFirst(prefix.utf8.count), as: UTF8.self)
            guard let result = ids[merged] else {
                throw object.invalid("merges[\(index)]", "the merged token '\(merged)' is not in model.vocab")
            }
            merges[BPEModel.pairKey(left, right)] = rank << 32 | UInt64(UInt32(bitPattern: result))
            rank += 1
        }
        var unkID: Int32?
        let unkToken = try object.optionalString("unk_token")
        if let unkToken {
            guard let id = ids[unkToken] else {
                throw object.invalid("unk_token", "'\(unkToken)' is not in model.vocab")
            }
            unkID = id
        }
        var byteTokens: [Int32] = []
        if try object.bool("byte_fallback", default: false) {
            byteTokens = (0..<256).map { ids[String(format: "<0x%02X>", $0)] ?? -1 }
        }
        let model = BPEModel(
            trie: PieceTrie(pieces: ids.map { (Array($0.key.utf8), $0.value) }), merges: merges,
            unkID: unkID, fuseUnknown: try object.bool("fuse_unk", default: false),
            byteTokens: byteTokens, continuingSubwordPrefix: Array(prefix.utf8),
            endOfWordSuffix: Array((try object.optionalString("end_of_word_suffix") ?? "").utf8),
            ignoreMerges: try object.bool("ignore_merges", default: false))
        return (.bpe(model), tokens, "BPE", unkToken)
    }

    private static func wordPiece(_ object: JSONFields) throws(TokenizerError) -> (
        TokenizerModel, [String], String, String?
    ) {
        let (tokens, ids) = try vocabularyMap(object)
        let unkToken = try object.optionalString("unk_token") ?? "[UNK]"
        guard let unkID = ids[unkToken] else {
            throw object.invalid("unk_token", "'\(unkToken)' is not in model.vocab")
        }
        let model = WordPieceModel(
            trie: PieceTrie(pieces: ids.map { (Array($0.key.utf8), $0.value) }),
            prefix: Array((try object.optionalString("continuing_subword_prefix") ?? "##").utf8),
            unkID: unkID,
            maxInputCharsPerWord: try object.optionalInt("max_input_chars_per_word") ?? 100)
        return (.wordPiece(model), tokens, "WordPiece", unkToken)
    }

    // MARK: Added tokens

    /// `added_tokens`. An entry without `normalized` is normalised unless special (HF's default).
    ///
    /// Ids are assigned as HF does when it reads the file (its `add_tokens`): a token already in
    /// the model vocabulary (or added before) keeps that id, the others take the next ids after
    /// the model's vocabulary size, in file order. The file's `id` fields are only checked to be
    /// numbers: HF ignores them too (they agree in every file `tokenizers` wrote).
    private static func addedTokens(
        _ root: JSONFields, modelCount: Int, modelIDs: [String: Int32]
    ) throws(TokenizerError) -> [AddedTokens.Token] {
        guard root.has("added_tokens") else { return [] }
        var result: [AddedTokens.Token] = []
        var assigned: [String: Int32] = [:]
        var nextID = Int32(modelCount)
        for entry in try root.objects("added_tokens") {
            guard let fileID = try entry.optionalInt("id"), fileID >= 0 else {
                throw entry.invalid("id", "expected a non-negative integer")
            }
            let content = try entry.string("content")
            if content.isEmpty { continue }
            let id: Int32
            if let existing = assigned[content] ?? modelIDs[content] {
                id = existing
            } else {
                id = nextID
                nextID += 1
            }
            assigned[content] = id
            result.removeAll { $0.id == id }
            let special = try entry.bool("special", default: false)
            result.append(
                AddedTokens.Token(
                    content: Array(content.utf8), id: id,
                    special: special, singleWord: try entry.bool("single_word", default: false),
                    lstrip: try entry.bool("lstrip", default: false),
                    rstrip: try entry.bool("rstrip", default: false),
                    normalized: try entry.bool("normalized", default: !special)))
        }
        return result
    }

    // MARK: Post-processors

    /// The template a post-processor amounts to; `nil` for one that adds nothing (`ByteLevel`).
    static func postProcessor(_ object: JSONFields, idOf: (String) -> Int32?) throws(TokenizerError)
        -> TemplatePostProcessor?
    {
        switch try object.type() {
        case "TemplateProcessing": return try template(object, idOf: idOf)
        case "BertProcessing", "RobertaProcessing":
            let roberta = try object.type() == "RobertaProcessing"
            let cls = try tokenAndID(object, "cls")
            let sep = try tokenAndID(object, "sep")
            let single: [TemplatePostProcessor.Item] = [
                .init(.special([cls])), .init(.sequence(0)), .init(.special([sep])),
            ]
            let pair: [TemplatePostProcessor.Item] =
                roberta
                ? single + [.init(.special([sep])), .init(.sequence(1)), .init(.special([sep]))]
                : single + [.init(.sequence(1), typeID: 1), .init(.special([sep]), typeID: 1)]
            return TemplatePostProcessor(single: single, pair: pair)
        case "ByteLevel": return nil
        case "Sequence":
            var found: TemplatePostProcessor?
            for child in try object.objects("processors") {
                guard let template = try postProcessor(child, idOf: idOf) else { continue }
                if found != nil { throw child.unsupported("a second post-processor adding tokens") }
                found = template
            }
            return found
        case let other: throw object.unsupported("the post-processor '\(other)'")
        }
    }

    /// `["[CLS]", 101]` of Bert/RobertaProcessing.
    private static func tokenAndID(_ object: JSONFields, _ key: String) throws(TokenizerError) -> Int32 {
        let pair = try object.array(key)
        guard pair.count == 2, pair[0] is String,
            let id = (pair[1] as? NSNumber).flatMap({ Int32(exactly: $0.doubleValue) })
        else {
            throw object.invalid(key, "expected [token, id]")
        }
        return id
    }

    /// `TemplateProcessing`: `single` and `pair` lists of `{"Sequence": {"id": "A"|"B",
    /// "type_id": n}}` and `{"SpecialToken": {"id": name, "type_id": n}}`, special tokens
    /// resolved through `special_tokens` (or the vocabulary).
    private static func template(_ object: JSONFields, idOf: (String) -> Int32?) throws(TokenizerError)
        -> TemplatePostProcessor
    {
        let specials = try object.optionalObject("special_tokens")
        func items(_ key: String, sequences: [String]) throws(TokenizerError)
            -> [TemplatePostProcessor.Item]
        {
            var result: [TemplatePostProcessor.Item] = []
            for element in try object.objects(key) {
                result.append(
                    try templateItem(element, sequences: sequences, specials: specials, idOf: idOf))
            }
            let found = result.compactMap { item -> Int? in
                if case .sequence(let index) = item.piece { return index } else { return nil }
            }
            guard found.sorted() == Array(sequences.indices) else {
                throw object.invalid(
                    key,
                    "expected the sequence\(sequences.count > 1 ? "s" : "") \(sequences.map { "$" + $0 }.joined(separator: " and ")) once each")
            }
            return result
        }
        let single = try items("single", sequences: ["A"])
        let pair = object.has("pair") ? try items("pair", sequences: ["A", "B"]) : nil
        // A template without a pair form (not written by `tokenizers`) pairs as single + single.
        return TemplatePostProcessor(
            single: single,
            pair: pair
                ?? single + single.map {
                    $0.piece == .sequence(0) ? .init(.sequence(1), typeID: $0.typeID) : $0
                })
    }

    private static func templateItem(
        _ element: JSONFields, sequences: [String], specials: JSONFields?,
        idOf: (String) -> Int32?
    ) throws(TokenizerError) -> TemplatePostProcessor.Item {
        if let sequence = try element.optionalObject("Sequence") {
            let name = try sequence.optionalString("id") ?? "A"
            guard let index = sequences.firstIndex(of: name) else {
                throw sequence.invalid("id", "unknown sequence '\(name)'")
            }
            return .init(.sequence(index), typeID: Int32(try sequence.optionalInt("type_id") ?? 0))
        }
        guard let token = try element.optionalObject("SpecialToken") else {
            throw .invalidField(
                path: element.path, field: element.field, reason: "expected Sequence or SpecialToken")
        }
        let name = try token.string("id")
        let typeID = Int32(try token.optionalInt("type_id") ?? 0)
        if let entry = try specials?.optionalObject(name) {
            var values: [Int32] = []
            for id in try entry.array("ids") {
                guard let value = (id as? NSNumber).flatMap({ Int32(exactly: $0.doubleValue) }) else {
                    throw entry.invalid("ids", "ids are not numbers")
                }
                values.append(value)
            }
            return .init(.special(values), typeID: typeID)
        }
        guard let id = idOf(name) else {
            throw token.invalid("id", "unknown special token '\(name)'")
        }
        return .init(.special([id]), typeID: typeID)
    }
}
