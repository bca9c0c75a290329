import Foundation

/// The two-document rerank inputs several CLI tests share: a corpus of `d1` (Paris, the
/// relevant one) and `d2` (the fox), the query `q1` "what is the capital of france", and a
/// BM25 run that ranks `d2` first, so a working reranker visibly reorders it.
struct ParisRerankInputs {
    let corpus: String
    let queries: String
    let run: String

    /// Writes `corpus.jsonl`, `queries.tsv` and `run.trec` into `folder`.
    init(in folder: URL) throws {
        func write(_ text: String, _ name: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        corpus = try write(
            """
            {"_id": "d1", "title": "", "text": "Paris is the capital and largest city of France."}
            {"_id": "d2", "title": "", "text": "The quick brown fox jumps over the lazy dog."}

            """, "corpus.jsonl")
        queries = try write("q1\twhat is the capital of france\n", "queries.tsv")
        run = try write("q1 Q0 d2 1 9.5 bm25\nq1 Q0 d1 2 8.5 bm25\n", "run.trec")
    }

    /// `rerank --model MODEL` over these inputs into `output`, plus `extra` arguments.
    func arguments(model: String, output: String, _ extra: [String]) -> [String] {
        ["rerank", "--model", model, "--corpus", corpus, "--queries", queries, "--run", run, "--output", output]
            + extra
    }
}
