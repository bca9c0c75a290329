import ArgumentParser
import Foundation
import InparsModels
import InparsTensor
import InparsTraining

#if canImport(Glibc)
    import Glibc
#endif

/// Cross-encoder scoring (pairs/s) and training steps (examples/s) on MiniLM-L6 and BERT-base
/// shapes with random weights, as `Scripts/bench/ref_cross_encoder.py` measures PyTorch.
struct CrossEncoderBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cross-encoder",
        abstract:
            "Cross-encoder pairs/s (scoring) and examples/s (training step), random weights.")

    @Option(help: "minilm (MiniLM-L6: 384 wide, 6 layers, 12 heads) or base (BERT-base).")
    var shape = "minilm"
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Tokens per pair.") var seqLen = 256
    @Option(help: "Pairs per batch.") var batch = 32
    @Option(help: "Timed batches (after one warm-up batch).") var batches = 3
    @Flag(help: "Time training steps (forward, backward, clipping, AdamW) instead of scoring.")
    var train = false
    @Option(help: "Scoring only: fp32, bf16 or int8 (the encoder's linear layers, converted once).")
    var precision = "fp32"

    func run() throws {
        BLAS.threads = threads
        ProcessMemory.retainFreedMemory()
        let base = shape == "base"
        let configuration = try BertConfiguration(object: [
            "model_type": "bert", "vocab_size": 30522, "hidden_size": base ? 768 : 384,
            "num_hidden_layers": base ? 12 : 6, "num_attention_heads": 12,
            "intermediate_size": base ? 3072 : 1536, "max_position_embeddings": 512,
            "num_labels": 1,
        ])
        var generator = BenchRandom(seed: 42)
        var tensors = [String: Tensor]()
        for entry in BertModel.parameterTable(for: configuration).entries {
            let std: Float = entry.name.contains("LayerNorm.weight") ? 0 : 0.02 * 1.7320508
            let offset: Float = entry.name.contains("LayerNorm.weight") ? 1 : 0
            tensors[entry.name] = Tensor(shape: entry.shape) { buffer in
                for i in 0..<buffer.count { buffer[i] = offset + generator.uniform() * std }
            }
        }
        guard let precision = Precision(rawValue: precision), !train || precision == .fp32 else {
            throw ValidationError("--precision must be fp32, bf16 or int8 (fp32 with --train)")
        }
        var model = try BertModel(configuration: configuration, tensors: tensors).converted(to: precision)
        tensors = [:]
        let inputs = (0..<batch).map { _ in
            BertInput(
                ids: (0..<seqLen).map { _ in Int32(1000 + generator.next() % 29000) },
                typeIDs: (0..<seqLen).map { $0 < seqLen / 4 ? 0 : 1 })
        }
        var optimizer = AdamW(
            parameters: model.parameterTable.optimizerParameters, learningRate: 2e-5)
        let relevant = (0..<batch).map { $0 % 2 == 0 }
        var dropout = SystemRandomNumberGenerator()
        func once() -> Float {
            guard train else { return model.logits(inputs).storage[0] }
            var gradients = model.parameters.zeros()
            let loss = model.accumulateGradients(
                inputs, dropoutRate: 0.1, into: &gradients, using: &dropout,
                loss: CrossEncoderLoss.pointwise(numLabels: 1, relevant: relevant))
            GradientClipping.clip(&gradients, maxNorm: 1)
            model.updateParameters { optimizer.step(&$0, gradients: gradients) }
            return loss
        }
        var sink = once()
        BLAS.Profile.reset()
        BLAS.Profile.isEnabled = true
        StepProfile.reset()
        StepProfile.isEnabled = true
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<batches { sink += once() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(batches)
        BLAS.Profile.isEnabled = false
        StepProfile.isEnabled = false
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(
            "inpars cross-encoder \(shape) \(train ? "train" : "score") \(precision.rawValue) threads=\(threads) batch=\(batch) seqlen=\(seqLen): "
                + String(
                    format: "%.3f s/batch, %.2f %@/s, peak RSS %.0f MB (check %.3f)", seconds,
                    Double(batch) / seconds, train ? "examples" : "pairs",
                    Double(usage.ru_maxrss) / 1024, sink))
        let gemm = BLAS.Profile.totals
        print(
            String(
                format:
                    "  per batch: GEMM calls %.3f s (%.0f GFLOP, %.1f GFLOP/s), attention kernel %.3f s",
                gemm.seconds / Double(batches), gemm.flops / 1e9 / Double(batches),
                gemm.flops / 1e9 / max(gemm.seconds, 1e-9),
                StepProfile.section(StepProfile.Name.attention).seconds / Double(batches)))
    }
}
