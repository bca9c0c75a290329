import ArgumentParser
import Foundation
import InparsModels
import InparsRanker
import InparsTensor
import InparsTestSupport

/// monoT5 scoring per `--precision` on a real-shape model with random weights: pairs/s, weight
/// bytes, peak RSS, and fidelity against fp32 (Spearman, max |Δ log P(true)|, top-10 overlap
/// per group of 30 documents).
///
/// The model is built one tensor at a time and converted as it loads, as `T5Model.load`
/// does from a checkpoint, so the peak RSS is the converted model's (run one precision per
/// process to read it: VmHWM never falls).
struct T5PrecisionBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "precision",
        abstract: "monoT5 pairs/s, memory and fidelity per --precision (random real-shape weights).")

    @Option(help: "small, base or 3b (monoT5-3B: d_model 1024, d_ff 16384, 24+24 layers).")
    var shape = "base"
    @Option(help: "Comma-separated precisions: fp32, bf16, int8.") var precision = "fp32,int8"
    @Option(help: "Threads (OpenBLAS and oneDNN).") var threads = 2
    @Option(help: "Input tokens per timed pair.") var seqLen = 512
    @Option(help: "Pairs per forward pass.") var batch = 8
    @Option(help: "Timed pairs (after one warm-up batch; 0 skips timing).") var pairs = 16
    @Option(help: "Pairs scored at fp32 and each precision for fidelity (0 skips).")
    var fidelityPairs = 0
    @Option(help: "Input tokens per fidelity pair (lengths vary from a quarter of this up).")
    var fidelityLength = 128

    func run() throws {
        BLAS.threads = threads
        let env = ProcessInfo.processInfo.environment
        print(
            "OpenBLAS core \(BLAS.coreName), OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)"); oneDNN \(DNNLInfo.version) ISA \(DNNLInfo.effectiveISA) (DNNL_MAX_CPU_ISA=\(env["DNNL_MAX_CPU_ISA"] ?? "(unset)")); threads \(threads)"
        )
        let c = try configuration(shape)
        let precisions = try precision.split(separator: ",").map { name in
            guard let p = Precision(rawValue: String(name)) else {
                throw ValidationError("--precision: unknown '\(name)' (fp32, bf16, int8)")
            }
            return p
        }
        for p in [Precision.bf16, .int8] where precisions.contains(p) {
            let rows = batch * seqLen
            if p == .int8 && DNNLInfo.int8RunsOnInparsKernel {
                print("int8: inpars AVX-512 VNNI kernel (INPARS_INT8_GEMM=onednn for oneDNN's matmul)")
                continue
            }
            print(
                "oneDNN \(p): \(DNNLInfo.implementation(precision: p, rows: 256, inFeatures: c.dModel, outFeatures: c.dFF)) (256 × \(c.dModel) · \(c.dModel) × \(c.dFF); a \(rows)-row product runs as 256-row calls)"
            )
        }
        var generator = BenchRandom(seed: 7)
        let timed = (0..<(pairs + batch)).map { _ in
            (0..<seqLen).map { _ in Int32(5 + generator.next() % 31995) }
        }
        let fidelityInputs = (0..<fidelityPairs).map { _ -> [Int32] in
            let length = fidelityLength / 4 + Int(generator.next() % UInt64(fidelityLength * 3 / 4))
            return (0..<length).map { _ in Int32(5 + generator.next() % 31995) } + [1]
        }
        var reference: [Float]?
        if fidelityPairs > 0 {
            reference = try scorer(c, .fp32).score(inputs: fidelityInputs)
        }
        print("| shape | precision | weights GiB | peak RSS GiB | pairs/s | s/pair | attention s/pair | attention GFLOP/s | Spearman | max abs Δ | top-10 overlap |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for p in precisions {
            let scorer = try scorer(c, p)
            var rate = "-"
            var perPair = "-"
            var attention = ["-", "-"]
            if pairs > 0 {
                _ = scorer.score(inputs: Array(timed.prefix(batch)))
                StepProfile.reset()
                StepProfile.isEnabled = true
                let start = DispatchTime.now().uptimeNanoseconds
                _ = scorer.score(inputs: Array(timed.suffix(pairs)))
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                StepProfile.isEnabled = false
                rate = f(Double(pairs) / seconds)
                perPair = f(seconds / Double(pairs), 3)
                let totals = StepProfile.section(StepProfile.Name.attention)
                attention = [
                    f(totals.seconds / Double(pairs), 3), f(totals.gflops, 1),
                ]
            }
            var fidelity = ["-", "-", "-"]
            if let reference {
                let scores = scorer.score(inputs: fidelityInputs)
                let maxDelta = zip(scores, reference).map { abs($0 - $1) }.max() ?? 0
                let groups = stride(from: 0, to: scores.count - 29, by: 30).map {
                    topOverlap(Array(scores[$0..<($0 + 30)]), Array(reference[$0..<($0 + 30)]), k: 10)
                }
                let overlap = Double(groups.reduce(0, +)) / Double(max(1, groups.count))
                fidelity = [f(spearman(scores, reference), 6), f(Double(maxDelta), 4), f(overlap, 2)]
            }
            let gib = { (bytes: Int) in self.f(Double(bytes) / Double(1 << 30), 2) }
            print(
                "| \(shape) | \(p) | \(gib(scorer.model.parameters.weightBytes)) | \(gib(peakResident())) | \(rate) | \(perPair) | \(attention.joined(separator: " | ")) | \(fidelity.joined(separator: " | ")) |"
            )
        }
    }

    func configuration(_ shape: String) throws -> T5Configuration {
        switch shape {
        case "small":
            T5Configuration(vocabSize: 32128, dModel: 512, dKV: 64, dFF: 2048, numLayers: 6, numHeads: 8)
        case "base":
            T5Configuration(vocabSize: 32128, dModel: 768, dKV: 64, dFF: 3072, numLayers: 12, numHeads: 12)
        case "3b":
            T5Configuration(
                vocabSize: 32128, dModel: 1024, dKV: 128, dFF: 16384, numLayers: 24, numHeads: 32)
        default: throw ValidationError("--shape: small, base or 3b")
        }
    }

    /// A scorer whose model is built tensor by tensor (each from its own seed) and converted
    /// to `precision` as it loads.
    func scorer(_ c: T5Configuration, _ precision: Precision) throws -> MonoT5Scorer {
        let specs = T5Benchmark.randomTensorSpecs(c)
        let index = Dictionary(uniqueKeysWithValues: specs.enumerated().map { ($1.name, $0) })
        let model = try T5Model(
            configuration: c, hasHead: false, headIsAlias: false, precision: precision,
            shape: { index[$0].map { specs[$0].shape } },
            tensor: { name in
                var generator = BenchRandom(seed: 1000 + UInt64(index[name]!))
                return specs[index[name]!].make(&generator)
            })
        return try MonoT5Scorer(model: model, positiveID: 1176, negativeID: 6136, batchSize: batch)
    }

    /// The process's peak resident set (VmHWM), bytes.
    func peakResident() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return 0
        }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 1024
        }
        return 0
    }

    private func f(_ value: Double, _ decimals: Int = 2) -> String {
        String(format: "%.\(decimals)f", value)
    }
}
