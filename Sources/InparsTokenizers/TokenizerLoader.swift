import Foundation

/// Loads the tokenizer of a Hugging Face model folder, whatever its kind: the one entry point
/// model families use.
///
/// | folder holds | tokenizer |
/// | --- | --- |
/// | `tokenizer.json` | ``HuggingFaceTokenizer`` with the file's model (`BPE`, `WordPiece`, `Unigram`) |
/// | `vocab.txt` (no `tokenizer.json`) | WordPiece as `transformers`' `BertTokenizer` builds it from `tokenizer_config.json`'s `do_lower_case`, `strip_accents`, `tokenize_chinese_chars` |
/// | `spiece.model` only | ``SentencePieceTokenizer`` in HF mode (T5) |
///
/// `tokenizer_config.json`, when present, names the special tokens (`bos_token`, `eos_token`,
/// `pad_token`, `unk_token`) as `transformers` reads them (BERT's has no BOS or EOS); without
/// it they are taken from the post-processor (the token before `$A` is BOS, the one after it
/// EOS) and the model's unknown token.
public enum TokenizerLoader {
    public static func load(directory: URL) throws -> any Tokenizer {
        let json = directory.appendingPathComponent("tokenizer.json")
        let config = directory.appendingPathComponent("tokenizer_config.json")
        let configURL = FileManager.default.fileExists(atPath: config.path) ? config : nil
        if FileManager.default.fileExists(atPath: json.path) {
            return try load(tokenizerJSON: json, config: configURL)
        }
        let vocab = directory.appendingPathComponent("vocab.txt")
        if FileManager.default.fileExists(atPath: vocab.path) {
            return try loadWordPiece(vocabulary: vocab, config: configURL)
        }
        let spiece = directory.appendingPathComponent("spiece.model")
        if FileManager.default.fileExists(atPath: spiece.path) {
            return try SentencePieceTokenizer(modelFile: spiece, compatibility: .huggingFace)
        }
        for name in ["tokenizer.model", "sentencepiece.bpe.model", "vocab.json", "merges.txt"]
        where FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path) {
            throw TokenizerError.unsupported(
                path: directory.appendingPathComponent(name).path,
                feature:
                    "a tokenizer file without tokenizer.json (save the tokenizer with transformers' save_pretrained to write tokenizer.json)"
            )
        }
        throw TokenizerError.noTokenizerFiles(directory: directory.path)
    }

    /// A `tokenizer.json`, with the special tokens of `config` (`tokenizer_config.json`).
    public static func load(tokenizerJSON: URL, config: URL? = nil) throws -> HuggingFaceTokenizer {
        var parts = try TokenizerJSON.parts(
            try SentencePieceTokenizer.readFile(tokenizerJSON), path: tokenizerJSON.path)
        if let config {
            // The file names them; those it leaves out have none (BERT: no BOS or EOS).
            let settings = try TokenizerConfig(file: config)
            parts.specialTokens = try settings.specialTokens(
                default: SpecialTokens(), ids: Self.ids(parts))
        }
        return HuggingFaceTokenizer(parts)
    }

    /// A BERT `vocab.txt` (one token per line, the line number its id), built as
    /// `transformers`' `BertTokenizer` builds it: `BertNormalizer` (clean text, CJK split,
    /// accents and case per `config`), `BertPreTokenizer`, WordPiece with `##` and `[UNK]`
    /// (words over 100 characters are unknown), `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1`.
    /// Special tokens: `[PAD]` and `[UNK]` (or the config's names); like `transformers`, no BOS/EOS.
    public static func loadWordPiece(vocabulary: URL, config: URL? = nil) throws -> HuggingFaceTokenizer {
        let path = vocabulary.path
        let text = String(decoding: try SentencePieceTokenizer.readFile(vocabulary), as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else {
            throw TokenizerError.invalidField(path: path, field: "(lines)", reason: "the file is empty")
        }
        var ids: [String: Int32] = [:]
        for (id, token) in lines.enumerated() { ids[token] = Int32(id) }  // the last line wins
        let settings = try config.map { try TokenizerConfig(file: $0) } ?? TokenizerConfig()
        func id(_ key: String, _ fallback: String) throws -> Int32 {
            let token = settings.tokenName(key) ?? fallback
            guard let id = ids[token] else {
                throw TokenizerError.invalidField(
                    path: path, field: "(tokens)",
                    reason: "the \(key) '\(token)' is not in the vocabulary")
            }
            return id
        }
        let unk = try id("unk_token", "[UNK]")
        let cls = try id("cls_token", "[CLS]")
        let sep = try id("sep_token", "[SEP]")
        let pad = try id("pad_token", "[PAD]")
        var added = try settings.addedTokens()
        if added.isEmpty {
            added = [
                ("pad_token", "[PAD]"), ("unk_token", "[UNK]"), ("cls_token", "[CLS]"),
                ("sep_token", "[SEP]"), ("mask_token", "[MASK]"),
            ].compactMap { key, fallback in
                let name = settings.tokenName(key) ?? fallback
                return ids[name].map { AddedTokens.Token(content: Array(name.utf8), id: $0, special: true) }
            }.sorted { $0.id < $1.id }
        }
        let lowercase = settings.bool("do_lower_case") ?? true
        let model = WordPieceModel(
            trie: PieceTrie(pieces: ids.map { (Array($0.key.utf8), $0.value) }),
            prefix: Array("##".utf8), unkID: unk, maxInputCharsPerWord: 100)
        let parts = HuggingFaceTokenizer.Parts(
            modelType: "WordPiece",
            normalizer: Normalizer(steps: [
                .bert(
                    .init(
                        cleanText: true,
                        handleChineseChars: settings.bool("tokenize_chinese_chars") ?? true,
                        stripAccents: settings.bool("strip_accents") ?? lowercase,
                        lowercase: lowercase))
            ]),
            preTokenizer: PreTokenizer(steps: [.bert]), addedTokens: added,
            model: .wordPiece(model), vocabulary: lines,
            decoder: TokenDecoder(steps: [.wordPiece(prefix: "##", cleanup: true)]),
            postProcessor: TemplatePostProcessor(
                single: [.init(.special([cls])), .init(.sequence(0)), .init(.special([sep]))],
                pair: [
                    .init(.special([cls])), .init(.sequence(0)), .init(.special([sep])),
                    .init(.sequence(1), typeID: 1), .init(.special([sep]), typeID: 1),
                ]),
            specialTokens: SpecialTokens(pad: pad, unk: unk))
        return HuggingFaceTokenizer(parts)
    }

    private static func ids(_ parts: HuggingFaceTokenizer.Parts) -> (String) -> Int32? {
        var ids: [String: Int32] = [:]
        for (id, token) in parts.vocabulary.enumerated() where !token.isEmpty && ids[token] == nil {
            ids[token] = Int32(id)
        }
        for token in parts.addedTokens { ids[String(decoding: token.content, as: UTF8.self)] = token.id }
        return { ids[$0] }
    }
}

