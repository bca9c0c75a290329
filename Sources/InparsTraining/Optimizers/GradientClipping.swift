import InparsTensor

/// Global-norm gradient clipping, as `torch.nn.utils.clip_grad_norm_` (`norm_type=2`).
public enum GradientClipping {
    /// The 2-norm of all gradients together: the norm of the per-tensor norms.
    ///
    /// Each tensor's sum of squares is accumulated in `Double`; the per-tensor norms are
    /// rounded to `Float` as PyTorch's `float32` norms are.
    public static func globalNorm(_ gradients: [Tensor]) -> Float {
        var total = 0.0
        for gradient in gradients {
            var sum = 0.0
            gradient.storage.withUnsafeBufferPointer { p in
                for v in p { sum += Double(v) * Double(v) }
            }
            let norm = Double(Float(sum.squareRoot()))
            total += norm * norm
        }
        return Float(total.squareRoot())
    }

    /// Scales every gradient by `min(1, maxNorm / (norm + 1e-6))` and returns the norm before
    /// clipping (a non-finite norm is returned as is, and the gradients then become
    /// non-finite too, as in PyTorch with `error_if_nonfinite=False`).
    ///
    /// - Parameters:
    ///   - gradients: scaled in place.
    ///   - maxNorm: the largest allowed global norm (`--max-grad-norm`, 1.0).
    /// - Returns: the global norm before clipping.
    @discardableResult
    public static func clip(_ gradients: inout [Tensor], maxNorm: Float) -> Float {
        let norm = globalNorm(gradients)
        let coefficient = min(maxNorm / (norm + 1e-6), 1)
        if coefficient == 1 { return norm }  // PyTorch multiplies by 1.0: a no-op.
        for index in gradients.indices { gradients[index].scale(by: coefficient) }
        return norm
    }
}
