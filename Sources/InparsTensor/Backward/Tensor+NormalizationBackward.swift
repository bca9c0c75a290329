extension Tensor {
    /// Backward of ``rmsNormalized(weight:epsilon:)`` (T5LayerNorm semantics).
    ///
    /// With `r = 1/√(mean(x²) + ε)` per row and `y = x · r · w`:
    /// `dw += Σ_rows dy · x · r` and `dx = r · (w·dy) − r³/d · x · Σ_j (w_j dy_j x_j)`.
    ///
    /// - Parameters:
    ///   - dy: `[..., d]`.
    ///   - x: `[..., d]`, the input saved from the forward pass.
    ///   - weight: `[d]`.
    ///   - weightGradient: `[d]`; the weight's gradient is added to it.
    /// - Returns: `dx`, `[..., d]`.
    public static func rmsNormBackward(
        outputGradient dy: Tensor, input x: Tensor, weight: Tensor, epsilon: Float,
        weightGradient: inout Tensor
    ) -> Tensor {
        let d = x.lastDimension
        precondition(
            dy.shape == x.shape && weight.shape == [d] && weightGradient.shape == [d],
            "rmsNormBackward: dy \(dy.shape), x \(x.shape), weight \(weight.shape)")
        let rows = x.rowCount
        return Tensor(shape: x.shape) { pdx in
            x.storage.withUnsafeBufferPointer { px in
                dy.storage.withUnsafeBufferPointer { pdy in
                    weight.storage.withUnsafeBufferPointer { pw in
                        weightGradient.storage.withUnsafeMutableBufferPointer { pdw in
                            for row in 0..<rows {
                                let base = row * d
                                var sumSquares: Float = 0
                                var dot: Float = 0
                                for i in 0..<d {
                                    let v = px[base + i]
                                    sumSquares += v * v
                                    dot += pw[i] * pdy[base + i] * v
                                }
                                let r = 1 / (sumSquares / Float(d) + epsilon).squareRoot()
                                let correction = r * r * r * dot / Float(d)
                                for i in 0..<d {
                                    let v = px[base + i]
                                    pdw[i] += pdy[base + i] * v * r
                                    pdx[base + i] = r * pw[i] * pdy[base + i] - correction * v
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
