/// One generated query, as read from `inpars generate` output, an InPars-toolkit file or a
/// legacy InPars-v1 file (see ``SyntheticQueryReader`` for the accepted field names).
public struct SyntheticQuery: Sendable, Equatable {
    /// Which field-name convention the row used.
    public enum Convention: String, Sendable, Equatable {
        /// `query` / `text` (inpars, InPars toolkit).
        case toolkit
        /// `question` / `doc_text` (InPars-v1 OpenAI scripts and released v1 data).
        case legacyV1
    }

    /// 1-based line number in the input file.
    public var lineNumber: Int
    /// The row's own `query_id` (or `qid`) when present, else the 0-based line index as text
    /// (the InPars-v1 convention for its ids file).
    public var queryId: String
    /// The source document's id (`doc_id`), numbers kept as their source text.
    public var docId: String
    /// The generated query text (`query` or `question`), as stored.
    public var query: String
    /// The source document's text as stored in the row (`text` or `doc_text`), if any.
    public var documentText: String?
    /// Natural-log probability of each generated token (`log_probs`), if present.
    public var logProbs: [Double]?
    /// The original JSON line, so output rows keep every field exactly as it was.
    public var rawLine: String
    /// The field-name convention of the row.
    public var convention: Convention

    public init(
        lineNumber: Int, queryId: String, docId: String, query: String,
        documentText: String? = nil, logProbs: [Double]? = nil, rawLine: String = "",
        convention: Convention = .toolkit
    ) {
        self.lineNumber = lineNumber
        self.queryId = queryId
        self.docId = docId
        self.query = query
        self.documentText = documentText
        self.logProbs = logProbs
        self.rawLine = rawLine
        self.convention = convention
    }

    /// Number of generated tokens, measured as the length of ``logProbs`` (generator tokens,
    /// stop token excluded), as the InPars tools do. `nil` when the row has no log-probs.
    public var tokenCount: Int? { logProbs?.count }
}
