import Foundation
import InparsModels
import InparsTensor
import InparsTestSupport
import Testing

/// `Tests/Fixtures/causal-lm/<name>/golden.json`, written by
/// `Scripts/fixtures/make_causal_lms.py` with transformers 5.24 in float32.
struct CausalLMGolden: Decodable {
    struct Prompt: Decodable {
        var text: String
        var ids: [Int32]
    }
    struct Row: Decodable {
        var last: [Float]
        var head: [[Float]]
    }
    struct Greedy: Decodable {
        var prompt: String
        var ids: [Int32]
        var log_probs: [Float]
        var stopped_at_eos: Bool
    }
    var max_new_tokens: Int
    var prompts: [Prompt]
    var batch: [Row]
    var greedy: [Greedy]

    static let models = ["llama3", "llama2", "mistral", "qwen2", "qwen3"]

    static func folder(_ name: String) -> URL {
        TestPaths.fixtures.appendingPathComponent("causal-lm/\(name)")
    }

    static func load(_ name: String) throws -> CausalLMGolden {
        try JSONDecoder().decode(
            CausalLMGolden.self,
            from: Data(contentsOf: folder(name).appendingPathComponent("golden.json")))
    }
}

@Suite struct CausalLMGoldenTests {
    @Test(arguments: CausalLMGolden.models)
    func paddedBatchLogitsMatchTransformers(name: String) throws {
        let golden = try CausalLMGolden.load(name)
        let model = try CausalLM.load(directory: CausalLMGolden.folder(name))
        let logits = model.logits(prompts: golden.prompts.map(\.ids))
        let (width, vocab) = (logits.shape[1], logits.shape[2])
        #expect(vocab == golden.batch[0].last.count)
        var worst: Float = 0
        for (b, row) in golden.batch.enumerated() {
            let length = golden.prompts[b].ids.count
            for t in 0..<length {
                let base = (b * width + t) * vocab
                let expected = t == length - 1 ? row.last : row.head[t]
                for (j, value) in expected.enumerated() {
                    worst = max(worst, abs(logits.storage[base + j] - value))
                }
            }
        }
        #expect(worst <= 1e-4, "\(name): max |Δ logit| \(worst)")
    }

