extension Tensor {
    /// Embedding lookup: row `ids[i]` of `table` for each `i`.
    ///
    /// - Parameters:
    ///   - table: `[vocab, d]`.
    ///   - ids: token ids, each in `0..<vocab`; `idShape` gives their shape (default `[ids.count]`).
    /// - Returns: `idShape + [d]`.
    public static func embedding(_ table: Tensor, ids: [Int32], idShape: [Int]? = nil) -> Tensor {
        precondition(table.rank == 2, "embedding table must be [vocab, d], got \(table.shape)")
        let (vocab, d) = (table.shape[0], table.shape[1])
        let outShape = (idShape ?? [ids.count]) + [d]
        precondition(outShape.dropLast().reduce(1, *) == ids.count, "idShape \(idShape ?? []) for \(ids.count) ids")
        return Tensor(shape: outShape) { out in
            table.storage.withUnsafeBufferPointer { pt in
                for (row, id) in ids.enumerated() {
                    let token = Int(id)
                    precondition(token >= 0 && token < vocab, "token id \(token) outside vocabulary of \(vocab)")
                    let source = pt.baseAddress! + token * d
                    (out.baseAddress! + row * d).update(from: source, count: d)
                }
            }
        }
    }
}
