import ArgumentParser
import InparsCore
import InparsTensor

/// The `inpars` command: synthetic training data for neural rankers, the InPars way.
@main
struct Inpars: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inpars",
        abstract: "Train neural rerankers without human labels (InPars).",
        discussion: """
            Pipeline: generate → filter → index/search → triples → train → rerank → evaluate.
            Data goes to stdout or --output files; progress and diagnostics go to stderr.
            """,
        version: InparsVersion.string,
        subcommands: [
            GenerateCommand.self, FilterCommand.self, IndexCommand.self, SearchCommand.self,
            TriplesCommand.self, TrainCommand.self, RerankCommand.self, EvaluateCommand.self,
            DownloadCommand.self,
            MergeCommand.self, PipelineCommand.self,
        ])

    /// Parses the command as ArgumentParser's own `main` does, sets the numeric libraries'
    /// environment for a model command (``NumericsEnvironment``: may execute this binary again),
    /// parks OpenBLAS's threads (``BLAS/parkThreads()``: commands without matrix products no
    /// longer pay for their spinning, the others start them again on their first GEMM), then
    /// runs it.
    static func main() async {
        do {
            var command = try parseAsRoot()
            NumericsEnvironment.prepare()
            BLAS.parkThreads()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
