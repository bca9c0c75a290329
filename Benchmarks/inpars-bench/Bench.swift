import ArgumentParser
import InparsTensor

/// Release-build benchmarks. Run `swift run -c release inpars-bench --help`.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inpars-bench",
        abstract: "Benchmarks for inpars (release builds only; see Docs/performance.md).",
        subcommands: [
            GEMMBenchmark.self, CheckpointBenchmark.self, TokenizerBenchmark.self, T5Benchmark.self,
            T5GenerateBenchmark.self, TrainStepBenchmark.self, BM25Benchmark.self,
            BM25ScaleBenchmark.self, GenerateBenchmark.self, TriplesBenchmark.self,
            LoopbackHubCommand.self, ResumeBenchmark.self, T5PrecisionBenchmark.self,
            CrossEncoderBenchmark.self, LLMGenerateBenchmark.self, LinearBenchmark.self,
        ])

    /// Keeps large allocations on the heap, as `inpars` does for its model commands
    /// (``AllocatorSettings/keepLargeAllocations()``), then runs the subcommand.
    static func main() {
        AllocatorSettings.keepLargeAllocations()
        main(nil)
    }
}
