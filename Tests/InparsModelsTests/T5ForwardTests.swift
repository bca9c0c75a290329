import Foundation
import InparsModels
import InparsTensor
import InparsTestSupport
import Testing

/// Golden tests against Hugging Face transformers 5.24 on the tiny random fixtures
/// (`t5-tiny`: v1.0, ReLU, tied + rescaled head; `t5-tiny-v11`: gated-GELU, untied head,
/// 2 encoder / 3 decoder blocks). Tolerance: max |Δ| ≤ 1e-4.
@Suite struct T5ForwardTests {
    static let models = ["t5-tiny", "t5-tiny-v11"]
    static let tolerance: Float = 1e-4

    @Test(arguments: models)
    func encoderHiddenStatesMatchTransformersForAPaddedBatch(_ name: String) throws {
        let golden = try T5Golden.load(name).encoder
        let model = try loadFixtureModel(name)
        let output = model.encode(unpadded(golden.input_ids, golden.lengths))
        #expect(output.hidden.shape == golden.shape)
        let result = try #require(
            compare(output.hidden.storage, golden.last_hidden_state, atol: Self.tolerance))
        #expect(result.passes, "\(name) encoder: \(result.worst)")
    }

    /// Both cross-attention forms: projected keys/values, and projections absorbed into q/o.
    @Test(arguments: models, [true, false])
    func decoderLogitsMatchTransformersForAPaddedBatch(_ name: String, projectMemory: Bool) throws {
        let golden = try T5Golden.load(name).decoder
        let model = try loadFixtureModel(name)
        let encoded = model.encode(unpadded(golden.input_ids, golden.lengths))
        let logits = model.decoderLogits(
            decoderInputs: unpadded(golden.decoder_input_ids, golden.decoder_lengths),
            encoderOutput: encoded, projectMemory: projectMemory)
        #expect(logits.shape == golden.shape)
        let result = try #require(compare(logits.storage, golden.logits, atol: Self.tolerance))
        #expect(
            result.passes,
            "\(name) decoder logits (projectMemory \(projectMemory)): \(result.worst)")
    }

    @Test(arguments: models)
    func greedyDecodingWithTheKVCacheMatchesTransformersGenerate(_ name: String) throws {
        let golden = try T5Golden.load(name).greedy
        let model = try loadFixtureModel(name)
        let output = model.greedyDecode(
            unpadded(golden.input_ids, golden.lengths), maxNewTokens: golden.max_new_tokens)
        #expect(output.ids == golden.ids)
        let result = try #require(
            compare(
                output.logProbs.flatMap { $0 }, golden.log_probs.flatMap { $0 },
                atol: Self.tolerance))
        #expect(result.passes, "\(name) greedy log-probs: \(result.worst)")
    }

    @Test(arguments: models)
    func cachedStepByStepDecoderEqualsTheFullDecoder(_ name: String) throws {
        let golden = try T5Golden.load(name).greedy
        let model = try loadFixtureModel(name)
        let encoded = model.encode(unpadded(golden.input_ids, golden.lengths))
        // Teacher-force the golden continuation: start token + generated ids.
        let inputs = golden.ids.map { [Int32(model.configuration.decoderStartTokenID)] + $0 }
        let full = model.decoderLogits(decoderInputs: inputs, encoderOutput: encoded)
        var cache = model.makeDecoderCache(encoderOutput: encoded, capacity: 2)  // forces growth
        var stepwise = [[Float]](repeating: [], count: inputs.count)
        for position in 0..<inputs[0].count {
            let hidden = model.decoderStep(inputs.map { $0[position] }, cache: &cache)
            let logits = model.logits(hidden)
            let vocab = logits.lastDimension
            for b in 0..<inputs.count {
                stepwise[b].append(contentsOf: logits.storage[(b * vocab)..<((b + 1) * vocab)])
            }
        }
        #expect(cache.length == inputs[0].count)
        // 1e-4, not tighter: another suite may change BLAS.threads meanwhile, and OpenBLAS's
        // rounding depends on its thread count.
        let result = try #require(
            compare(stepwise.flatMap { $0 }, full.storage, atol: Self.tolerance))
        #expect(result.passes, "\(name) cached vs full: \(result.worst)")
    }

    /// One sequence's cache forked into two batch entries (`selectingRows([0, 0])`, as a shared
    /// prompt prefix would be) continues exactly as two separate teacher-forced decodes.
    @Test func aForkedDecoderCacheContinuesLikeSeparateDecodes() throws {
        let model = try loadFixtureModel("t5-tiny-v11")
        let encoded = model.encode([[37, 512, 99, 8, 1]])
        let prefix: [Int32] = [Int32(model.configuration.decoderStartTokenID), 5, 17]
        let continuations: [[Int32]] = [[23, 8], [400, 2]]
        var cache = model.makeDecoderCache(encoderOutput: encoded, capacity: 2)
        _ = model.decode(prefix, stepLength: prefix.count, cache: &cache)
        var forked = cache.selectingRows([0, 0])
        #expect(forked.batch == 2 && forked.length == prefix.count)
        let logits = model.logits(
            model.decode(continuations.flatMap { $0 }, stepLength: 2, cache: &forked))
        let vocab = logits.lastDimension
        for (b, continuation) in continuations.enumerated() {
            let full = model.decoderLogits(
                decoderInputs: [prefix + continuation],
                encoderOutput: T5EncoderOutput(hidden: encoded.hidden, lengths: encoded.lengths))
            let expected = Array(full.storage[(prefix.count * vocab)...])
            let actual = Array(logits.storage[(b * 2 * vocab)..<((b + 1) * 2 * vocab)])
            let result = try #require(compare(actual, expected, atol: Self.tolerance))
            #expect(result.passes, "continuation \(b): \(result.worst)")
        }
        // The fork is a copy: decoding it left the original cache where it was.
        #expect(cache.length == prefix.count && cache.batch == 1)
    }

    @Test func theBinCheckpointGivesTheSameEncoderOutputAsSafetensors() throws {
        let golden = try T5Golden.load("t5-tiny").encoder
        let model = try loadFixtureModel("t5-tiny-bin")
        let output = model.encode(unpadded(golden.input_ids, golden.lengths))
        let result = try #require(
            compare(output.hidden.storage, golden.last_hidden_state, atol: Self.tolerance))
        #expect(result.passes, "pytorch_model.bin encoder: \(result.worst)")
    }

    @Test func relativePositionBucketsMatchHandComputedValues() {
        // Printed by transformers 5.24 T5Attention._relative_position_bucket(p, bidirectional, 32, 128).
        let bidirectional: [(Int, Int)] = [
            (0, 0), (1, 17), (-1, 1), (7, 23), (-7, 7), (8, 24),
            (-8, 8), (12, 25), (-20, 10), (127, 31), (-500, 15),
        ]
        for (position, bucket) in bidirectional {
            #expect(
                T5RelativePositionBias.bucket(
                    relativePosition: position, bidirectional: true, numBuckets: 32,
                    maxDistance: 128) == bucket,
                "bidirectional \(position)")
        }
        let causal: [(Int, Int)] = [
            (0, 0), (3, 0), (-1, 1), (-15, 15), (-16, 16), (-30, 20), (-1000, 31),
        ]
        for (position, bucket) in causal {
            #expect(
                T5RelativePositionBias.bucket(
                    relativePosition: position, bidirectional: false, numBuckets: 32,
                    maxDistance: 128) == bucket,
                "causal \(position)")
        }
    }
}

