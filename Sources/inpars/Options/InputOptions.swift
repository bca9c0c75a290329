import ArgumentParser
import Foundation
import InparsHub

// The input files several commands read, with one help text each.

/// `--corpus FILE|beir/<name>` (required).
struct CorpusOptions: ParsableArguments {
    static let help: ArgumentHelp =
        "Corpus: BEIR corpus.jsonl (_id, title, text) or TSV (id<TAB>text or id<TAB>title<TAB>text), optionally .gz; or a BEIR data set, beir/<name>."

    @Option(help: help)
    var corpus: String

    /// The corpus file, a BEIR data set's fetched first (the one place a command turns
    /// `--corpus` into a file).
    var url: URL { get throws { try DatasetLocator.resolve(corpus, role: .corpus) } }
}

/// `--queries FILE|beir/<name>[/<split>]` (required).
struct QueriesOptions: ParsableArguments {
    @Option(
        help:
            "Queries: BEIR queries.jsonl (_id, text) or TSV (id<TAB>text), optionally .gz; or beir/<name>[/<split>] (the split's queries; default split test)."
    )
    var queries: String

    /// The query file, a BEIR split's written first.
    var url: URL { get throws { try DatasetLocator.resolve(queries, role: .queries) } }
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
}
