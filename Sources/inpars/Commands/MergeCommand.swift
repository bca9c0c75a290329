import ArgumentParser
import Foundation
import InparsBM25
import InparsCore
import InparsFilter
import InparsGeneration
import InparsRanker

/// `inpars merge`: join the outputs of a command run with `--shard i/N` into its unsharded
/// output.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the outputs of a sharded command (--shard i/N) into the unsharded output.",
        discussion: """
            Takes the N shard outputs of one 'generate', 'filter', 'search', 'triples' or \
            'rerank' run (in any order) and writes exactly what the command writes without \
            --shard, byte for byte, with its manifest. Each shard's manifest (FILE.manifest.json) \
            names its shard and its run: a missing, unfinished, changed or duplicate shard, or \
            one from another run (other settings or inputs), is refused with the reason. \
            Filter shards hold scored rows; merge applies the global dedupe, sort and \
            --keep. See Docs/scaling.md.
            """)

    @OptionGroup var output: OutputOptions

    @Option(
        help:
            "Triples: the merged --ids-output (each shard's ids file is found through its manifest).")
    var idsOutput: String?

    @Argument(help: "The shard outputs (their manifests sit beside them).")
    var shards: [String]

    func validate() throws {
        if shards.isEmpty { throw ValidationError("give the shard outputs to merge") }
    }

    func run() throws {
        let set = try ShardSet.open(shards.map(URL.init(fileURLWithPath:)))
        let outputURL = URL(fileURLWithPath: output.output)
        var roles = [ResumableOutput<NoSummary>.main: outputURL]
        if let idsOutput { roles["ids"] = URL(fileURLWithPath: idsOutput) }
        var lines: [String] = []
        let kinds: [String: OutputKind]
        switch set.command {
        case "filter": kinds = ["main": QueryFilter.outputKind]
        case "search", "rerank": kinds = ["main": .trecRun]
        case "triples": kinds = ["main": TripleBuilder.outputKind, "ids": TripleBuilder.outputKind]
        case "generate": kinds = ["main": GenerateRun.outputKind]
        default: kinds = [:]
        }
        switch set.command {
        case "filter":
            var summary = try set.summary(FilterSummary.self)
            let selection = try FilterRun.select(
                set.members.map(\.url),
                configuration: FilterRun.selectionConfiguration(settings: set.settings))
            summary.add(selection.summary)
            try set.write(
                to: roles, kinds: kinds, summary: summary,
                transform: [
                    "main": { _, file in for line in selection.lines { try file.write(line + "\n") } }
                ])
            lines = summary.lines.map { "filter: \($0)" }
        case "search":
            let summary = try set.summary(SearchSummary.self)
            try set.write(to: roles, kinds: kinds, summary: summary)
            lines = ["search: \(summary.queries) queries, \(summary.lines) run lines"]
        case "triples":
            let summary = try set.summary(TriplesSummary.self)
            try set.write(to: roles, kinds: kinds, summary: summary)
            lines = summary.lines.map { "triples: \($0)" }
        case "rerank":
            let summary = try set.summary(RerankSummary.self)
            let inputs = set.members[0].manifest.inputs ?? [:]
            try summary.check(
                queriesPath: inputs["queries"]?.path ?? "the query file",
                corpusPath: inputs["corpus"]?.path ?? "the corpus")
            try set.write(to: roles, kinds: kinds, summary: summary)
            lines = ["rerank: \(summary.queries) queries, \(summary.pairsScored) pairs scored"]
                + summary.warnings
        default:
            try set.write(to: roles, kinds: kinds, summary: NoSummary())
        }
        lines += set.notes.map { "merge: note: \($0)" }
        lines.append(
            "merge: joined \(set.members.count) shards of '\(set.command)' into \(output.output)")
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
