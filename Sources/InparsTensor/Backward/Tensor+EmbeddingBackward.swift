extension Tensor {
    /// Backward of ``embedding(_:ids:idShape:)``: row `i` of `dy` is added to row `ids[i]` of
    /// the table gradient (a scatter-add; repeated ids accumulate).
    ///
    /// - Parameters:
    ///   - dy: `[..., d]` with `ids.count` rows.
    ///   - ids: the token ids of the forward pass.
    ///   - tableGradient: `[vocab, d]`; the gradient is added to it.
    public static func embeddingBackward(
        outputGradient dy: Tensor, ids: [Int32], tableGradient: inout Tensor
    ) {
        precondition(tableGradient.rank == 2, "embedding table gradient must be [vocab, d]")
        let (vocab, d) = (tableGradient.shape[0], tableGradient.shape[1])
        precondition(
            dy.lastDimension == d && dy.rowCount == ids.count,
            "embeddingBackward: dy \(dy.shape) for \(ids.count) ids of width \(d)")
        dy.storage.withUnsafeBufferPointer { pdy in
            tableGradient.storage.withUnsafeMutableBufferPointer { pt in
                for (row, id) in ids.enumerated() {
                    let token = Int(id)
                    precondition(
                        token >= 0 && token < vocab,
                        "token id \(token) outside vocabulary of \(vocab)")
                    let target = token * d
                    let source = row * d
                    for i in 0..<d { pt[target + i] += pdy[source + i] }
                }
            }
        }
    }
}