@Suite(.serialized) struct T5ThreadingTests {
    /// Long enough inputs that attention fans out over workers; the result must not depend on
    /// it beyond rounding. (OpenBLAS itself rounds differently with 1 and 2 threads: up to
    /// ~1e-4 on these 130-position decoder logits even with the fan-out disabled; a race would
    /// give errors of order 1.)
    @Test func attentionSplitOverThreadsEqualsOneThread() throws {
        let model = try loadFixtureModel("t5-tiny-v11")
        var random = TestRandom(seed: 11)
        let inputs = [90, 130, 64].map { n in
            (0..<n).map { _ in Int32.random(in: 2..<1100, using: &random) }
        }
        let saved = BLAS.threads
        defer { BLAS.threads = saved }
        BLAS.threads = 1
        let serial = model.encode(inputs).hidden
        let serialLogits = model.decoderLogits(
            decoderInputs: inputs, encoderOutput: model.encode(inputs))
        BLAS.threads = 2
        let parallel = model.encode(inputs).hidden
        let parallelLogits = model.decoderLogits(
            decoderInputs: inputs, encoderOutput: model.encode(inputs))
        let encoder = try #require(compare(parallel.storage, serial.storage, atol: 5e-4))
        #expect(encoder.passes, "encoder: \(encoder.worst)")
        let decoder = try #require(
            compare(parallelLogits.storage, serialLogits.storage, atol: 5e-4))
        #expect(decoder.passes, "decoder: \(decoder.worst)")
    }
}
