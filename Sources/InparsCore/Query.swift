/// One query (BEIR `queries.jsonl` record or a `id\ttext` TSV line).
public struct Query: Sendable, Hashable, Codable {
    /// The query id (`_id`).
    public var id: String
    /// The query text.
    public var text: String

    public init(id: String, text: String) {
        self.id = id
        self.text = text
    }
}
