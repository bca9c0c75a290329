import ArgumentParser
import Foundation
import InparsCore

// The input files several commands read, with one help text each.

/// `--corpus FILE` (required).
struct CorpusOptions: ParsableArguments {
    static let help: ArgumentHelp =
        "Corpus: BEIR corpus.jsonl (_id, title, text) or TSV (id<TAB>text or id<TAB>title<TAB>text), optionally .gz."

    @Option(help: help)
    var corpus: String

    /// The corpus file (the one place a command turns `--corpus` into a file).
    var url: URL { URL(fileURLWithPath: corpus) }
}

/// `--queries FILE` (required).
struct QueriesOptions: ParsableArguments {
    @Option(help: "Queries: BEIR queries.jsonl (_id, text) or TSV (id<TAB>text), optionally .gz.")
    var queries: String

    /// The query file.
    var url: URL { URL(fileURLWithPath: queries) }
}

/// `--corpus`, `--queries` and `--run`: a first-stage run with the texts it ranks.
struct RunInputOptions: ParsableArguments {
    @OptionGroup var corpus: CorpusOptions
    @OptionGroup var queries: QueriesOptions

    @Option(name: .customLong("run"), help: "First-stage TREC run (qid Q0 docid rank score tag).")
    var runFile: String

    /// The run file.
    var runURL: URL { URL(fileURLWithPath: runFile) }
}

/// `--skip-bad-lines`.
struct BadLineOptions: ParsableArguments {
    @Flag(
        help:
            "Count and skip malformed input lines (and rows naming unknown documents) instead of stopping."
    )
    var skipBadLines = false

    /// Reader options that skip (or name this flag in the error of) a malformed line.
    var readOptions: ReadOptions { ReadOptions(skipBadLines: skipBadLines, skipFlag: "--skip-bad-lines") }
}
