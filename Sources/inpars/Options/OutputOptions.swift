import ArgumentParser

/// `--output FILE` (required) for commands that write one file at the end.
struct OutputOptions: ParsableArguments {
    @Option(
        help:
            "Output file, written under a temporary name and renamed when complete (never half-written)."
    )
    var output: String
}
