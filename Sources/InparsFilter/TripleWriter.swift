import Foundation
import InparsCore

/// Formats triples as TSV lines: `query<TAB>positive text<TAB>negative text` (texts are
/// ``InparsCore/Document/rerankText`` through ``TripleBuilder/tsvField(_:)``, each document's
/// field built once however many triples name it) and `query_id<TAB>positive_id<TAB>negative_id`.
public struct TripleLineWriter {
    private let documents: [Document]
    private let position: [String: Int]
    private var fields: [Int: String] = [:]

    /// - Parameters:
    ///   - documents: the corpus; `position` maps every id the triples name to its index.
    public init(documents: [Document], position: [String: Int]) {
        self.documents = documents
        self.position = position
    }

    private mutating func text(_ id: String) -> String {
        let index = position[id]!
        if let field = fields[index] { return field }
        let field = TripleBuilder.tsvField(documents[index].rerankText)
        fields[index] = field
        return field
    }

    /// Appends the text line of `triple` to `out`.
    public mutating func appendLine(_ triple: Triple, to out: inout String) {
        out += TripleBuilder.tsvField(triple.query)
        out += "\t"
        out += text(triple.positiveId)
        out += "\t"
        out += text(triple.negativeId)
        out += "\n"
    }

    /// Appends the ids line of `triple` to `out`.
    public static func appendIdsLine(_ triple: Triple, to out: inout String) {
        out += TripleBuilder.tsvField(triple.queryId)
        out += "\t"
        out += triple.positiveId
        out += "\t"
        out += triple.negativeId
        out += "\n"
    }
}

extension TripleBuilder {
    /// Writes `triples` as text lines (``TripleLineWriter``), atomically.
    public static func write(
        _ triples: [Triple], documents: [Document], position: [String: Int], to url: URL
    ) throws {
        var writer = TripleLineWriter(documents: documents, position: position)
        try AtomicFile.write(to: url, replacing: outputKind) { file in
            var line = ""
            for t in triples {
                line.removeAll(keepingCapacity: true)
                writer.appendLine(t, to: &line)
                try file.write(line)
            }
        }
    }

    /// Writes the ids lines of `triples`, atomically.
    public static func writeIds(_ triples: [Triple], to url: URL) throws {
        try AtomicFile.write(to: url, replacing: outputKind) { file in
            var line = ""
            for t in triples {
                line.removeAll(keepingCapacity: true)
                TripleLineWriter.appendIdsLine(t, to: &line)
                try file.write(line)
            }
        }
    }
}