    @Test(arguments: CausalLMGolden.models)
    func greedyIdsAndLogProbsMatchTransformers(name: String) throws {
        let golden = try CausalLMGolden.load(name)
        let model = try CausalLM.load(directory: CausalLMGolden.folder(name))
        let requests = golden.greedy.map { g in
            CausalLMRequest(
                ids: golden.prompts.first { $0.text == g.prompt }!.ids,
                maxNewTokens: golden.max_new_tokens)
        }
        for batchSize in [1, 3] {
            let results = model.generate(requests, batchSize: batchSize)
            for (g, result) in zip(golden.greedy, results) {
                #expect(result.ids == g.ids, "\(name) batch \(batchSize): \(g.prompt.debugDescription)")
                #expect((result.stop == .eos) == g.stopped_at_eos)
                let worst = zip(result.logProbs, g.log_probs).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-4, "\(name): max |Δ log-prob| \(worst)")
            }
        }
    }

    /// The shared-prefix path forks a prefix's cache; the plain path prefills every prompt
    /// whole. Both give transformers' continuation.
    @Test func sharedPrefixGivesThePlainPathsTokens() throws {
        let golden = try CausalLMGolden.load("llama3")
        let model = try CausalLM.load(directory: CausalLMGolden.folder("llama3"))
        let prompt = golden.prompts[1].ids
        let prefix = model.sharedPrefix(Array(prompt.prefix(prompt.count - 5)))
        let requests = [prompt, prompt, golden.prompts[0].ids].map {
            CausalLMRequest(ids: $0, maxNewTokens: golden.max_new_tokens)
        }
        let plain = model.generate(requests, batchSize: 2)
        let shared = model.generate(requests, batchSize: 2, prefix: prefix)
        #expect(plain.map(\.ids) == shared.map(\.ids))
        #expect(shared[0].ids == golden.greedy[1].ids)
        for (a, b) in zip(plain, shared) {
            let worst = zip(a.logProbs, b.logProbs).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5)
        }
    }

    /// A forked prefix is stored once (every fork reads the prefix's shared positions) and
    /// survives continuous batching: after prefills from the fork, decoder steps, a finished
    /// row leaving and a new fork and a plain (unshared) prompt joining, each row's logits at
    /// a decoder step equal a whole prefill of its tokens from nothing (max |Δ| ≤ 1e-4, the
    /// goldens' tolerance). Prefix length 70: not a multiple of the kernel's 64-key blocks.
    @Test func forkedPrefixCacheGivesEachRowsWholePrefillLogits() throws {
        let model = try CausalLM.load(directory: CausalLMGolden.folder("qwen2"))
        var random = TestRandom(seed: 31)
        func tokens(_ count: Int) -> [Int32] { (0..<count).map { _ in Int32(random.next() % 1000) } }
        let prefix = model.sharedPrefix(tokens(70))
        var sequences = [prefix.ids + tokens(5), prefix.ids + tokens(9)]
        var cache = prefix.cache.selectingRows([0, 0], capacity: 4)
        #expect(cache.layers[0].shared === prefix.cache.layers[0].shared)
        #expect(cache.layers[0].sharedLengths == [70, 70])
        _ = model.forward(
            sequences.flatMap { Array($0[70...]) + [Int32](repeating: 0, count: 9 - ($0.count - 70)) },
            stepLength: 9, real: [5, 9], cache: &cache)
        func decode(_ next: [Int32]) -> Tensor {
            for (row, token) in next.enumerated() { sequences[row].append(token) }
            return model.logits(model.forward(next, stepLength: 1, cache: &cache))
        }
        for step in 0..<3 { _ = decode([Int32(step + 11), Int32(step + 400)]) }
        // Row 0 finishes; a new fork and a prompt without the prefix join.
        var fork = prefix.cache.selectingRows([0], capacity: 8)
        let forked = prefix.ids + tokens(6)
        _ = model.forward(Array(forked[70...]), stepLength: 6, cache: &fork)
        let plainIDs = tokens(12)
        var plain = model.makeCache(batch: 1, capacity: 12)
        _ = model.forward(plainIDs, stepLength: 12, cache: &plain)
        cache = CausalLMCache.joining([(cache, [1]), (fork, [0]), (plain, [0])])
        sequences = [sequences[1], forked, plainIDs]
        #expect(cache.layers[0].sharedLengths == [70, 70, 0])
        #expect(cache.lengths == sequences.map(\.count))
        var logits = decode([5, 6, 7])
        logits = decode([8, 9, 10])
        let vocab = logits.lastDimension
        for (row, ids) in sequences.enumerated() {
            let whole = model.logits(prompts: [ids])
            let last = Array(whole.storage[((ids.count - 1) * vocab)...].prefix(vocab))
            let got = Array(logits.storage[(row * vocab)..<((row + 1) * vocab)])
            let worst = zip(got, last).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= 1e-4, "row \(row): max |Δ logit| \(worst)")
        }
    }

    /// A prefill of more rows than one feed-forward block (3 × 200 > 512) runs the MLP block
    /// by block and attention in many tiles: each prompt's logits equal its own forward's.
    @Test func aLongBatchedPrefillGivesEachPromptsOwnLogits() throws {
        let model = try CausalLM.load(directory: CausalLMGolden.folder("qwen2"))
        var random = TestRandom(seed: 17)
        let prompts = (0..<3).map { _ in (0..<200).map { _ in Int32(random.next() % 1000) } }
        let batched = model.logits(prompts: prompts)
        for (b, prompt) in prompts.enumerated() {
            let alone = model.logits(prompts: [prompt]).storage
            let part = Array(batched.storage[(b * alone.count)..<((b + 1) * alone.count)])
            let result = compare(part, alone, rtol: 1e-5, atol: 1e-5)
            #expect(result?.passes == true, "prompt \(b): \(String(describing: result?.worst))")
        }
    }

    @Test func seededSamplingDoesNotDependOnBatchSize() throws {
        let golden = try CausalLMGolden.load("qwen2")
        let model = try CausalLM.load(directory: CausalLMGolden.folder("qwen2"))
        let requests = golden.prompts.enumerated().map { index, prompt in
            CausalLMRequest(
                ids: prompt.ids,
                sampling: Sampling(temperature: 1.5, topK: 50, topP: 0.95, seed: UInt64(index + 7)),
                maxNewTokens: 8)
        }
        let one = model.generate(requests, batchSize: 1)
        let four = model.generate(requests, batchSize: 4)
        #expect(one.map(\.ids) == four.map(\.ids))
        let greedy = model.generate(requests.map { CausalLMRequest(ids: $0.ids, maxNewTokens: 8) }, batchSize: 4)
        #expect(one.map(\.ids) != greedy.map(\.ids), "sampling at T=1.5 chose the greedy tokens")
    }

    /// Rotating a whole batch at once (rows split over threads, one angle table over the
    /// positions the rows span) gives each row the bits of rotating it alone, for entries
    /// that share their positions (a prefill) and for entries at positions of their own.
    @Test func rotatingABatchEqualsRotatingEachRowAlone() {
        let rope = RotaryEmbedding(dimension: 64, base: 1_000_000)
        var random = TestRandom(seed: 21)
        let heads: [(offset: Int, count: Int)] = [(0, 4), (320, 2)]
        for (batch, stepLength, positions) in [(3, 70, [600, 600, 600]), (100, 1, (0..<100).map { 7 * $0 + 3 })] {
            let width = 448
            let x = Tensor(shape: [batch, stepLength, width], storage: random.floats(batch * stepLength * width))
            var all = x
            rope.apply(to: &all, heads: heads, positions: positions)
            for b in 0..<batch {
                for t in 0..<stepLength {
                    let start = (b * stepLength + t) * width
                    var one = Tensor(shape: [1, 1, width], storage: Array(x.storage[start..<(start + width)]))
                    rope.apply(to: &one, heads: heads, positions: [positions[b] + t])
                    #expect(
                        one.storage.map(\.bitPattern) == all.storage[start..<(start + width)].map(\.bitPattern),
                        "entry \(b) step \(t)")
                }
            }
            #expect(all.storage[(320 + 128)..<width] == x.storage[(320 + 128)..<width], "values moved")
        }
    }

    @Test func llama3RopeScalingMatchesTransformers() {
        // transformers 5.24 ROPE_INIT_FUNCTIONS["llama3"] for head_dim 16, theta 500000,
        // factor 8, low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 256
        // (float32): index 0-1 unchanged, 2 in the smoothed band, 3-7 divided by 8.
        let expected: [Float] = [
            1.0, 0.193922758102417, 0.010538230650126934, 0.0009115831344388425,
            0.00017677668074611574, 3.428102354519069e-05, 6.647869668086059e-06,
            1.289173155782919e-06,
        ]
        let rope = RotaryEmbedding(
            dimension: 16, base: 500000,
            scaling: .init(
                factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 256
            ))
        for (value, reference) in zip(rope.inverseFrequencies, expected) {
            #expect(abs(value - reference) <= 1e-6 * reference, "\(value) vs \(reference)")
        }
    }
}
