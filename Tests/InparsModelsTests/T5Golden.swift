import Foundation
import InparsModels
import InparsTensor
import InparsTestSupport

/// `Tests/Fixtures/<model>/golden.json`, written by `Scripts/fixtures/make_t5_fixtures.py`.
struct T5Golden: Decodable {
    struct Encoder: Decodable {
        var input_ids: [[Int32]]
        var lengths: [Int]
        var shape: [Int]
        var last_hidden_state: [Float]
    }
    struct Decoder: Decodable {
        var input_ids: [[Int32]]
        var lengths: [Int]
        var decoder_input_ids: [[Int32]]
        var decoder_lengths: [Int]
        var shape: [Int]
        var logits: [Float]
    }
    struct Greedy: Decodable {
        var input_ids: [[Int32]]
        var lengths: [Int]
        var max_new_tokens: Int
        var ids: [[Int32]]
        var log_probs: [[Float]]
    }
    var encoder: Encoder
    var decoder: Decoder
    var greedy: Greedy

    static func load(_ model: String) throws -> T5Golden {
        let url = TestPaths.fixtures.appendingPathComponent("\(model)/golden.json")
        return try JSONDecoder().decode(T5Golden.self, from: Data(contentsOf: url))
    }
}

/// Unpads rows: `ids[b][..<lengths[b]]`.
func unpadded(_ ids: [[Int32]], _ lengths: [Int]) -> [[Int32]] {
    zip(ids, lengths).map { Array($0.prefix($1)) }
}

/// Loads a fixture model folder through the checkpoint reader.
func loadFixtureModel(_ name: String) throws -> T5Model {
    try T5Model.load(directory: TestPaths.fixtures.appendingPathComponent(name))
}
