import Foundation
import InparsCore

extension TripleBuilder {
    /// Writes `triples` as `query<TAB>positive text<TAB>negative text` lines, atomically.
    ///
    /// Texts are ``InparsCore/Document/rerankText`` through ``tsvField(_:)``, each document's
    /// field built once however many triples name it.
    ///
    /// - Parameters:
    ///   - documents: the corpus; `position` maps every id the triples name to its index.
    public static func write(
        _ triples: [Triple], documents: [Document], position: [String: Int], to url: URL
    ) throws {
        var fields: [Int: String] = [:]
        func text(_ id: String) -> String {
            let index = position[id]!
            if let field = fields[index] { return field }
            let field = tsvField(documents[index].rerankText)
            fields[index] = field
            return field
        }
        // Pieces are appended to the file's buffer one by one: no line string is built.
        try AtomicFile.write(to: url) { file in
            for t in triples {
                try file.write(tsvField(t.query))
                try file.write("\t")
                try file.write(text(t.positiveId))
                try file.write("\t")
                try file.write(text(t.negativeId))
                try file.write("\n")
            }
        }
    }

    /// Writes `query_id<TAB>positive_id<TAB>negative_id` lines, atomically.
    public static func writeIds(_ triples: [Triple], to url: URL) throws {
        try AtomicFile.write(to: url) { file in
            for t in triples {
                try file.write(tsvField(t.queryId))
                try file.write("\t")
                try file.write(t.positiveId)
                try file.write("\t")
                try file.write(t.negativeId)
                try file.write("\n")
            }
        }
    }
}
