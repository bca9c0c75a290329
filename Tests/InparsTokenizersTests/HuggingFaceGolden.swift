import Foundation
import InparsTestSupport
import InparsTokenizers
import Testing

/// `Tests/Fixtures/tokenizers/<name>/golden.json`, written by
/// `Scripts/fixtures/make_tokenizers.py` from HF `tokenizers` (and `transformers` for the
/// vocab.txt rows).
struct HuggingFaceGolden: Decodable, Sendable {
    struct Case: Decodable, Sendable {
        var name: String
        var text: String
        var ids: [Int32]
        var plain: [Int32]
        var decoded: String
        var decodedWithSpecial: String
        var transformersIDs: [Int32]?

        enum CodingKeys: String, CodingKey {
            case name, text, ids, plain, decoded
            case decodedWithSpecial = "decoded_with_special", transformersIDs = "transformers_ids"
        }
    }

    struct RandomCase: Decodable, Sendable {
        var text: String
        var ids: [Int32]
        var decoded: String
        var transformersIDs: [Int32]?

        enum CodingKeys: String, CodingKey {
            case text, ids, decoded, transformersIDs = "transformers_ids"
        }
    }

    struct Pair: Decodable, Sendable {
        var a: String
        var b: String
        var ids: [Int32]
        var typeIDs: [Int32]

        enum CodingKeys: String, CodingKey { case a, b, ids, typeIDs = "type_ids" }
    }

    struct Truncation: Decodable, Sendable {
        var a: String
        var b: String
        var maxLength: Int
        var strategy: String
        var ids: [Int32]?
        var typeIDs: [Int32]?
        var error: String?

        enum CodingKeys: String, CodingKey {
            case a, b, strategy, ids, error, maxLength = "max_length", typeIDs = "type_ids"
        }
    }

    struct Decode: Decodable, Sendable {
        var ids: [Int32]
        var decoded: String
        var decodedWithSpecial: String

        enum CodingKeys: String, CodingKey {
            case ids, decoded, decodedWithSpecial = "decoded_with_special"
        }
    }

    struct Stream: Decodable, Sendable {
        var ids: [Int32]
        var skip: Bool
        var steps: [String?]
    }

    struct PairIDs: Decodable, Sendable {
        var ids: [Int32]
        var typeIDs: [Int32]

        enum CodingKeys: String, CodingKey { case ids, typeIDs = "type_ids" }
    }

    /// `tokenizer.json` with top-level keys replaced by `patch`, and HF's ids of every case.
    struct Variant: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var patch: JSONValue
        var ids: [[Int32]]
        var decoded: [String]
        var pairs: [PairIDs]
        var testDescription: String { name }
    }

    /// BERT from `vocab.txt` with these `tokenizer_config.json` settings (transformers' ids).
    struct VocabText: Decodable, Sendable {
        var config: [String: JSONValue]
        var ids: [[Int32]]
        var pairs: [PairIDs]
    }

    struct Specials: Decodable, Sendable {
        var bos: Int32?
        var eos: Int32?
        var pad: Int32?
        var unk: Int32?
    }

    var vocabSize: Int
    var specialTokens: Specials
    var cases: [Case]
    var random: [RandomCase]
    var pairs: [Pair]
    var truncation: [Truncation]
    var decodes: [Decode]
    var streams: [Stream]
    var variants: [Variant]
    var vocabText: [VocabText]?

    enum CodingKeys: String, CodingKey {
        case cases, random, pairs, truncation, decodes, streams, variants
        case vocabSize = "vocab_size", specialTokens = "special_tokens", vocabText = "vocab_txt"
    }

    static let names = ["llama3", "qwen2", "llama2", "bert", "xlmr"]

    static func directory(_ name: String) -> URL {
        TestPaths.fixtures.appendingPathComponent("tokenizers").appendingPathComponent(name)
    }

    /// Each golden table, read once per test process.
    private static let goldens: [String: Result<HuggingFaceGolden, any Error>] = Dictionary(
        uniqueKeysWithValues: names.map { name in
            (name, Result {
                let data = try Data(contentsOf: directory(name).appendingPathComponent("golden.json"))
                return try JSONDecoder().decode(HuggingFaceGolden.self, from: data)
            })
        })

    /// Each fixture folder's tokenizer through the one loading entry point, loaded once.
    private static let tokenizers: [String: Result<any Tokenizer, any Error>] = Dictionary(
        uniqueKeysWithValues: names.map { name in
            (name, Result { try TokenizerLoader.load(directory: directory(name)) })
        })

    static func load(_ name: String) throws -> HuggingFaceGolden { try goldens[name]!.get() }

    static func tokenizer(_ name: String) throws -> any Tokenizer { try tokenizers[name]!.get() }
}

/// Collects mismatches and records at most a few, so one test reports a readable summary.
struct MismatchLog {
    var count = 0
    var total = 0
    let label: String

    init(_ label: String) { self.label = label }

    mutating func check<T: Equatable>(
        _ ours: T, _ expected: T, _ context: @autoclosure () -> String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        total += 1
        guard ours != expected else { return }
        count += 1
        if count <= 5 {
            Issue.record(
                "\(label): \(context())\n  ours:     \(ours)\n  expected: \(expected)",
                sourceLocation: sourceLocation)
        }
    }

    func finish(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(total > 0, "\(label): nothing was compared", sourceLocation: sourceLocation)
        if count > 0 {
            Issue.record("\(label): \(count) of \(total) differ", sourceLocation: sourceLocation)
        }
    }
}
