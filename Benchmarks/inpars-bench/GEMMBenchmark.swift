import ArgumentParser
import Foundation
import InparsTensor

/// GFLOP/s of raw `cblas_sgemm` and of the tensor module on transformer shapes.
struct GEMMBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm", abstract: "GFLOP/s of cblas_sgemm vs the tensor module; --int8: GOP/s of int8 linear layers.")

    @Flag(help: "GOP/s of int8 linear layers (x · Wᵀ with per-row activation quantization and the rescale) at T5 shapes instead; INPARS_INT8_GEMM=onednn runs them on oneDNN's matmul.")
    var int8 = false

    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Timed repetitions per measurement.") var repeats = 5
    @Option(help: "Interleaved rounds per shape; the median of the rounds' medians is reported.") var rounds = 5

    enum Mode { case raw, into, allocating }

    private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    private func f1(_ value: Double) -> String { String(format: "%.1f", value) }

    func run() throws {
        BLAS.threads = threads
        if int8 { return measureInt8() }
        let env = ProcessInfo.processInfo.environment
        print("OpenBLAS core: \(BLAS.coreName); config: \(BLAS.configuration)")
        print(
            "OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)") OPENBLAS_L2_SIZE=\(env["OPENBLAS_L2_SIZE"] ?? "(unset)") threads=\(threads)"
        )
        print("| shape | raw cblas_sgemm GFLOP/s | tensor module (into buffer) | ratio | tensor module (allocating) | ratio |")
        print("|---|---:|---:|---:|---:|---:|")
        for (name, batch, m, n, k) in [
            ("512×768×768 (x·Wᵀ)", 1, 512, 768, 768),
            ("512×3072×768 (x·Wᵀ)", 1, 512, 3072, 768),
            ("512×768×3072 (x·Wᵀ)", 1, 512, 768, 3072),
            ("8·12 × 512×512×64 (Q·Kᵀ)", 96, 512, 512, 64),
            ("8·12 × 512×64×512 (P·V)", 96, 512, 64, 512),
        ] {
            // Interleave the variants so machine noise hits all of them alike.
            var raw = [Double](), into = [Double](), allocating = [Double]()
            for _ in 0..<rounds {
                raw.append(measure(batch: batch, m: m, n: n, k: k, mode: .raw))
                into.append(measure(batch: batch, m: m, n: n, k: k, mode: .into))
                allocating.append(measure(batch: batch, m: m, n: n, k: k, mode: .allocating))
            }
            let (r, i, a) = (median(raw), median(into), median(allocating))
            print(
                "| \(name) | \(f1(r)) | \(f1(i)) | \(String(format: "%.3f", i / r)) | \(f1(a)) | \(String(format: "%.3f", a / r)) |"
            )
        }
    }

    /// Median GFLOP/s over `repeats` runs.
    private func measure(batch: Int, m: Int, n: Int, k: Int, mode: Mode) -> Double {
        var random = SystemRandomNumberGenerator()
        let isAttentionScores = batch > 1 && n == m
        // Q·Kᵀ: a [b, m, k] · b [b, n, k]ᵀ; P·V: a [b, m, k] · b [b, k, n]; linear: x [m, k] · W [n, k]ᵀ.
        let transposeB = batch == 1 || isAttentionScores
        let a = Tensor(shape: [batch, m, k], storage: (0..<(batch * m * k)).map { _ in Float.random(in: -1...1, using: &random) })
        let bShape = transposeB ? [batch, n, k] : [batch, k, n]
        let b = Tensor(shape: bShape, storage: (0..<(batch * n * k)).map { _ in Float.random(in: -1...1, using: &random) })
        let weight = batch == 1 ? b.reshaped(transposeB ? [n, k] : [k, n]) : b
        var c = [Float](repeating: 0, count: batch * m * n)
        var reused = Tensor(zeros: batch == 1 ? [m, n] : [batch, m, n])
        let a2D = a.reshaped([batch * m, k])
        var sink: Float = 0
        var timings = [Double]()
        for iteration in 0...repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            if mode == .allocating {
                let result =
                    batch == 1
                    ? Tensor.matmul(a2D, weight, transposeB: transposeB)
                    : Tensor.batchedMatmul(a, b, transposeB: transposeB)
                sink += result.storage[0]
            } else if mode == .into {
                if batch == 1 {
                    Tensor.matmul(a2D, weight, transposeB: transposeB, into: &reused)
                } else {
                    Tensor.batchedMatmul(a, b, transposeB: transposeB, into: &reused)
                }
                sink += reused.storage[0]
            } else {
                a.storage.withUnsafeBufferPointer { pa in
                    b.storage.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            for index in 0..<batch {
                                BLAS.sgemm(
                                    transposeA: false, transposeB: transposeB, m: m, n: n, k: k,
                                    a: pa.baseAddress! + index * m * k, lda: k,
                                    b: pb.baseAddress! + index * n * k, ldb: transposeB ? k : n,
                                    c: pc.baseAddress! + index * m * n, ldc: n)
                            }
                        }
                    }
                }
                sink += c[0]
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if iteration > 0 { timings.append(seconds) }  // the first run is a warm-up
        }
        if sink.isNaN { print("") }
        timings.sort()
        let median = timings[timings.count / 2]
        return 2.0 * Double(batch * m * n * k) / median / 1e9
    }

    /// GOP/s (2 · rows · in · out per product, the activation quantization and rescale
    /// included) of `LinearWeight.matmul` at int8, T5-base and t5-small linear shapes.
    private func measureInt8() {
        print("int8 kernel: \(DNNLInfo.int8RunsOnInparsKernel ? "inpars AVX-512 VNNI" : "oneDNN matmul"); oneDNN ISA \(DNNLInfo.effectiveISA); threads=\(threads)")
        print("| rows | in × out | GOP/s |")
        print("|---:|---|---:|")
        var random = SystemRandomNumberGenerator()
        for (k, n) in [(768, 768), (768, 2304), (768, 3072), (3072, 768), (512, 512), (512, 2048), (2048, 512)] {
            let w = Tensor(shape: [n, k], storage: (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &random) })
            let weight = LinearWeight(w).converted(to: .int8)
            for m in [256, 4096] {
                let x = Tensor(shape: [m, k], storage: (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &random) })
                var rates = [Double]()
                for _ in 0..<rounds {
                    var timings = [Double]()
                    for iteration in 0...repeats {
                        let start = DispatchTime.now().uptimeNanoseconds
                        let result = weight.matmul(x)
                        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                        if result.storage[0].isNaN { print("") }
                        if iteration > 0 { timings.append(seconds) }
                    }
                    rates.append(2.0 * Double(m * n * k) / median(timings) / 1e9)
                }
                print("| \(m) | \(k) × \(n) | \(f1(median(rates))) |")
            }
        }
    }
}
