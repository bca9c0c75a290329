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

/// Additive attention masks: 0 where attention is allowed, a large negative number where it is
/// not. The negative is `-Float.greatestFiniteMagnitude` (HF's `torch.finfo(float32).min`), so a
/// fully masked row still gives a finite softmax.
public enum AttentionMask {
    /// The value added to a masked score.
    public static let blocked: Float = -Float.greatestFiniteMagnitude

    /// A padding mask for a batch of sequences of the given lengths.
    ///
    /// - Returns: `[batch, 1, 1, maxLength]`, broadcastable over `[batch, heads, query, key]`.
    public static func padding(lengths: [Int], maxLength: Int) -> Tensor {
        var mask = Tensor(zeros: [lengths.count, 1, 1, maxLength])
        for (b, length) in lengths.enumerated() where length < maxLength {
            for position in length..<maxLength { mask.storage[b * maxLength + position] = blocked }
        }
        return mask
    }

    /// A causal mask: query `i` (offset by `pastLength`) may see keys `0...pastLength + i`.
    ///
    /// - Returns: `[queryLength, pastLength + queryLength]`.
    public static func causal(queryLength: Int, pastLength: Int = 0) -> Tensor {
        let keys = pastLength + queryLength
        var mask = Tensor(zeros: [queryLength, keys])
        for i in 0..<queryLength {
            let lastVisible = pastLength + i
            if lastVisible + 1 < keys {
                for j in (lastVisible + 1)..<keys { mask.storage[i * keys + j] = blocked }
            }
        }
        return mask
    }
}
