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
            MergeCommand.self,
        ])

    /// Parks OpenBLAS's threads before any command runs (``BLAS/parkThreads()``): commands
    /// without matrix products no longer pay for their spinning, and the others start them
    /// again on their first GEMM.
    static func main() async {
        BLAS.parkThreads()
        await main(nil)
    }
}
