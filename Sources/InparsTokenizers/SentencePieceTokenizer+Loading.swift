import Foundation
import InparsCore

extension SentencePieceTokenizer {
    /// Loads a SentencePiece `spiece.model` (protobuf `ModelProto`).
    ///
    /// - Parameters:
    ///   - modelFile: the `.model` file.
    ///   - compatibility: `.sentencePiece` (default) encodes exactly as the `sentencepiece`
    ///     library; `.huggingFace` as `transformers` does after converting this file
    ///     (`T5Tokenizer` → tokenizers backend), which is what `load(directory:)` uses.
    ///   - extraIDs: sentinels `<extra_id_N>` appended after the pieces, as HF's T5 tokenizer
    ///     does (T5: 100; `<extra_id_0>` gets the last id).
    /// - Throws: `TokenizerError` naming the file: missing, truncated or malformed protobuf,
    ///   not a Unigram model, byte fallback, or unusable special-token ids.
    public convenience init(
        modelFile: URL, compatibility: Compatibility = .sentencePiece, extraIDs: Int = 100
    ) throws {
        let path = modelFile.path
        let bytes = try Self.readFile(modelFile)
        let proto = try SentencePieceModelProto.parse(bytes, path: path)
        let components = try Self.components(proto, path: path, extraIDs: extraIDs)
        switch compatibility {
        case .sentencePiece:
            self.init(components: components)
        case .huggingFace:
            self.init(
                huggingFace: HuggingFaceTokenizer(try Self.huggingFaceParts(components, proto, path: path)),
                eosID: components.eosID, padID: components.padID, unkID: components.unkID)
        }
    }

    /// Loads an HF `tokenizer.json` whose model is `Unigram` (T5, FLAN-T5, mT5), encoding
    /// exactly as HF `tokenizers` does.
    ///
    /// - Throws: `TokenizerError` naming the file and the field: missing file, invalid JSON,
    ///   a model other than Unigram, or a normaliser / pre-tokeniser / decoder this tokenizer
    ///   does not implement.
    public convenience init(tokenizerJSON: URL) throws {
        let path = tokenizerJSON.path
        let parts = try TokenizerJSON.parts(try Self.readFile(tokenizerJSON), path: path)
        guard parts.modelType == "Unigram" else {
            throw TokenizerError.unsupported(
                path: path,
                feature: "a \(parts.modelType) model where a T5 (SentencePiece Unigram) tokenizer is expected")
        }
        let tokenizer = HuggingFaceTokenizer(parts)
        guard let eos = tokenizer.id(forToken: "</s>") ?? parts.postProcessor.trailingSpecial else {
            throw TokenizerError.missingField(path: path, field: "added_tokens (</s>)")
        }
        guard let pad = tokenizer.id(forToken: "<pad>") else {
            throw TokenizerError.missingField(path: path, field: "added_tokens (<pad>)")
        }
        guard let unk = parts.specialTokens.unk else {
            throw TokenizerError.missingField(path: path, field: "model.unk_id")
        }
        self.init(huggingFace: tokenizer, eosID: eos, padID: pad, unkID: unk)
    }

