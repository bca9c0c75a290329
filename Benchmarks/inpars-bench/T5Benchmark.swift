import ArgumentParser
import Foundation
import InparsModels
import InparsRanker
import InparsTensor

/// monoT5 scoring throughput (pairs/s) on t5-small and monoT5-base shapes with random weights
/// made in memory, and where the time goes (time inside cblas_sgemm vs the rest).
struct T5Benchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "t5",
        abstract: "monoT5 pairs/s at 512 tokens (random weights) and the GEMM share of the time.")

    @Option(help: "small, base, or both.") var shape = "both"
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Input tokens per pair.") var seqLen = 512
    @Option(help: "Pairs per forward pass.") var batch = 8
    @Option(help: "Timed pairs for t5-small (after one warm-up batch).") var smallPairs = 32
    @Option(help: "Timed pairs for base (after one warm-up batch).") var basePairs = 16

    func run() throws {
        BLAS.threads = threads
        let env = ProcessInfo.processInfo.environment
        print(
            "OpenBLAS core: \(BLAS.coreName); OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)") OPENBLAS_L2_SIZE=\(env["OPENBLAS_L2_SIZE"] ?? "(unset)") threads=\(threads)"
        )
        let shapes: [(String, T5Configuration, Int)] = [
            (
                "t5-small",
                T5Configuration(
                    vocabSize: 32128, dModel: 512, dKV: 64, dFF: 2048, numLayers: 6, numHeads: 8),
                smallPairs
            ),
            (
                "monoT5-base",
                T5Configuration(
                    vocabSize: 32128, dModel: 768, dKV: 64, dFF: 3072, numLayers: 12, numHeads: 12),
                basePairs
            ),
        ].filter { shape == "both" || $0.0.hasSuffix(shape) }
        print(
            "Times per pair. dense GEMM: projections and feed-forward (sgemm wall time, OpenBLAS threads);"
        )
        print("attention: scores + softmax + P·V over heads split across workers (wall), of which")
        print(
            "attn GEMM = sgemm time summed over workers / workers; rest: norms, activations, embedding, decoder step."
        )
        print(
            "| model | pairs/s | s/pair | dense GEMM | attention | (attn GEMM) | rest | GEMM share | dense GEMM GFLOP/s | GFLOP/pair |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (name, configuration, pairs) in shapes {
            let model = try T5Model(
                configuration: configuration, tensors: Self.randomTensors(configuration))
            let scorer = try MonoT5Scorer(
                model: model, positiveID: 1176, negativeID: 6136, batchSize: batch)
            var generator = BenchRandom(seed: 7)
            let inputs = (0..<(pairs + batch)).map { _ in
                (0..<seqLen).map { _ in Int32(5 + generator.next() % 31995) }
            }
            // Warm-up batch, untimed.
            var sink: Float = scorer.score(inputs: Array(inputs.prefix(batch))).reduce(0, +)
            BLAS.Profile.reset()
            StepProfile.reset()
            BLAS.Profile.isEnabled = true
            StepProfile.isEnabled = true
            let start = DispatchTime.now().uptimeNanoseconds
            sink += scorer.score(inputs: Array(inputs.suffix(pairs))).reduce(0, +)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            BLAS.Profile.isEnabled = false
            StepProfile.isEnabled = false
            let gemm = BLAS.Profile.totals
            let attention = StepProfile.section(StepProfile.Name.attention)
            let attentionGEMMThreadSeconds = StepProfile.section(StepProfile.Name.attentionGEMM).seconds
            if sink.isNaN { print("(NaN scores)") }
            let n = Double(pairs)
            let workers = Double(max(1, min(threads, batch * configuration.numHeads)))
            let dense = gemm.seconds - attentionGEMMThreadSeconds
            let attentionGEMM = attentionGEMMThreadSeconds / workers
            let rest = seconds - dense - attention.seconds
            // FLOPs of the dense GEMMs: all recorded FLOPs minus attention's 2·(2·T·T·dKV) per head.
            let attentionFlops =
                Double(configuration.numLayers * batch * configuration.numHeads)
                * 4 * Double(seqLen * seqLen * configuration.dKV) * n / Double(batch)
            print(
                "| \(name) | \(f(n / seconds)) | \(f(seconds / n, 3)) | \(f(dense / n, 3)) | \(f(attention.seconds / n, 3)) | \(f(attentionGEMM / n, 3)) | \(f(rest / n, 3)) | \(f(100 * (dense + attentionGEMM) / seconds, 1))% | \(f((gemm.flops - attentionFlops) / dense / 1e9, 1)) | \(f(gemm.flops / n / 1e9, 1)) |"
            )
        }
    }

    private func f(_ value: Double, _ decimals: Int = 2) -> String {
        String(format: "%.\(decimals)f", value)
    }

    /// Random weights of every tensor the configuration needs, scaled like transformers' T5
    /// initialisation so activations stay finite (no NaN/denormal slow paths).
    static func randomTensors(_ c: T5Configuration) -> [String: Tensor] {
        var generator = BenchRandom(seed: 42)
        var tensors: [String: Tensor] = [:]
        for spec in randomTensorSpecs(c) { tensors[spec.name] = spec.make(&generator) }
        return tensors
    }

    /// One random checkpoint tensor: uniform with standard deviation `std`, or all ones
    /// (`std == nil`, a norm weight).
    struct TensorSpec {
        var name: String
        var shape: [Int]
        var std: Float?

        func make(_ generator: inout BenchRandom) -> Tensor {
            guard let std else { return Tensor(shape: shape, repeating: 1) }
            let limit = std * 1.7320508  // uniform(−a, a) has std a/√3
            return Tensor(shape: shape) { buffer in
                for i in 0..<buffer.count { buffer[i] = generator.uniform() * limit }
            }
        }
    }

    /// The tensors of a T5 v1.0 checkpoint of configuration `c`, in a fixed order.
    static func randomTensorSpecs(_ c: T5Configuration) -> [TensorSpec] {
        var specs: [TensorSpec] = []
        let inner = c.innerDimension
        func add(_ name: String, _ shape: [Int], std: Float) {
            specs.append(TensorSpec(name: name, shape: shape, std: std))
        }
        func ones(_ name: String, _ d: Int) { specs.append(TensorSpec(name: name, shape: [d])) }
        add(T5WeightNames.shared, [c.vocabSize, c.dModel], std: 1)
        for stack in ["encoder", "decoder"] {
            let blocks = stack == "encoder" ? c.numLayers : c.numDecoderLayers
            add(
                T5WeightNames.relativeAttentionBias(stack),
                [c.relativeAttentionNumBuckets, c.numHeads], std: 1)
            ones(T5WeightNames.finalNorm(stack), c.dModel)
            for block in 0..<blocks {
                let q = Float(c.dModel * c.dKV).squareRoot()
                add(
                    T5WeightNames.selfAttention(stack, block: block, "q"), [inner, c.dModel],
                    std: 1 / q)
                for p in ["k", "v"] {
                    add(
                        T5WeightNames.selfAttention(stack, block: block, p), [inner, c.dModel],
                        std: 1 / Float(c.dModel).squareRoot())
                }
                add(
                    T5WeightNames.selfAttention(stack, block: block, "o"), [c.dModel, inner],
                    std: 1 / Float(inner).squareRoot())
                ones(T5WeightNames.layerNorm(stack, block: block, layer: 0), c.dModel)
                if stack == "decoder" {
                    add(
                        T5WeightNames.crossAttention(block: block, "q"), [inner, c.dModel],
                        std: 1 / q)
                    for p in ["k", "v"] {
                        add(
                            T5WeightNames.crossAttention(block: block, p), [inner, c.dModel],
                            std: 1 / Float(c.dModel).squareRoot())
                    }
                    add(
                        T5WeightNames.crossAttention(block: block, "o"), [c.dModel, inner],
                        std: 1 / Float(inner).squareRoot())
                    ones(T5WeightNames.layerNorm(stack, block: block, layer: 1), c.dModel)
                }
                ones(
                    T5WeightNames.layerNorm(stack, block: block, layer: stack == "encoder" ? 1 : 2),
                    c.dModel)
                add(
                    T5WeightNames.feedForward(stack, block: block, "wi"), [c.dFF, c.dModel],
                    std: 1 / Float(c.dModel).squareRoot())
                add(
                    T5WeightNames.feedForward(stack, block: block, "wo"), [c.dModel, c.dFF],
                    std: 1 / Float(c.dFF).squareRoot())
            }
        }
        return specs
    }
}

/// SplitMix64, for reproducible benchmark inputs.
struct BenchRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [−1, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}
