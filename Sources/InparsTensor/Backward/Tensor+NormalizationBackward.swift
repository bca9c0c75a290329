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

extension Tensor {
    /// Backward of ``layerNormalized(weight:bias:epsilon:)`` (`torch.nn.LayerNorm`, biased
    /// variance).
    ///
    /// Per row, with `x̂ = (x − mean) · r`, `r = 1/√(var + ε)`, `g = w ⊙ dy`:
    /// `dw += Σ_rows dy ⊙ x̂`, `db += Σ_rows dy`, `dx = r · (g − mean(g) − x̂ · mean(g ⊙ x̂))`.
    ///
    /// - Parameters:
    ///   - dy: `[..., d]`.
    ///   - x: `[..., d]`, the input saved from the forward pass.
    ///   - weight: `[d]`.
    ///   - weightGradient, biasGradient: `[d]`; the gradients are added to them.
    /// - Returns: `dx`, `[..., d]`.
    public static func layerNormBackward(
        outputGradient dy: Tensor, input x: Tensor, weight: Tensor, epsilon: Float,
        weightGradient: inout Tensor, biasGradient: inout Tensor
    ) -> Tensor {
        let d = x.lastDimension
        precondition(
            dy.shape == x.shape && weight.shape == [d] && weightGradient.shape == [d]
                && biasGradient.shape == [d],
            "layerNormBackward: dy \(dy.shape), x \(x.shape), weight \(weight.shape)")
        let rows = x.rowCount
        var normalized = [Float](repeating: 0, count: d)
        return Tensor(shape: x.shape) { pdx in
            x.storage.withUnsafeBufferPointer { px in
                dy.storage.withUnsafeBufferPointer { pdy in
                    weight.storage.withUnsafeBufferPointer { pw in
                        weightGradient.storage.withUnsafeMutableBufferPointer { pdw in
                            biasGradient.storage.withUnsafeMutableBufferPointer { pdb in
                                for row in 0..<rows {
                                    let base = row * d
                                    var sum: Float = 0
                                    for i in 0..<d { sum += px[base + i] }
                                    let mean = sum / Float(d)
                                    var variance: Float = 0
                                    for i in 0..<d {
                                        let centered = px[base + i] - mean
                                        variance += centered * centered
                                    }
                                    let r = 1 / (variance / Float(d) + epsilon).squareRoot()
                                    var meanG: Float = 0
                                    var meanGX: Float = 0
                                    for i in 0..<d {
                                        let xhat = (px[base + i] - mean) * r
                                        normalized[i] = xhat
                                        let g = pw[i] * pdy[base + i]
                                        meanG += g
                                        meanGX += g * xhat
                                        pdw[i] += pdy[base + i] * xhat
                                        pdb[i] += pdy[base + i]
                                    }
                                    meanG /= Float(d)
                                    meanGX /= Float(d)
                                    for i in 0..<d {
                                        let g = pw[i] * pdy[base + i]
                                        pdx[base + i] = r * (g - meanG - normalized[i] * meanGX)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
