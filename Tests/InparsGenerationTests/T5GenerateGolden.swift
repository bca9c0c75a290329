import Foundation
import InparsTestSupport

/// `Tests/Fixtures/generation/t5_generate.json`, written by
/// `Scripts/fixtures/make_t5_generate_fixtures.py` (transformers `generate`, greedy).
struct T5GenerateGolden: Decodable {
    struct Case: Decodable {
        var prompt: String
        var input_ids: [Int32]
        var ids: [Int32]
        var log_probs: [Float]
        var text: String
        var doc_id: String?
        var text_field: String?
    }
    struct Model: Decodable {
        var prompts: [Case]
        var cli: [Case]
    }
    struct Truncation: Decodable {
        var text: String
        var max_tokens: Int
        var truncated: String
        var token_count_with_eos: Int
    }
    struct CorpusDocument: Decodable {
        var _id: String
        var title: String
        var text: String
    }
    var max_new_tokens: Int
    var max_doc_tokens: Int
    var template: String
    var corpus: [CorpusDocument]
    var models: [String: Model]
    var truncation: [Truncation]

    static func load() throws -> T5GenerateGolden {
        let url = TestPaths.fixtures.appendingPathComponent("generation/t5_generate.json")
        return try JSONDecoder().decode(T5GenerateGolden.self, from: Data(contentsOf: url))
    }
}
