import ArgumentParser
import InparsCore

/// `--overwrite` and `--shard i/N`: how a resumable command treats an earlier output, and
/// which part of the work it does. Shared by `generate`, `filter`, `search`, `triples` and
/// `rerank` (see Docs/scaling.md).
struct ResumeOptions: ParsableArguments {
    @Flag(
        help:
            "Discard an earlier output of this command (partial or finished, with its manifest) and start over, instead of resuming it."
    )
    var overwrite = false

    @Option(
        help:
            "Do only shard i of N (0 ≤ i < N; e.g. $SLURM_ARRAY_TASK_ID/N) of the work, into this --output; 'inpars merge' joins the N outputs into the unsharded one."
    )
    var shard: Shard?

    /// Off while the pipeline runs shards itself and joins them (budgeted generation's
    /// rounds), so its rounds do not tell the user to run 'inpars merge'.
    @TaskLocal static var suggestsMerge = true

    /// `" (shard i/N; join the shards with 'inpars merge')"` for a sharded run, else `""`: the
    /// end of a command's summary line.
    var shardNote: String {
        guard let shard else { return "" }
        return Self.suggestsMerge
            ? " (shard \(shard); join the shards with 'inpars merge')" : " (shard \(shard))"
    }
}

extension Shard: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}