/// The settings of a `tokenizer_config.json` that tokenisation depends on.
public struct TokenizerConfig: Sendable {
    private var values: [String: JSONScalar] = [:]
    private var tokenNames: [String: String] = [:]
    private var added: [AddedTokens.Token] = []
    private var path = ""

    private enum JSONScalar: Sendable {
        case bool(Bool), number(Double), string(String)
    }

    /// The longest input the tokenizer's model takes (`model_max_length`), when the file gives
    /// a real one (`transformers` writes 1e30 for "none").
    public var modelMaxLength: Int? {
        guard case .number(let value) = values["model_max_length"], value >= 1, value < 1e9 else {
            return nil
        }
        return Int(value)
    }

    init() {}

    public init(file: URL) throws {
        path = file.path
        let root = try JSONFields.parse(try SentencePieceTokenizer.readFile(file), path: path)
        for (key, value) in root.values {
            if let flag = value as? NSNumber, JSONFields.isBoolean(flag) {
                values[key] = .bool(flag.boolValue)
            } else if let number = value as? NSNumber {
                values[key] = .number(number.doubleValue)
            } else if let text = value as? String {
                values[key] = .string(text)
            }
            // "bos_token": "<s>" or {"content": "<s>", ...}
            if key.hasSuffix("_token") {
                if let text = value as? String {
                    tokenNames[key] = text
                } else if let object = value as? [String: Any], let content = object["content"] as? String {
                    tokenNames[key] = content
                }
            }
        }
        if let decoder = try root.optionalObject("added_tokens_decoder") {
            for (key, value) in decoder.values {
                guard let id = Int32(key), id >= 0, let entry = value as? [String: Any] else {
                    throw decoder.invalid(key, "expected an id and an object")
                }
                let fields = JSONFields(entry, path: path, field: decoder.name(key))
                let special = try fields.bool("special", default: false)
                added.append(
                    AddedTokens.Token(
                        content: Array(try fields.string("content").utf8), id: id, special: special,
                        singleWord: try fields.bool("single_word", default: false),
                        lstrip: try fields.bool("lstrip", default: false),
                        rstrip: try fields.bool("rstrip", default: false),
                        normalized: try fields.bool("normalized", default: !special)))
            }
            added.sort { $0.id < $1.id }
        }
    }

    func bool(_ key: String) -> Bool? {
        if case .bool(let value) = values[key] { return value }
        return nil
    }

    func tokenName(_ key: String) -> String? { tokenNames[key] }

    func addedTokens() throws -> [AddedTokens.Token] { added }

    /// BOS, EOS, PAD and UNK as this file names them, else `fallback`'s.
    func specialTokens(default fallback: SpecialTokens, ids: (String) -> Int32?) throws -> SpecialTokens {
        func resolve(_ key: String, _ fallback: Int32?) throws -> Int32? {
            guard let name = tokenNames[key] else { return fallback }
            guard let id = ids(name) else {
                throw TokenizerError.invalidField(
                    path: path, field: key, reason: "'\(name)' is not a token of tokenizer.json")
            }
            return id
        }
        return SpecialTokens(
            bos: try resolve("bos_token", fallback.bos), eos: try resolve("eos_token", fallback.eos),
            pad: try resolve("pad_token", fallback.pad), unk: try resolve("unk_token", fallback.unk))
    }
}
