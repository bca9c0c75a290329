extension Tensor {
    /// Backward of ``softmax()`` over the last axis, from the saved output `y`:
    /// `dx = y ⊙ (dy − Σ_j y_j dy_j)` per row.
    ///
    /// In attention the softmax input is `scores + bias + mask`; `dx` is the gradient of each
    /// of those addends (summed to its shape, see ``summed(toShape:)``). Masked entries have
    /// `y = 0` and so get zero gradient.
    ///
    /// - Parameters:
    ///   - y: `[..., n]`, the softmax output saved from the forward pass.
    ///   - dy: `[..., n]`.
    /// - Returns: `dx`, `[..., n]`.
    public static func softmaxBackward(output y: Tensor, outputGradient dy: Tensor) -> Tensor {
        precondition(y.shape == dy.shape, "softmaxBackward: y \(y.shape), dy \(dy.shape)")
        let n = y.lastDimension
        let rows = y.rowCount
        return Tensor(shape: y.shape) { pdx in
            y.storage.withUnsafeBufferPointer { py in
                dy.storage.withUnsafeBufferPointer { pdy in
                    for row in 0..<rows {
                        let base = row * n
                        var dot: Float = 0
                        for j in 0..<n { dot += py[base + j] * pdy[base + j] }
                        for j in 0..<n { pdx[base + j] = py[base + j] * (pdy[base + j] - dot) }
                    }
                }
            }
        }
    }

    /// Backward of T5's relative position bias lookup: the bias `[1, numHeads, q, k]` was
    /// `table[bucket(i, j), h]`, so each entry of its gradient is added to the table row of
    /// its bucket.
    ///
    /// - Parameters:
    ///   - biasGradient: `[1, numHeads, q, k]` (or `[numHeads, q, k]`): the score gradient
    ///     summed over the batch (`scoreGradient.summed(toShape: [1, numHeads, q, k])`).
    ///   - buckets: `q · k` bucket ids, row-major over `(i, j)`.
    ///   - tableGradient: `[numBuckets, numHeads]`; the gradient is added to it.
    public static func relativePositionBiasBackward(
        biasGradient: Tensor, buckets: [Int32], tableGradient: inout Tensor
    ) {
        precondition(tableGradient.rank == 2, "relative bias table gradient must be 2-D")
        let (numBuckets, numHeads) = (tableGradient.shape[0], tableGradient.shape[1])
        let positions = buckets.count
        precondition(
            biasGradient.count == numHeads * positions,
            "bias gradient \(biasGradient.shape) for \(numHeads) heads × \(positions) positions")
        biasGradient.storage.withUnsafeBufferPointer { pg in
            tableGradient.storage.withUnsafeMutableBufferPointer { pt in
                for h in 0..<numHeads {
                    for p in 0..<positions {
                        let bucket = Int(buckets[p])
                        precondition(
                            bucket >= 0 && bucket < numBuckets,
                            "bucket \(bucket) outside \(numBuckets)")
                        pt[bucket * numHeads + h] += pg[h * positions + p]
                    }
                }
            }
        }
    }
}
