import Foundation
import InparsModels
import InparsRanker
import InparsTensor
import InparsTestSupport
import Testing

/// `Tests/Fixtures/cross-encoders/<name>/golden.json`, written by
/// `Scripts/fixtures/make_cross_encoders.py` (transformers 5.24, float32, eval mode).
struct CrossEncoderGolden: Decodable {
    struct Pair: Decodable {
        var query: String
        var document: String
    }
    struct Batch: Decodable {
        var max_length: Int
        var input_ids: [[Int32]]
        var token_type_ids: [[Int32]]
        var truncated: [Bool]
        var logits: [[Float]]
        var scores: [Float]
    }
    var pairs: [Pair]
    var num_labels: Int
    var model_limit: Int
    var batches: [Batch]

    static func folder(_ name: String) -> URL {
        TestPaths.fixtures.appendingPathComponent("cross-encoders/\(name)")
    }

    static func load(_ name: String) throws -> CrossEncoderGolden {
        try JSONDecoder().decode(
            CrossEncoderGolden.self,
            from: Data(contentsOf: folder(name).appendingPathComponent("golden.json")))
    }
}

/// BERT (1 and 2 labels, safetensors and `pytorch_model.bin`), ELECTRA and XLM-RoBERTa
/// cross-encoders against transformers: pair ids and token types (document-only truncation),
/// the logits of a padded batch and the scores, max |Δ| ≤ 1e-4.
@Suite struct CrossEncoderTests {
    static let tolerance: Float = 1e-4
    static let fixtures = ["bert-1", "bert-2", "electra-1", "xlmr-1"]

    @Test(arguments: fixtures)
    func pairIdsLogitsAndScoresMatchTransformers(_ name: String) throws {
        let golden = try CrossEncoderGolden.load(name)
        let folder = CrossEncoderGolden.folder(name)
        let model = try BertModel.load(directory: folder)
        #expect(model.configuration.numLabels == golden.num_labels)
        #expect(model.configuration.maxSequenceLength == golden.model_limit)
        for batch in golden.batches {
            let scorer = try CrossEncoderReranker.load(
                directory: folder, options: .init(maxLength: batch.max_length, batchSize: 3))
            #expect(scorer.maxLength == batch.max_length)
            let encoded = golden.pairs.map { scorer.encode(query: $0.query, document: $0.document) }
            #expect(encoded.map(\.input.ids) == batch.input_ids, "\(name) ids at \(batch.max_length)")
            #expect(encoded.map(\.input.typeIDs) == batch.token_type_ids)
            #expect(encoded.map(\.truncated) == batch.truncated)

            // One padded batch, as transformers ran it.
            let logits = model.logits(encoded.map(\.input))
            #expect(logits.shape == [golden.pairs.count, golden.num_labels])
            let result = try #require(
                compare(logits.storage, batch.logits.flatMap { $0 }, atol: Self.tolerance))
            #expect(result.passes, "\(name) logits at \(batch.max_length): \(result.worst)")

            // Through the scorer seam: sorted, batched by 3, back in input order.
            var done = 0
            let scored = scorer.score(
                golden.pairs.map { ScoringPair(query: $0.query, document: $0.document) },
                progress: { done += $0 })
            #expect(done == golden.pairs.count)
            #expect(scored.truncatedDocuments == batch.truncated.filter { $0 }.count)
            let scores = try #require(compare(scored.scores, batch.scores, atol: Self.tolerance))
            #expect(scores.passes, "\(name) scores at \(batch.max_length): \(scores.worst)")
        }
    }

    @Test func theRegistryLoadsACrossEncoderForEachModelType() throws {
        for (name, type) in [
            ("bert-1", "bert"), ("bert-2", "bert"), ("electra-1", "electra"),
            ("xlmr-1", "xlm-roberta"),
        ] {
            let folder = CrossEncoderGolden.folder(name)
            #expect(try ModelRegistry.resolve(directory: folder).family == .bert)
            let scorer = try RelevanceScorers.load(directory: folder)
            let crossEncoder = try #require(scorer as? CrossEncoderReranker)
            #expect(crossEncoder.model.configuration.modelType == type)
            #expect(scorer.name == "cross-encoder")
        }
    }

    /// `--max-length` above the model's position table (ELECTRA fixture: 64) is lowered to it,
    /// and the summary says so; the result is the golden batch at the model's limit.
    @Test func theDefaultLengthIsLoweredToTheModelsPositionLimit() throws {
        let golden = try CrossEncoderGolden.load("electra-1")
        let scorer = try RelevanceScorers.load(directory: CrossEncoderGolden.folder("electra-1"))
        #expect(scorer.maxLength == 64)
        #expect(
            scorer.details
                == "cross-encoder (electra, 1 label: the logit, at most 64 tokens (the model's position limit; 512 asked))"
        )
        let pairs = golden.pairs.map { ScoringPair(query: $0.query, document: $0.document) }
        let scored = try scorer.score(pairs, progress: nil)
        let batch = try #require(golden.batches.last)
        #expect(batch.max_length == 64)
        let result = try #require(compare(scored.scores, batch.scores, atol: Self.tolerance))
        #expect(result.passes, "\(result.worst)")
    }

    @Test func twoLabelHeadsScoreTheLogSoftmaxOfTheSecondLabel() throws {
        let scorer = try CrossEncoderReranker.load(directory: CrossEncoderGolden.folder("bert-2"))
        #expect(
            scorer.details == "cross-encoder (bert, 2 labels: log-softmax of label 1, at most 128 tokens (the model's position limit; 512 asked))")
        let logits = Tensor(shape: [2, 2], storage: [0, 0, 1, -1])
        let scores = scorer.model.relevanceScores(logits)
        #expect(abs(scores[0] - logf(0.5)) < 1e-6)
        #expect(abs(scores[1] - (-1 - logf(expf(1) + expf(-1)))) < 1e-6)
    }

    /// A query too long to leave a document token is cut with the document (longest first)
    /// instead of failing the run, and counted as truncated.
    @Test func aQueryLongerThanTheLimitIsCutLongestFirst() throws {
        let scorer = try CrossEncoderReranker.load(
            directory: CrossEncoderGolden.folder("bert-1"), options: .init(maxLength: 16))
        let query = Array(repeating: "protein", count: 40).joined(separator: " ")
        let (input, truncated) = scorer.encode(query: query, document: "paris is a city")
        #expect(truncated && input.ids.count == 16)
        let sep = try #require(scorer.tokenizer.id(forToken: "[SEP]"))
        #expect(input.ids.filter { $0 == sep }.count == 2)
        #expect(input.typeIDs.last == 1)
    }

    @Test func aMaximumLengthWithoutRoomForThePairIsRefused() throws {
        #expect(throws: RankerError.self) {
            try CrossEncoderReranker.load(
                directory: CrossEncoderGolden.folder("xlmr-1"), options: .init(maxLength: 5))
        }
    }

    @Test func aCrossEncoderCannotGenerate() throws {
        let error = ModelError.unsupportedTask(
            directory: "x", family: .bert, task: "generate text", instead: "use T5")
        #expect(error.localizedDescription.contains("cannot generate text"))
    }
}

