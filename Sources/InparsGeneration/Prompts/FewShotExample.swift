import Foundation
import InparsCore

/// One few-shot example for a dynamic template: a query and the document it was asked about.
public struct FewShotExample: Sendable, Equatable {
    /// Recorded in each output row's `fewshot_examples`: the file's `query_id`, or the
    /// example's 1-based line number when the file has none.
    public var id: String
    public var query: String
    public var document: String

    public init(id: String, query: String, document: String) {
        self.id = id
        self.query = query
        self.document = document
    }

    /// Reads a JSONL file of `{"query": …, "document": …}` rows (optional `query_id`; the
    /// InPars few-shot files' `doc_id` and other fields are ignored). Blank lines are skipped.
    ///
    /// - Throws: `InparsCoreError.malformedLine` naming the file, line and field.
    public static func read(_ url: URL) throws -> [FewShotExample] {
        let reader = try LineReader(url: url)
        var examples: [FewShotExample] = []
        var failure: Error?
        while failure == nil,
            try reader.withNextLine({ bytes, line in
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
                do {
                    let record = try JSONLine.parseRecord(bytes, path: url.path, line: line)
                    examples.append(try example(record, path: url.path, line: line))
                } catch {
                    failure = error
                }
            })
        {}
        if let failure { throw failure }
        return examples
    }

    private static func example(_ record: [String: JSONLine.Value], path: String, line: Int)
        throws -> FewShotExample
    {
        func string(_ key: String) throws -> String {
            guard case .string(let value)? = record[key] else {
                throw InparsCoreError.malformedLine(
                    path: path, line: line, field: key,
                    reason: record[key] == nil ? "missing" : "must be a string")
            }
            return value
        }
        let id = record["query_id"]?.idString ?? String(line)
        return FewShotExample(id: id, query: try string("query"), document: try string("document"))
    }
}
