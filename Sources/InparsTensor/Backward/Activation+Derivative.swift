import Foundation

extension Activation {
    /// The derivative of the activation at `x`.
    ///
    /// ReLU's derivative at 0 is taken as 0 (as PyTorch). GELU: `Φ(x) + x·φ(x)`. `gelu_new`:
    /// `½(1 + t) + ½x(1 − t²)·c·(1 + 3·0.044715·x²)` with `t = tanh(c(x + 0.044715x³))`,
    /// `c = √(2/π)`. SiLU: `σ(x)(1 + x(1 − σ(x)))`.
    @inlinable
    public func derivative(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? 1 : 0
        case .gelu:
            let cdf = 0.5 * (1 + erff(x * 0.70710678118654752440))
            let pdf = 0.39894228040143267794 * expf(-0.5 * x * x)
            return cdf + x * pdf
        case .geluTanh:
            let c: Float = 0.79788456080286535588
            let t = tanhf(c * (x + 0.044715 * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        case .silu:
            let s = 1 / (1 + expf(-x))
            return s * (1 + x * (1 - s))
        }
    }
}

extension Tensor {
    /// Backward of ``activated(_:)``: `dx = dy · f′(x)` from the saved input `x`.
    ///
    /// - Parameters:
    ///   - dy, x: the same shape.
    /// - Returns: `dx`, shaped like `x`.
    public static func activationBackward(
        _ activation: Activation, outputGradient dy: Tensor, input x: Tensor
    ) -> Tensor {
        precondition(dy.shape == x.shape, "activationBackward: dy \(dy.shape), x \(x.shape)")
        return Tensor(shape: x.shape) { pdx in
            x.storage.withUnsafeBufferPointer { px in
                dy.storage.withUnsafeBufferPointer { pdy in
                    for i in 0..<px.count { pdx[i] = pdy[i] * activation.derivative(px[i]) }
                }
            }
        }
    }

    /// The gated feed-forward product of T5 v1.1 (`T5DenseGatedActDense`):
    /// `h = f(gate) ⊙ linear`, where `gate = x·Wi0ᵀ` and `linear = x·Wi1ᵀ`.
    ///
    /// - Parameters:
    ///   - gate, linear: `[..., dFF]`.
    /// - Returns: `[..., dFF]`.
    public static func gatedActivation(
        _ activation: Activation, gate: Tensor, linear: Tensor
    ) -> Tensor {
        precondition(
            gate.shape == linear.shape, "gatedActivation: \(gate.shape) vs \(linear.shape)")
        return Tensor(shape: gate.shape) { out in
            gate.storage.withUnsafeBufferPointer { pg in
                linear.storage.withUnsafeBufferPointer { pl in
                    for i in 0..<pg.count { out[i] = activation(pg[i]) * pl[i] }
                }
            }
        }
    }

    /// Backward of ``gatedActivation(_:gate:linear:)``: `dgate = dh · linear · f′(gate)`,
    /// `dlinear = dh · f(gate)`, in one pass.
    ///
    /// - Parameters:
    ///   - dh, gate, linear: `[..., dFF]`, the last two saved from the forward pass.
    /// - Returns: `(gate, linear)` gradients, `[..., dFF]` each.
    public static func gatedActivationBackward(
        _ activation: Activation, outputGradient dh: Tensor, gate: Tensor, linear: Tensor
    ) -> (gate: Tensor, linear: Tensor) {
        precondition(
            gate.shape == linear.shape && dh.shape == gate.shape,
            "gatedActivationBackward: dh \(dh.shape), gate \(gate.shape), linear \(linear.shape)")
        var dLinear = Tensor(zeros: [0])
        let dGate = Tensor(shape: gate.shape) { pdg in
            dLinear = Tensor(shape: gate.shape) { pdl in
                gate.storage.withUnsafeBufferPointer { pg in
                    linear.storage.withUnsafeBufferPointer { pl in
                        dh.storage.withUnsafeBufferPointer { pdh in
                            for i in 0..<pg.count {
                                let g = pg[i]
                                pdl[i] = pdh[i] * activation(g)
                                pdg[i] = pdh[i] * pl[i] * activation.derivative(g)
                            }
                        }
                    }
                }
            }
        }
        return (dGate, dLinear)
    }
}