/// Checkpoint variants a user meets: TensorFlow-era LayerNorm names, a mismatched tokenizer.
@Suite struct CrossEncoderCheckpointTests {
    @Test func legacyLayerNormNamesLoadAsTransformersLoadsThem() throws {
        let source = CrossEncoderGolden.folder("bert-1")
        let folder = try TestPaths.temporaryDirectory("cross-encoder-gamma")
        defer { try? FileManager.default.removeItem(at: folder) }
        var tensors = try CheckpointReader(directory: source).allTensors()
        for name in Array(tensors.keys) where name.contains("LayerNorm.") {
            let legacy = name.replacingOccurrences(of: "LayerNorm.weight", with: "LayerNorm.gamma")
                .replacingOccurrences(of: "LayerNorm.bias", with: "LayerNorm.beta")
            tensors[legacy] = tensors.removeValue(forKey: name)
        }
        #expect(tensors.keys.contains("bert.embeddings.LayerNorm.gamma"))
        try SafetensorsWriter.write(tensors, to: folder.appendingPathComponent("model.safetensors"))
        for name in ["config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let golden = try CrossEncoderGolden.load("bert-1")
        let pairs = golden.pairs.map { ScoringPair(query: $0.query, document: $0.document) }
        let scores = try RelevanceScorers.load(directory: folder).score(pairs, progress: nil)
        let expected = try #require(golden.batches.last).scores
        let result = try #require(compare(scores.scores, expected, atol: CrossEncoderTests.tolerance))
        #expect(result.passes, "\(result.worst)")
    }

    @Test func aTokenizerOfAnotherModelIsRefused() throws {
        let folder = try TestPaths.temporaryDirectory("cross-encoder-tokenizer")
        defer { try? FileManager.default.removeItem(at: folder) }
        let bert = CrossEncoderGolden.folder("bert-1")
        let xlmr = CrossEncoderGolden.folder("xlmr-1")
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(
                at: bert.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(
                at: xlmr.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        do {
            _ = try RelevanceScorers.load(directory: folder)
            Issue.record("a 1002-token tokenizer was accepted for a 1000-token model")
        } catch let error as RankerError {
            #expect(error.localizedDescription.contains("another model"), "\(error.localizedDescription)")
        }
    }
}
