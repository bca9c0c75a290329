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
        self.init(
            components: try Self.components(
                proto, path: path, compatibility: compatibility, extraIDs: extraIDs))
    }

    /// Loads an HF `tokenizer.json` whose model is `Unigram` (T5, FLAN-T5, mT5), encoding
    /// exactly as HF `tokenizers` does.
    ///
    /// - Throws: `TokenizerError` naming the file and the field: missing file, invalid JSON,
    ///   a model other than Unigram, or a normaliser / pre-tokeniser / decoder this tokenizer
    ///   does not implement.
    public convenience init(tokenizerJSON: URL) throws {
        let bytes = try Self.readFile(tokenizerJSON)
        self.init(components: try TokenizerJSON.components(bytes, path: tokenizerJSON.path))
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

    static func components(
        _ proto: SentencePieceModelProto, path: String, compatibility: Compatibility, extraIDs: Int
    ) throws(TokenizerError) -> TokenizerComponents {
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
        var components = TokenizerComponents(
            compatibility: compatibility, pieces: pieces, scores: scores, kinds: kinds,
            searchable: [], minScore: 0, unkID: proto.unkID, eosID: proto.eosID, padID: proto.padID,
            special: [], unkSurface: proto.unkSurface)

        switch compatibility {
        case .sentencePiece:
            // sentencepiece matches normal and user-defined pieces; its minimum score is over
            // normal pieces only.
            components.searchable = kinds.map { $0 == .normal || $0 == .userDefined }
            components.minScore = zip(kinds, scores).filter { $0.0 == .normal }.map(\.1).min() ?? 0
            components.special = kinds.map { $0 == .control || $0 == .added }
            components.normalizer = SentencePieceNormalizer(
                charsmap: charsmap, addDummyPrefix: proto.normalizer.addDummyPrefix,
                removeExtraWhitespaces: proto.normalizer.removeExtraWhitespaces,
                escapeWhitespaces: proto.normalizer.escapeWhitespaces)
        case .huggingFace:
            // transformers' T5Tokenizer: every piece (sentinels too) is in the Unigram vocabulary;
            // pad, eos, unk and the sentinels are special added tokens.
            components.searchable = Array(repeating: true, count: pieces.count)
            components.minScore = scores.min() ?? 0
            var pipeline = HuggingFacePipeline()
            if let charsmap { pipeline.steps = [.precompiled(charsmap)] }
            pipeline.whitespaceSplit = true
            let metaspace = HuggingFacePipeline.Metaspace(
                replacement: UTF8Scanning.metaspace, prependScheme: .always, split: true)
            pipeline.metaspace = metaspace
            pipeline.decoder = metaspace
            var specialIDs = [proto.padID, proto.eosID, proto.unkID]
            specialIDs += (count..<pieces.count).map { Int32($0) }
            pipeline.setAddedTokens(
                specialIDs.map {
                    .init(content: Array(pieces[Int($0)].utf8), id: $0, special: true)
                })
            pipeline.suffix = [proto.eosID]
            components.special = Array(repeating: false, count: pieces.count)
            for id in specialIDs { components.special[Int(id)] = true }
            components.pipeline = pipeline
        }
        return components
    }
}
