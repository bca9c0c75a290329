import InparsTensor

/// The state of an incremental T5 decoder: per-layer self-attention keys/values (appended
/// each step) and the cross-attention keys/values of the encoder output (computed once).
public struct T5DecoderCache: Sendable {
    /// One per decoder layer, `numHeads · dKV` floats per position.
    public var selfAttention: [KeyValueCache]
    /// One per decoder layer: `[batch, sourceLength, 2 · inner]`; `nil` when the cache was
    /// made with `projectMemory: false` (cross-attention then reads ``encoderHidden``).
    public var memory: [Tensor]?
    /// `[batch, sourceLength, dModel]`: the encoder output.
    public var encoderHidden: Tensor
    /// Real encoder length of each batch entry.
    public var memoryLengths: [Int]
    /// Decoder positions processed so far.
    public internal(set) var length: Int
    public let batch: Int

    /// The cache restricted to the batch entries `rows`, in that order (self-attention keys and
    /// values, projected memory, encoder output and lengths). Generation uses it to stop
    /// computing sequences that have finished; a row may repeat (a fork of that entry).
    ///
    /// - Parameter rows: indices into `0..<batch`.
    public func selectingRows(_ rows: [Int]) -> T5DecoderCache {
        precondition(rows.allSatisfy { $0 >= 0 && $0 < batch }, "rows \(rows) outside \(batch)")
        return T5DecoderCache(
            selfAttention: selfAttention.map { $0.selectingRows(rows, length: length) },
            memory: memory?.map { $0.selectingBatchRows(rows) },
            encoderHidden: encoderHidden.selectingBatchRows(rows),
            memoryLengths: rows.map { memoryLengths[$0] }, length: length, batch: rows.count)
    }
}

extension Tensor {
    /// Entries `rows` of the first axis: `[batch, ...]` → `[rows.count, ...]`.
    func selectingBatchRows(_ rows: [Int]) -> Tensor {
        let stride = shape.dropFirst().reduce(1, *)
        var gathered = [Float](repeating: 0, count: rows.count * stride)
        storage.withUnsafeBufferPointer { source in
            gathered.withUnsafeMutableBufferPointer { target in
                for (to, from) in rows.enumerated() {
                    (target.baseAddress! + to * stride).update(
                        from: source.baseAddress! + from * stride, count: stride)
                }
            }
        }
        return Tensor(shape: [rows.count] + shape.dropFirst(), storage: gathered)
    }
}