    /// Loads the tokenizer of a Hugging Face model folder.
    ///
    /// Prefers `tokenizer.json` (what `transformers` runs); otherwise converts `spiece.model`
    /// the way `transformers` does (``Compatibility/huggingFace``, 100 sentinels). Either way
    /// the ids are those monoT5 and T5 checkpoints were used with in `transformers`.
    public static func load(directory: URL) throws -> SentencePieceTokenizer {
        let json = directory.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json.path) {
            return try SentencePieceTokenizer(tokenizerJSON: json)
        }
        let model = directory.appendingPathComponent("spiece.model")
        if FileManager.default.fileExists(atPath: model.path) {
            return try SentencePieceTokenizer(modelFile: model, compatibility: .huggingFace)
        }
        throw TokenizerError.noTokenizerFiles(directory: directory.path)
    }

    static func readFile(_ url: URL) throws(TokenizerError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw .fileNotFound(path: url.path)
        }
        do {
            return Array(try Data(contentsOf: url))
        } catch {
            throw .unreadableFile(path: url.path, reason: plainDescription(of: error))
        }
    }

    /// The model type, flags and special ids this tokenizer supports.
    private static func validate(
        _ proto: SentencePieceModelProto, path: String, extraIDs: Int
    ) throws(TokenizerError) {
        guard !proto.pieces.isEmpty else {
            throw .missingField(path: path, field: "pieces")
        }
        guard proto.modelType == 1 else {
            let names = [2: "a BPE model", 3: "a word model", 4: "a character model"]
            throw .unsupported(
                path: path, feature: names[proto.modelType] ?? "model type \(proto.modelType)")
        }
        guard !proto.byteFallback else { throw .unsupported(path: path, feature: "byte fallback") }
        guard !proto.treatWhitespaceAsSuffix else {
            throw .unsupported(path: path, feature: "treat_whitespace_as_suffix")
        }
        guard extraIDs >= 0 else {
            throw .invalidField(path: path, field: "extraIDs", reason: "\(extraIDs) is negative")
        }
        let count = proto.pieces.count
        func checkID(_ id: Int32, _ field: String, _ type: SentencePieceModelProto.PieceType)
            throws(TokenizerError)
        {
            guard id >= 0, Int(id) < count else {
                throw .invalidField(
                    path: path, field: "trainer_spec.\(field)",
                    reason: "\(id) is not a piece id (the model has \(count) pieces)")
            }
            guard proto.pieces[Int(id)].type == type else {
                throw .invalidField(
                    path: path, field: "trainer_spec.\(field)",
                    reason:
                        "piece \(id) ('\(proto.pieces[Int(id)].piece)') has type \(proto.pieces[Int(id)].type), expected \(type)"
                )
            }
        }
        try checkID(proto.unkID, "unk_id", .unknown)
        try checkID(proto.eosID, "eos_id", .control)
        try checkID(proto.padID, "pad_id", .control)

    }

    static func components(
        _ proto: SentencePieceModelProto, path: String, extraIDs: Int
    ) throws(TokenizerError) -> TokenizerComponents {
        try validate(proto, path: path, extraIDs: extraIDs)
        let charsmap =
            proto.normalizer.precompiledCharsmap.isEmpty
            ? nil : try PrecompiledCharsmap(blob: proto.normalizer.precompiledCharsmap, path: path)
        var pieces = proto.pieces.map(\.piece)
        var scores = proto.pieces.map { Double($0.score) }
        var kinds: [TokenizerComponents.PieceKind] = proto.pieces.map {
            switch $0.type {
            case .normal: .normal
            case .unknown: .unknown
            case .control: .control
            case .userDefined: .userDefined
            case .unused: .unused
            case .byte: .byte
            }
        }
        for n in stride(from: extraIDs - 1, through: 0, by: -1) {
            pieces.append("<extra_id_\(n)>")
            scores.append(0)
            kinds.append(.added)
        }
        return TokenizerComponents(
            pieces: pieces, scores: scores, kinds: kinds, unkID: proto.unkID, eosID: proto.eosID,
            padID: proto.padID,
            normalizer: SentencePieceNormalizer(
                charsmap: charsmap, addDummyPrefix: proto.normalizer.addDummyPrefix,
                removeExtraWhitespaces: proto.normalizer.removeExtraWhitespaces,
                escapeWhitespaces: proto.normalizer.escapeWhitespaces),
            unkSurface: proto.unkSurface)
    }

    /// What `transformers`' `T5Tokenizer` builds from a `spiece.model`: every piece (sentinels
    /// too) in the Unigram vocabulary; `<pad>`, `</s>`, `<unk>` and the sentinels special added
    /// tokens; the charsmap, `WhitespaceSplit` + `Metaspace`; `$A </s>`.
    static func huggingFaceParts(
        _ components: TokenizerComponents, _ proto: SentencePieceModelProto, path: String
    ) throws(TokenizerError) -> HuggingFaceTokenizer.Parts {
        let c = components
        var normalizer: Normalizer?
        if !proto.normalizer.precompiledCharsmap.isEmpty {
            normalizer = Normalizer(steps: [
                .precompiled(try PrecompiledCharsmap(blob: proto.normalizer.precompiledCharsmap, path: path))
            ])
        }
        let metaspace = PreTokenizer.Metaspace(
            replacement: UTF8Scanning.metaspace, prependScheme: .always, split: true)
        var specialIDs = [c.padID, c.eosID, c.unkID]
        specialIDs += (proto.pieces.count..<c.pieces.count).map { Int32($0) }
        let model = UnigramModel(
            pieces: c.pieces.enumerated().map { (Array($0.element.utf8), Int32($0.offset)) },
            scores: c.scores, minScore: c.scores.min() ?? 0, unkID: c.unkID,
            accumulatesInFloat: false)
        return HuggingFaceTokenizer.Parts(
            modelType: "Unigram", normalizer: normalizer,
            preTokenizer: PreTokenizer(steps: [.whitespaceSplit, .metaspace(metaspace)]),
            addedTokens: specialIDs.map {
                AddedTokens.Token(content: Array(c.pieces[Int($0)].utf8), id: $0, special: true)
            },
            model: .unigram(model), vocabulary: c.pieces,
            decoder: TokenDecoder(steps: [.metaspace(metaspace)]),
            postProcessor: .appending([c.eosID]),
            specialTokens: SpecialTokens(eos: c.eosID, pad: c.padID, unk: c.unkID))
    }
}
