import InparsTensor

extension T5DecoderCache {
    /// The cache restricted to the batch entries `rows`, in that order (self-attention keys and
    /// values, projected memory, encoder output and lengths). Generation uses it to stop
    /// computing sequences that have finished.
    ///
    /// - Parameter rows: indices into `0..<batch`, each at most once.
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
