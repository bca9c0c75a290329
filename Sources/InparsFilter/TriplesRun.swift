import Foundation
import InparsBM25
import InparsCore

/// The `triples` stage end to end: resumable, shardable, written atomically.
///
/// Work items are the input rows; with `shard`, a contiguous block of them. Each row's
/// triples (and ids lines, with an ids output) are appended to the partial files in row order
/// as the parallel searches finish, and committed about once a second (``ResumableOutput``);
/// a killed run continues at the first uncommitted row. Each row's negatives depend only on
/// `--seed` and its index in the whole input, so shards concatenate (`inpars merge`) into the
/// unsharded output.
public struct TriplesRun {
    /// The ids output's role in the manifest and the merge.
    public static let idsRole = "ids"

    public var configuration: TripleConfiguration
    public var input: URL
    public var index: URL
    public var corpus: URL
    public var output: URL
    public var idsOutput: URL?
    /// `--shard i/N`; `nil`: every row.
    public var shard: Shard?
    public var overwrite = false

    public init(
        configuration: TripleConfiguration, input: URL, index: URL, corpus: URL, output: URL,
        idsOutput: URL?
    ) {
        self.configuration = configuration
        self.input = input
        self.index = index
        self.corpus = corpus
        self.output = output
        self.idsOutput = idsOutput
    }

    /// The settings that change the outputs' bytes and the inputs' identities (threads do
    /// not: every row's draw is its own).
    public func manifest() throws -> OutputManifest {
        let c = configuration
        return OutputManifest(
            command: "triples",
            settings: [
                "negatives": String(c.negatives), "depth": String(c.depth), "seed": String(c.seed),
                "skip_bad_lines": String(c.skipBadLines), "ids_output": String(idsOutput != nil),
            ],
            inputs: [
                "input": try InputIdentity.of(input), "index": try BM25Index.identity(of: index),
                "corpus": try InputIdentity.of(corpus),
            ],
            info: ["threads": String(c.threads)], shard: shard)
    }

    /// Opens the outputs: fresh, resumed, or already complete.
    public func open() throws -> ResumableOutput<TriplesSummary> {
        var outputs = [OutputManifest.mainRole: output]
        if let idsOutput { outputs[Self.idsRole] = idsOutput }
        return try ResumableOutput(
            outputs: outputs,
            kinds: outputs.mapValues { _ in TripleBuilder.outputKind }, inputs: [input, corpus],
            manifest: try manifest(), overwrite: overwrite)
    }

    /// Builds this shard's rows still to do and finishes the outputs.
    ///
    /// - Parameters:
    ///   - rows: every row of the input (the shard picks its block).
    ///   - documents, position: the corpus and each id's index in it.
    ///   - progress: advanced once per row done now.
    public func run(
        _ builder: TripleBuilder, rows: [SyntheticQuery], documents: [Document],
        position: [String: Int], output resumable: ResumableOutput<TriplesSummary>,
        progress: ProgressReporter?
    ) throws -> TriplesSummary {
        let range = (shard ?? .whole).range(of: rows.count)
        let start = resumable.itemsAtStart
        guard start <= range.count else {
            throw InparsCoreError.cannotResume(
                path: output.path,
                reason: "its manifest records \(start) rows done but there are \(range.count);"
                    + " rerun with --overwrite")
        }
        var summary = resumable.summary
        summary.depth = configuration.depth
        var writer = TripleLineWriter(documents: documents, position: position)
        var text = ""
        var ids = ""
        try builder.forEachRow(rows, in: (range.lowerBound + start)..<range.upperBound) {
            i, triples, part in
            text.removeAll(keepingCapacity: true)
            ids.removeAll(keepingCapacity: true)
            for triple in triples {
                writer.appendLine(triple, to: &text)
                if idsOutput != nil { TripleLineWriter.appendIdsLine(triple, to: &ids) }
            }
            try resumable.append(text)
            if idsOutput != nil { try resumable.append(ids, to: Self.idsRole) }
            summary.add(part)
            try resumable.commit(items: i - range.lowerBound + 1, summary: summary)
            progress?.advance()
        }
        try resumable.finish(items: range.count, summary: summary)
        return summary
    }
}
