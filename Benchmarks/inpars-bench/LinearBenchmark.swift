import ArgumentParser
import Foundation
import InparsTensor

/// GFLOP/s of one linear layer `x · Wᵀ` at a causal LM's shapes: the weight packed for
/// oneDNN (``LinearWeight/packedForInference()`` or converted to bf16/int8) against OpenBLAS
/// `sgemm` on the plain fp32 matrix, at decoding (a few rows) and prefill (many rows) sizes.
struct LinearBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linear",
        abstract: "GFLOP/s of packed linear layers vs cblas_sgemm (Qwen2.5-0.5B shapes).")

    @Option(help: "Threads.") var threads = 2
    @Option(help: "fp32, bf16 or int8 (the packed weight).") var precision = "fp32"
    @Option(help: "Comma-separated row counts.") var rows = "32,256,1024,4096"
    @Option(help: "Timed repetitions (median).") var repeats = 5
    @Option(help: "Comma-separated weight shapes out×in (x between).")
    var shapes = "1152x896,896x896,9728x896,896x4864,151936x896"
    @Flag(help: "Rotate over enough packed copies of each weight (≥ 600 MB) that every product reads its weights from memory, as a model's layers do, not from the cache.")
    var cold = false

    func run() throws {
        BLAS.threads = threads
        guard let precision = Precision(rawValue: precision) else {
            throw ValidationError("--precision: fp32, bf16 or int8, got \(self.precision)")
        }
        let env = ProcessInfo.processInfo.environment
        print("OpenBLAS core: \(BLAS.coreName); OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)") threads=\(threads); oneDNN \(DNNLInfo.version) \(DNNLInfo.effectiveISA)")
        print("| out×in | rows | packed \(precision) GFLOP/s | GB/s of weights | packed GFLOP per CPU-second | sgemm GFLOP/s |")
        print("|---|---:|---:|---:|---:|---:|")
        let rowCounts = rows.split(separator: ",").compactMap { Int($0) }
        for shape in shapes.split(separator: ",") {
            let sides = shape.split(separator: "x").compactMap { Int($0) }
            guard sides.count == 2 else { throw ValidationError("--shapes: out×in pairs such as 9728x896, got \(shape)") }
            let (n, k) = (sides[0], sides[1])
            var random = SystemRandomNumberGenerator()
            let matrix = Tensor(shape: [n, k], storage: (0..<(n * k)).map { _ in Float.random(in: -0.1...0.1, using: &random) })
            let plain = LinearWeight(matrix)
            func pack() -> LinearWeight {
                precision == .fp32 ? plain.packedForInference() : plain.converted(to: precision)
            }
            let packed = pack()
            let copies = cold ? max(1, (600 << 20) / max(1, packed.byteCount)) : 1
            let packedCopies = [packed] + (1..<copies).map { _ in pack() }
            var turn = 0
            for m in rowCounts where n < 100_000 || m <= 64 {
                let x = Tensor(shape: [m, k], storage: (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &random) })
                let flops = 2 * Double(m) * Double(n) * Double(k)
                let (p, cpu) = time {
                    _ = packedCopies[turn % copies].matmul(x)
                    turn += 1
                }
                let (s, _) = time { _ = plain.matmul(x) }
                print(String(
                    format: "| %d×%d | %d | %.1f | %.1f | %.1f | %.1f |", n, k, m, flops / p / 1e9,
                    Double(packed.byteCount) / p / 1e9, flops / cpu / 1e9, flops / s / 1e9))
            }
        }
    }

    /// Median wall seconds of `repeats` runs after one warm-up, and the median CPU seconds of
    /// the process (all threads, spinning included) per run: with `--threads 1` a measure of
    /// the kernel itself that another process's load does not change much.
    private func time(_ body: () -> Void) -> (wall: Double, cpu: Double) {
        var timings = [Double]()
        var cpu = [Double]()
        for iteration in 0...repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = Self.cpuSeconds()
            body()
            if iteration > 0 {
                timings.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                cpu.append(Self.cpuSeconds() - cpuStart)
            }
        }
        return (timings.sorted()[timings.count / 2], cpu.sorted()[cpu.count / 2])
    }

    /// User + system CPU time of the process so far.
    private static func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
