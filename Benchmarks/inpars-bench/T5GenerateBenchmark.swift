import ArgumentParser
import Foundation
import InparsModels
import InparsTensor

/// In-process query generation throughput (documents/s) on the t5-base shape with random
/// weights made in memory: encoder once per batch, then KV-cached greedy steps. The reference
/// is `Scripts/bench/ref_t5_generate.py` (transformers `generate`, same shape), run in the
/// same session.
struct T5GenerateBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "t5-generate",
        abstract: "T5 generation documents/s (t5-base shape, random weights, greedy).")

    @Option(help: "small or base.") var shape = "base"
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Prompt tokens per document (EOS included).") var promptLength = 256
    @Option(help: "Tokens generated per document (EOS disabled, so exactly this many).")
    var newTokens = 32
    @Option(help: "Documents decoded together.") var batch = 8
    @Option(help: "Timed documents (after one warm-up batch).") var documents = 16
    @Option(help: "fp32, bf16 or int8: the linear layers' number format (converted once).")
    var precision = "fp32"
    @Flag(help: "Also time one batch by phase.") var breakdown = false

    func run() throws {
        BLAS.threads = threads
        let env = ProcessInfo.processInfo.environment
        print(
            "OpenBLAS core: \(BLAS.coreName); OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)") OPENBLAS_L2_SIZE=\(env["OPENBLAS_L2_SIZE"] ?? "(unset)") threads=\(threads)"
        )
        var configuration =
            shape == "small"
            ? T5Configuration(
                vocabSize: 32128, dModel: 512, dKV: 64, dFF: 2048, numLayers: 6, numHeads: 8)
            : T5Configuration(
                vocabSize: 32128, dModel: 768, dKV: 64, dFF: 3072, numLayers: 12, numHeads: 12)
        configuration.eosTokenID = -1  // never stop early: every document gets newTokens steps
        guard let precision = Precision(rawValue: precision) else {
            throw ValidationError("--precision must be fp32, bf16 or int8")
        }
        let model = try T5Model(
            configuration: configuration, tensors: T5Benchmark.randomTensors(configuration)
        ).converted(to: precision)
        print("precision \(precision.rawValue); oneDNN ISA \(DNNLInfo.effectiveISA)")
        var generator = BenchRandom(seed: 11)
        let inputs = (0..<(documents + batch)).map { _ in
            (0..<(promptLength - 1)).map { _ in Int32(5 + generator.next() % 31995) } + [1]
        }
        func decode(_ slice: ArraySlice<[Int32]>) -> Int {
            var tokens = 0
            for start in stride(from: slice.startIndex, to: slice.endIndex, by: batch) {
                let group = Array(slice[start..<min(start + batch, slice.endIndex)])
                let out = model.generate(
                    group, sampling: Array(repeating: .greedy, count: group.count),
                    maxNewTokens: newTokens)
                tokens += out.reduce(0) { $0 + $1.ids.count }
            }
            return tokens
        }
        _ = decode(inputs.prefix(batch))  // warm-up
        if breakdown {
            // One batch by phase: encoder, cross-attention memory projection, decoder steps.
            let group = Array(inputs.prefix(batch))
            var t = DispatchTime.now().uptimeNanoseconds
            func lap() -> Double {
                let now = DispatchTime.now().uptimeNanoseconds
                defer { t = now }
                return Double(now - t) / 1e9
            }
            let encoded = model.encode(group)
            let encode = lap()
            var cache = model.makeDecoderCache(encoderOutput: encoded, capacity: newTokens)
            let memory = lap()
            var next = [Int32](repeating: 0, count: group.count)
            var stepSeconds = 0.0
            var headSeconds = 0.0
            BLAS.Profile.reset()
            StepProfile.reset()
            BLAS.Profile.isEnabled = true
            StepProfile.isEnabled = true
            for _ in 0..<newTokens {
                let hidden = model.decoderStep(next, cache: &cache)
                stepSeconds += lap()
                next = model.logits(hidden).argmax().map { Int32($0) }
                headSeconds += lap()
            }
            BLAS.Profile.isEnabled = false
            StepProfile.isEnabled = false
            let gemm = BLAS.Profile.totals
            print(
                String(
                    format:
                        "decoder steps + head: sgemm %.2f s (%d calls, %.1f GFLOP/s), attention wall %.2f s",
                    gemm.seconds, gemm.calls, gemm.flops / gemm.seconds / 1e9,
                    StepProfile.section(StepProfile.Name.attention).seconds))
            print(
                String(
                    format:
                        "batch of %d: encoder %.2f s, memory projection %.2f s, decoder steps %.2f s, LM head + argmax %.2f s",
                    batch, encode, memory, stepSeconds, headSeconds))
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let tokens = decode(inputs.suffix(documents)[...])
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print(
            "inpars t5-generate \(shape): documents=\(documents) prompt=\(promptLength) new=\(newTokens) batch=\(batch): "
                + String(
                    format: "%.3f documents/s (%.2f s, %d tokens generated)",
                    Double(documents) / seconds, seconds, tokens))
    }
}
