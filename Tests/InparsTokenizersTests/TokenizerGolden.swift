import Foundation
import InparsTestSupport
import InparsTokenizers
import Testing

/// `Tests/Fixtures/t5-tokenizer/golden.json`, written by `Scripts/fixtures/make_tokenizer.py`
/// from the `sentencepiece` and HF `tokenizers` libraries.
struct TokenizerGolden: Decodable, Sendable {
    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var spmIDs: [Int32]
        var hfIDs: [Int32]
        var agree: Bool
        var spmPieces: [String]
        var spmNormalized: String
        var spmDecoded: String
        var hfDecoded: String
        var hfDecodedWithSpecial: String

        var testDescription: String { name }

        enum CodingKeys: String, CodingKey {
            case name, text, agree
            case spmIDs = "spm_ids", hfIDs = "hf_ids", spmPieces = "spm_pieces"
            case spmNormalized = "spm_normalized", spmDecoded = "spm_decoded", hfDecoded =
                "hf_decoded"
            case hfDecodedWithSpecial = "hf_decoded_with_special"
        }
    }

    struct DecodeCase: Decodable, Sendable {
        var ids: [Int32]
        var spmDecoded: String?
        var hfDecoded: String
        var hfDecodedWithSpecial: String

        enum CodingKeys: String, CodingKey {
            case ids, spmDecoded = "spm_decoded", hfDecoded = "hf_decoded"
            case hfDecodedWithSpecial = "hf_decoded_with_special"
        }
    }

    /// Random mixtures of tricky characters (seeded), with both libraries' ids and decodes.
    struct RandomCase: Decodable, Sendable {
        var text: String
        var spmIDs: [Int32]
        var hfIDs: [Int32]
        var spmDecoded: String
        var hfDecoded: String

        enum CodingKeys: String, CodingKey {
            case text, spmIDs = "spm_ids", hfIDs = "hf_ids", spmDecoded = "spm_decoded"
            case hfDecoded = "hf_decoded"
        }
    }

    /// `tokenizer.json` with some top-level keys replaced by `patch` (the charsmap written as
    /// "@tokenizer.json"), and HF tokenizers' ids and decodes of every golden text through it.
    struct JSONVariant: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var patch: JSONValue
        var ids: [[Int32]]
        var decoded: [String]
        var testDescription: String { name }
    }

    /// `spiece.model` with an identity normaliser and other whitespace flags, with
    /// sentencepiece's ids and decodes of every golden text.
    struct ModelVariant: Decodable, Sendable, CustomTestStringConvertible {
        var file: String
        var ids: [[Int32]]
        var decoded: [String]
        var testDescription: String { file }
    }

    var eosID: Int32
    var padID: Int32
    var unkID: Int32
    var spmVocabSize: Int
    var hfVocabSize: Int
    var cases: [Case]
    var decodeCases: [DecodeCase]
    var randomCases: [RandomCase]
    var jsonVariants: [JSONVariant]
    var modelVariants: [ModelVariant]

    enum CodingKeys: String, CodingKey {
        case cases, eosID = "eos_id", padID = "pad_id", unkID = "unk_id"
        case spmVocabSize = "spm_vocab_size", hfVocabSize = "hf_vocab_size"
        case decodeCases = "decode_cases", randomCases = "random_cases"
        case jsonVariants = "json_variants", modelVariants = "model_variants"
    }

    static let directory = TestPaths.fixtures.appendingPathComponent("t5-tokenizer")
    static let modelFile = directory.appendingPathComponent("spiece.model")
    static let jsonFile = directory.appendingPathComponent("tokenizer.json")

    /// Loaded once; a missing or unreadable fixture fails every test that uses it.
    static let shared: TokenizerGolden = {
        do {
            let data = try Data(contentsOf: directory.appendingPathComponent("golden.json"))
            return try JSONDecoder().decode(TokenizerGolden.self, from: data)
        } catch {
            preconditionFailure("cannot read golden.json: \(error)")
        }
    }()
}

/// The fixture tokenizers, loaded once per test process.
enum FixtureTokenizers {
    static let sentencePiece = Result {
        try SentencePieceTokenizer(modelFile: TokenizerGolden.modelFile)
    }
    static let json = Result { try SentencePieceTokenizer(tokenizerJSON: TokenizerGolden.jsonFile) }
    static let modelAsHuggingFace = Result {
        try SentencePieceTokenizer(
            modelFile: TokenizerGolden.modelFile, compatibility: .huggingFace)
    }
    static let directory = Result {
        try SentencePieceTokenizer.load(directory: TokenizerGolden.directory)
    }
}

/// An arbitrary JSON value (for the variant patches), convertible to Foundation objects.
enum JSONValue: Decodable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object(
        [String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The Foundation object, with every string `placeholder` replaced by `replacement`.
    func foundationObject(replacing placeholder: String, with replacement: String) -> Any {
        switch self {
        case .null: NSNull()
        case .bool(let value): value
        case .number(let value): value
        case .string(let value): value == placeholder ? replacement : value
        case .array(let values):
            values.map { $0.foundationObject(replacing: placeholder, with: replacement) }
        case .object(let values):
            values.mapValues { $0.foundationObject(replacing: placeholder, with: replacement) }
        }
    }
}
