/// One corpus document (BEIR `corpus.jsonl` record).
public struct Document: Sendable, Hashable, Codable {
    /// The document id (`_id`), unique within a corpus.
    public var id: String
    /// The title; empty when the corpus has none.
    public var title: String
    /// The body text; may be empty (empty documents are kept).
    public var text: String

    public init(id: String, title: String = "", text: String) {
        self.id = id
        self.title = title
        self.text = text
    }

    /// The text BM25 indexes: `title + "\n" + text`, always with the newline, even when the
    /// title is empty (Anserini `BeirFlatCollection`, the "bm25-flat" condition of Pyserini's
    /// BEIR tables). The newline is a token boundary, so it never changes the tokens.
    public var flatContents: String { title + "\n" + text }

    /// The text a reranker sees: `title + " " + text` when the title is non-empty, else
    /// `text` (the monoT5 / InPars toolkit convention).
    public var rerankText: String { title.isEmpty ? text : title + " " + text }
}
