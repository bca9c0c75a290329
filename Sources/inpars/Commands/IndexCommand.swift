import ArgumentParser
import Foundation
import InparsBM25
import InparsCore

/// `inpars index`: builds a BM25 index from a corpus.
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build a BM25 index (Lucene English analysis) from a corpus.",
        discussion: """
            The corpus is BEIR corpus.jsonl (_id, title, text) or TSV (id<TAB>text or \
            id<TAB>title<TAB>text), optionally .gz. Each document is indexed as \
            title + "\\n" + text. The index directory is written under a temporary name and \
            renamed when complete.
            """)

    @OptionGroup var corpus: CorpusOptions

    @Option(
        help: "The index folder to create (an earlier inpars index there is replaced; --index is the old name).")
    var output: String?

    /// The old spelling of `--output`, kept because the other commands read an index through
    /// `--index`.
    @Option(name: .customLong("index"), help: .hidden)
    var oldIndex: String?

    /// `--output`, or `--index` when given.
    var index: String { output ?? oldIndex ?? "" }

    func validate() throws {
        switch (output, oldIndex) {
        case (nil, nil): throw ValidationError("Missing expected argument '--output <output>'")
        case (.some, .some): throw ValidationError("give the index folder once: --output (or its old name --index)")
        default: break
        }
    }

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var badLines: BadLineOptions

    func run() throws {
        let started = Date()
        let progress = ProgressReporter(label: "documents indexed")
        let report = try BM25IndexBuilder.build(
            corpus: corpus.url, index: URL(fileURLWithPath: index),
            threads: threads.count, options: badLines.readOptions,
            progress: progress)
        let seconds = Date().timeIntervalSince(started)
        var lines = [
            "indexed \(report.documents) documents (\(report.documentsWithTerms) with terms),"
                + " \(report.terms) terms, \(report.tokens) tokens in"
                + " \(formatFixed(seconds, decimals: 2)) s; index \(report.indexBytes) bytes"
                + " at \(index)"
        ]
        if report.readStatistics.skippedBadLines > 0 {
            lines.append(
                "warning: skipped \(report.readStatistics.skippedBadLines) malformed lines;"
                    + " first: \(report.readStatistics.firstSkippedError?.errorDescription ?? "")")
        }
        if report.readStatistics.invalidUTF8Lines > 0 {
            lines.append(
                "warning: replaced invalid UTF-8 in \(report.readStatistics.invalidUTF8Lines)"
                    + " lines")
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
