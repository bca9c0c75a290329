import ArgumentParser
import Foundation
import InparsModels
import InparsTensor
import InparsTraining

#if canImport(Glibc)
    import Glibc
#endif

/// monoT5 fine-tuning step time (forward, backward, clipping, AdamW) on t5-small / base shapes
/// with random weights, as `../shared/bench/ref_t5_train.py` measures PyTorch.
struct TrainStepBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-step",
        abstract: "Training examples/s and peak memory (random weights, labels '▁true </s>').")

    @Option(help: "small or base.") var shape = "small"
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Input tokens per example.") var seqLen = 512
    @Option(help: "Examples per step.") var batch = 8
    @Option(help: "Timed steps (after one warm-up step).") var steps = 2
    @Option(help: "Cross-attention: automatic, projected or absorbed.") var crossAttention =
        "automatic"

    @Flag(inversion: .prefixedNo, help: "Keep freed large buffers in the heap (ProcessMemory).")
    var reuseMemory = true

    func run() throws {
        BLAS.threads = threads
        if reuseMemory { ProcessMemory.retainFreedMemory() }
        let c =
            shape == "base"
            ? T5Configuration(
                vocabSize: 32128, dModel: 768, dKV: 64, dFF: 3072, numLayers: 12, numHeads: 12)
            : T5Configuration(
                vocabSize: 32128, dModel: 512, dKV: 64, dFF: 2048, numLayers: 6, numHeads: 8)
        var model = try T5Model(configuration: c, tensors: Self.randomTensors(c))
        var optimizer = AdamW(
            parameters: model.parameterTable.optimizerParameters, learningRate: 3e-4)
        var generator = BenchRandom(seed: 3)
        let inputs = (0..<batch).map { _ in
            (0..<seqLen).map { _ in Int32(5 + generator.next() % 31995) }
        }
        let trainingBatch = T5TrainingBatch(
            inputs: inputs, labels: Array(repeating: [1176, 1], count: batch))
        var dropout = SystemRandomNumberGenerator()
        let strategy: T5CrossAttentionStrategy =
            crossAttention == "projected"
            ? .projected : crossAttention == "absorbed" ? .absorbed : .automatic
        // Wall seconds of the phases of the timed steps: forward + backward, clipping, update.
        var phases = [Double](repeating: 0, count: 3)
        func step() -> Float {
            var clock = DispatchTime.now().uptimeNanoseconds
            func lap(_ phase: Int) {
                let now = DispatchTime.now().uptimeNanoseconds
                phases[phase] += Double(now - clock) / 1e9
                clock = now
            }
            var (loss, _, gradients) = model.lossAndGradients(
                trainingBatch, crossAttention: strategy, using: &dropout)
            lap(0)
            GradientClipping.clip(&gradients, maxNorm: 1)
            lap(1)
            model.updateParameters { optimizer.step(&$0, gradients: gradients) }
            lap(2)
            return loss
        }
        var sink = step()
        phases = [0, 0, 0]
        func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        }
        let cpuStart = cpuSeconds()
        BLAS.Profile.reset()
        BLAS.Profile.isEnabled = true
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<steps { sink += step() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(steps)
        BLAS.Profile.isEnabled = false
        let cpu = (cpuSeconds() - cpuStart) / Double(steps)
        let gemm = BLAS.Profile.totals.seconds / Double(steps)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(
            "inpars t5-\(shape) threads=\(threads) batch=\(batch) seqlen=\(seqLen): "
                + String(
                    format:
                        "%.2f s/step, %.2f examples/s, GEMM %.2f s/step, CPU %.2f s/step, peak RSS %.0f MB (loss %.3f)",
                    seconds, Double(batch) / seconds, gemm, cpu, Double(usage.ru_maxrss) / 1024,
                    sink / Float(steps + 1)))
        print(
            String(
                format:
                    "  per step: forward+backward %.2f s, clipping %.2f s, optimizer %.2f s; GEMM calls %.2f s summed over threads (%.0f GFLOP)",
                phases[0] / Double(steps), phases[1] / Double(steps), phases[2] / Double(steps),
                gemm, BLAS.Profile.totals.flops / 1e9 / Double(steps)))
    }

    static func randomTensors(_ c: T5Configuration) -> [String: Tensor] {
        var generator = BenchRandom(seed: 42)
        var tensors: [String: Tensor] = [:]
        let inner = c.innerDimension
        func add(_ name: String, _ shape: [Int], std: Float) {
            let count = shape.reduce(1, *)
            let limit = std * 1.7320508
            tensors[name] = Tensor(shape: shape) { buffer in
                for i in 0..<count { buffer[i] = generator.uniform() * limit }
            }
        }
        func ones(_ name: String, _ d: Int) { tensors[name] = Tensor(shape: [d], repeating: 1) }
        let d = c.dModel
        add(T5WeightNames.shared, [c.vocabSize, d], std: 1)
        for stack in ["encoder", "decoder"] {
            add(
                T5WeightNames.relativeAttentionBias(stack),
                [c.relativeAttentionNumBuckets, c.numHeads], std: 1)
            ones(T5WeightNames.finalNorm(stack), d)
            for block in 0..<c.numLayers {
                let projections = [
                    ("q", 1 / Float(d * c.dKV).squareRoot()), ("k", 1 / Float(d).squareRoot()),
                    ("v", 1 / Float(d).squareRoot()),
                ]
                for (p, std) in projections {
                    add(T5WeightNames.selfAttention(stack, block: block, p), [inner, d], std: std)
                }
                add(
                    T5WeightNames.selfAttention(stack, block: block, "o"), [d, inner],
                    std: 1 / Float(inner).squareRoot())
                for layer in 0..<(stack == "encoder" ? 2 : 3) {
                    ones(T5WeightNames.layerNorm(stack, block: block, layer: layer), d)
                }
                if stack == "decoder" {
                    for (p, std) in projections {
                        add(T5WeightNames.crossAttention(block: block, p), [inner, d], std: std)
                    }
                    add(
                        T5WeightNames.crossAttention(block: block, "o"), [d, inner],
                        std: 1 / Float(inner).squareRoot())
                }
                add(
                    T5WeightNames.feedForward(stack, block: block, "wi"), [c.dFF, d],
                    std: 1 / Float(d).squareRoot())
                add(
                    T5WeightNames.feedForward(stack, block: block, "wo"), [d, c.dFF],
                    std: 1 / Float(c.dFF).squareRoot())
            }
        }
        return tensors
    }
}
