import InparsModels
import InparsTensor

/// Global-norm gradient clipping, as `torch.nn.utils.clip_grad_norm_` (`norm_type=2`).
///
/// The norm is the norm of the per-tensor norms; each tensor's sum of squares is accumulated
/// in `Double` and its norm rounded to `Float`, as PyTorch's `float32` norms are. The scale
/// is `min(1, maxNorm / (norm + 1e-6))`; a non-finite norm is returned as is and the gradients
/// then become non-finite too (PyTorch with `error_if_nonfinite=False`).
public enum GradientClipping {
    /// The 2-norm of all gradients together.
    public static func globalNorm(_ gradients: [Tensor]) -> Float {
        norm(ofNorms: gradients.map { tensor in
            tensor.storage.withUnsafeBufferPointer { squaredNorm($0) }
        })
    }

    /// The 2-norm of a model's gradients, each checkpoint tensor (table entry) counted once,
    /// as PyTorch sees the parameters of the unfused model.
    public static func globalNorm(_ gradients: ParameterStore) -> Float {
        norm(ofNorms: gradients.table.entries.indices.map { gradients.withEntry($0, squaredNorm) })
    }

    /// Scales every gradient so the global norm is at most `maxNorm`.
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

    /// ``clip(_:maxNorm:)`` for a model's gradients (``globalNorm(_:)-(ParameterStore)``).
    @discardableResult
    public static func clip(_ gradients: inout ParameterStore, maxNorm: Float) -> Float {
        let norm = globalNorm(gradients)
        let coefficient = min(maxNorm / (norm + 1e-6), 1)
        if coefficient == 1 { return norm }
        gradients.scale(by: coefficient)
        return norm
    }

    private static func squaredNorm(_ values: UnsafeBufferPointer<Float>) -> Double {
        var sum = 0.0
        for v in values { sum += Double(v) * Double(v) }
        let norm = Double(Float(sum.squareRoot()))
        return norm * norm
    }

    private static func norm(ofNorms squares: [Double]) -> Float {
        Float(squares.reduce(0, +).squareRoot())
    }
}
