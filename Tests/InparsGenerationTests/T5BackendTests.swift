import Foundation
import InparsGeneration
import InparsModels
import InparsTestSupport
import Testing

@Suite struct T5BackendTests {
    static let models = ["t5-tiny", "t5-tiny-v11"]

    func backend(_ name: String, batchSize: Int = 8) throws -> T5Backend {
        try T5Backend.load(
            directory: TestPaths.fixtures.appendingPathComponent(name), batchSize: batchSize)
    }

    func requests(
        _ prompts: [String], maxNewTokens: Int,
        _ edit: (inout GenerationRequest, Int) -> Void = { _, _ in }
    )
        -> [GenerationRequest]
    {
        prompts.enumerated().map { index, prompt in
            var request = GenerationRequest(prompt: prompt, maxNewTokens: maxNewTokens, seed: 7)
            edit(&request, index)
            return request
        }
    }

    /// Greedy ids and the model's log-probs equal transformers' `generate` on a padded batch
    /// (max |Δ log-prob| ≤ 1e-4), for the v1.0 and the gated v1.1 fixture.
    @Test(arguments: models) func greedyMatchesTransformersGenerate(model name: String) async throws
    {
        let golden = try T5GenerateGolden.load()
        let backend = try backend(name)
        let cases = try #require(golden.models[name]).prompts
        for c in cases {
            #expect(backend.tokenizer.encode(c.prompt) == c.input_ids, "input ids of \(c.prompt)")
        }
        let outputs = try await backend.generate(
            requests(cases.map(\.prompt), maxNewTokens: golden.max_new_tokens))
        for (output, c) in zip(outputs, cases) {
            #expect(output.tokens.count == c.ids.count)
            #expect(
                output.tokens == c.ids.map { backend.tokenizer.token(forID: $0) ?? "" },
                "ids of \(c.prompt)")
            #expect(output.text == c.text)
            let check = try #require(
                compare(output.logProbs.map(Float.init), c.log_probs, atol: 1e-4))
            #expect(check.passes, "log-probs of \(c.prompt): \(check.worst)")
        }
    }

    /// The ids of each prompt are the same decoded alone, in a batch of 4, or in groups of 3;
    /// log-probs agree to float rounding (1e-4: batch shapes change OpenBLAS's blocking and
    /// the attention threads' split, ~1e-5 on this model).
    @Test(arguments: models) func batchedEqualsSingle(model name: String) async throws {
        let golden = try T5GenerateGolden.load()
        let prompts = try #require(golden.models[name]).prompts.map(\.prompt)
        let all = requests(prompts, maxNewTokens: 10)
        let together = try await backend(name, batchSize: 4).generate(all)
        let grouped = try await backend(name, batchSize: 3).generate(all)
        let single = try backend(name, batchSize: 1)
        for (index, request) in all.enumerated() {
            let alone = try await single.generate([request])[0]
            for other in [together[index], grouped[index]] {
                #expect(other.tokens == alone.tokens)
                let check = try #require(
                    compare(
                        other.logProbs.map(Float.init), alone.logProbs.map(Float.init), atol: 1e-4))
                #expect(check.passes, "\(check.worst)")
            }
        }
    }

    @Test func samplingIsSeededPerRequestAndReducesToGreedy() async throws {
        let golden = try T5GenerateGolden.load()
        let cases = try #require(golden.models["t5-tiny-v11"]).prompts
        let prompts = cases.map(\.prompt)
        let backend = try backend("t5-tiny-v11", batchSize: 4)
        let sampled = requests(prompts, maxNewTokens: 12) { request, index in
            request.temperature = 1.5
            request.topP = 0.95
            request.seed = 100 + UInt64(index)
        }
        let first = try await backend.generate(sampled)
        let again = try await backend.generate(sampled)
        #expect(first.map(\.tokens) == again.map(\.tokens))
        #expect(first.map(\.text) == again.map(\.text))
        // Each request's stream is its own: batch composition does not change the draws.
        let alone = try await self.backend("t5-tiny-v11", batchSize: 1).generate([sampled[2]])
        #expect(alone[0].tokens == first[2].tokens)
        // Other seeds give other queries.
        let reseeded = try await backend.generate(
            sampled.map {
                var r = $0; r.seed += 1000; return r
            })
        #expect(reseeded.map(\.tokens) != first.map(\.tokens))
        // Sampling is not greedy here (else the test above proves little).
        let greedyIDs = cases.map { $0.ids.map { backend.tokenizer.token(forID: $0) ?? "" } }
        #expect(first.map(\.tokens) != greedyIDs.map { Array($0.prefix(12)) })

        // top-k 1 and a vanishing temperature are greedy, whatever the seed; log-probs are the
        // model's (raw logits), so they equal the greedy goldens too.
        for edit: (inout GenerationRequest) -> Void in [
            {
                $0.temperature = 1.3; $0.topK = 1
            }, { $0.temperature = 1e-6 },
        ] {
            let outputs = try await backend.generate(
                requests(prompts, maxNewTokens: golden.max_new_tokens) { r, i in
                    edit(&r)
                    r.seed = 999 + UInt64(i)
                })
            for (output, c) in zip(outputs, cases) {
                #expect(output.tokens == c.ids.map { backend.tokenizer.token(forID: $0) ?? "" })
                let check = try #require(
                    compare(output.logProbs.map(Float.init), c.log_probs, atol: 1e-4))
                #expect(check.passes, "\(check.worst)")
            }
        }
    }

    /// Stop tokens end a sequence like EOS, are not kept, and the rest of the batch goes on.
    @Test func aStopTokenEndsOnlyItsSequence() throws {
        let golden = try T5GenerateGolden.load()
        let cases = try #require(golden.models["t5-tiny"]).prompts
        let model = try backend("t5-tiny").model
        let inputs = cases.map(\.input_ids)
        let stop = cases[0].ids[3]
        let generations = model.generate(
            inputs, sampling: Array(repeating: .greedy, count: inputs.count),
            maxNewTokens: golden.max_new_tokens, stopIDs: [stop])
        for (generation, c) in zip(generations, cases) {
            if let cut = c.ids.firstIndex(of: stop) {
                #expect(generation.ids == Array(c.ids[..<cut]))
                #expect(generation.stop == .stopToken)
                #expect(generation.stopID == stop)
            } else {
                #expect(generation.ids == c.ids)
                #expect(generation.stop == .length)
            }
        }
        #expect(generations[0].ids.count == 3)
    }

    /// Document cuts and prompt lengths use the model's tokenizer, as transformers counts them.
    @Test func truncationAndCountsFollowTheTokenizer() throws {
        let golden = try T5GenerateGolden.load()
        let backend = try backend("t5-tiny")
        for c in golden.truncation {
            #expect(backend.truncated(c.text, maxTokens: c.max_tokens) == c.truncated)
            #expect(backend.tokenCount(c.text) == c.token_count_with_eos)
        }
        #expect(backend.backendName == "t5")
        #expect(backend.modelName == "t5-tiny")
        #expect(backend.maxConcurrentCalls == 1)
        #expect(backend.newlineIDs.isEmpty)  // the fixture vocabulary, like T5's, has no "\n"
    }
}
