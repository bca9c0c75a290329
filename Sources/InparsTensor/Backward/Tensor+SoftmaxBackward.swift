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
}
