internal import CKernels
import Foundation

extension Activation {
    /// The derivative of the activation at `x`.
    ///
    /// ReLU's derivative at 0 is taken as 0 (as PyTorch). GELU: `Φ(x) + x·φ(x)`. `gelu_new`:
    /// `½(1 + t) + ½x(1 − t²)·c·(1 + 3·0.044715·x²)` with `t = tanh(c(x + 0.044715x³))`,
    /// `c = √(2/π)`. SiLU: `σ(x)(1 + x(1 − σ(x)))`. tanh: `1 − tanh²(x)`.
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
        case .tanh:
            let t = tanhf(x)
            return 1 - t * t
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

    /// The gated feed-forward product of T5 v1.1 (`T5DenseGatedActDense`) and Llama's MLP:
    /// `h = f(gate) ⊙ linear`, from one fused projection holding `gate = x·Wi0ᵀ` then
    /// `linear = x·Wi1ᵀ` in each row (one GEMM against the stacked `[2·dFF, dModel]` weight).
    ///
    /// `gelu_new` runs on the vectorised `exp` (``Activation/gatedGELUTanh(gate:linear:output:count:)``);
    /// the other activations element by element.
    ///
    /// - Parameter fused: `[..., 2·dFF]`.
    /// - Returns: `[..., dFF]`.
    public static func gatedActivation(_ activation: Activation, fused: Tensor) -> Tensor {
        let width = fused.lastDimension / 2
        precondition(
            fused.lastDimension == 2 * width, "gatedActivation: odd last axis in \(fused.shape)")
        let rows = fused.rowCount
        var shape = fused.shape
        shape[shape.count - 1] = width
        guard rows > 0 && width > 0 else { return Tensor(zeros: shape) }
        return Tensor(shape: shape) { out in
            fused.storage.withUnsafeBufferPointer { ph in
                gatedActivation(activation, fused: ph.baseAddress!, rows: rows, width: width, into: out.baseAddress!)
            }
        }
    }

    /// ``gatedActivation(_:fused:)`` on raw rows, split over threads (``RowSplit``).
    ///
    /// - Parameters:
    ///   - fused: `[rows, 2·width]`, gate then linear half in each row.
    ///   - output: `[rows, width]`.
    public static func gatedActivation(
        _ activation: Activation, fused: UnsafePointer<Float>, rows: Int, width: Int,
        into output: UnsafeMutablePointer<Float>
    ) {
        RowSplit.run(rows, columns: 3 * width) { start, count in
            for r in start..<(start + count) {
                let gate = fused + r * 2 * width
                let target = output + r * width
                if activation == .geluTanh {
                    Activation.gatedGELUTanh(
                        gate: gate, linear: gate + width, output: target, count: width)
                } else if activation == .silu {
                    // C (`CKernels`), AVX-512 where present; the same bits on every path.
                    inpars_gated_silu(gate, gate + width, target, width)
                } else {
                    for j in 0..<width { target[j] = activation(gate[j]) * gate[width + j] }
                }
            }
        }
    }

    /// Backward of ``gatedActivation(_:fused:)``: `dgate = dh · linear · f′(gate)`,
    /// `dlinear = dh · f(gate)`, in one pass, written side by side as the forward read them.
    ///
    /// - Parameters:
    ///   - dh: `[..., dFF]`.
    ///   - fused: `[..., 2·dFF]`, saved from the forward pass.
    /// - Returns: the gradient of `fused`, `[..., 2·dFF]`.
    public static func gatedActivationBackward(
        _ activation: Activation, outputGradient dh: Tensor, fused: Tensor
    ) -> Tensor {
        let width = dh.lastDimension
        precondition(
            fused.lastDimension == 2 * width && fused.rowCount == dh.rowCount,
            "gatedActivationBackward: dh \(dh.shape), fused \(fused.shape)")
        let rows = dh.rowCount
        return Tensor(shape: fused.shape) { pd in
            fused.storage.withUnsafeBufferPointer { pf in
                dh.storage.withUnsafeBufferPointer { pdh in
                    for r in 0..<rows {
                        for j in 0..<width {
                            let g = pf[r * 2 * width + j]
                            let l = pf[r * 2 * width + width + j]
                            let d = pdh[r * width + j]
                            pd[r * 2 * width + width + j] = d * activation(g)
                            pd[r * 2 * width + j] = d * l * activation.derivative(g)
                        }
                    }
                }
            }
        }
    }
}
