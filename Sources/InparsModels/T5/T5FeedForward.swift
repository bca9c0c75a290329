import InparsTensor

/// T5's position-wise feed-forward block (`DenseReluDense`).
///
/// Plain (T5 v1.0): `wo · act(wi · x)`. Gated (v1.1, FLAN-T5): `wo · (act(wi_0 · x) ⊙ (wi_1 · x))`;
/// `wi_0` and `wi_1` share one `[2 · dFF, dModel]` slot so one GEMM computes both. In training,
/// dropout sits between the activation and `wo` and on the block's output (Hugging Face's
/// `T5DenseActDense` / `T5DenseGatedActDense` and `T5LayerFF`).
struct T5FeedForward: Sendable {
    /// Slot `[dFF, dModel]` (plain) or `[2 · dFF, dModel]` (gated: `wi_0` rows, then `wi_1`).
    let input: Int
    /// Slot `[dModel, dFF]`: `wo`.
    let output: Int
    let activation: Activation
    let isGated: Bool

    /// What the backward pass needs from a training forward.
    struct Record {
        /// The normalised input, `[batch, seqLen, dModel]`.
        var input: Tensor
        /// `x · Wiᵀ`: `[..., dFF]`, or `[..., 2·dFF]` (gate, then linear) when gated.
        var projected: Tensor
        /// The activation (product) before dropout, `[..., dFF]`.
        var hidden: Tensor
        var innerDropout: DropoutMask
        var outputDropout: DropoutMask
    }

    /// Adds the block's output into the residual stream.
    ///
    /// - Parameters:
    ///   - x: the normalised input, `[batch, seqLen, dModel]`.
    ///   - residual: `[batch, seqLen, dModel]`.
    ///   - training: set for a training pass (two dropout sites: inner, output).
    /// - Returns: the record for ``backward(_:record:weights:gradients:)`` when training.
    func forward(
        _ x: Tensor, weights: ParameterStore, into residual: inout Tensor, training: TrainingPass?
    ) -> Record? {
        var projected = weights.linear(input).matmul(x)  // [.., dFF] or [.., 2·dFF]
        guard let training else {
            if isGated {
                projected = Tensor.gatedActivation(activation, fused: projected)
            } else {
                projected.activate(activation)
            }
            weights.linear(output).matmul(projected, accumulatingInto: &residual)
            return nil
        }
        let hidden =
            isGated
            ? Tensor.gatedActivation(activation, fused: projected)
            : projected.activated(activation)
        let record = Record(
            input: x, projected: projected, hidden: hidden, innerDropout: training.mask(),
            outputDropout: training.mask())
        weights.linear(output).project(
            record.innerDropout.applied(to: hidden), dropout: record.outputDropout,
            into: &residual)
        return record
    }

    /// The pre-norm sublayer: normalises the residual stream with the sublayer's RMS norm and
    /// adds the block's output into it. At int8 inference a plain ReLU block (T5 v1.0) runs as
    /// one call (``LinearWeight/addReLUFeedForward(into:norm:epsilon:output:)``: the norm,
    /// ReLU and quantization fused around the products, with no fp32 `[.., dFF]` rows);
    /// otherwise as ``forward(_:weights:into:training:)`` on the normalised input.
    ///
    /// - Parameters:
    ///   - residual: `[batch, seqLen, dModel]`, updated in place.
    ///   - norm: `[dModel]`, the sublayer's layer-norm weight.
    /// - Returns: the record for ``backward(_:record:weights:gradients:)`` when training.
    func forward(
        normalizing residual: inout Tensor, norm: Tensor, epsilon: Float, weights: ParameterStore,
        training: TrainingPass?
    ) -> Record? {
        if training == nil && !isGated && activation == .relu && weights.precision == .int8 {
            weights.linear(input).addReLUFeedForward(
                into: &residual, norm: norm, epsilon: epsilon, output: weights.linear(output))
            return nil
        }
        return forward(
            residual.rmsNormalized(weight: norm, epsilon: epsilon), weights: weights,
            into: &residual, training: training)
    }

    /// Back-propagates the gradient reaching the block's residual branch.
    ///
    /// - Parameter dResidual: `[batch, seqLen, dModel]`, the residual stream's gradient.
    /// - Returns: the gradient of the normalised input `x`.
    func backward(
        _ dResidual: Tensor, record: Record, weights: ParameterStore,
        gradients: inout ParameterStore
    ) -> Tensor {
        let dOutput = record.outputDropout.applied(to: dResidual)
        var dHidden = weights.linear(output).backward(
            outputGradient: dOutput, input: record.innerDropout.applied(to: record.hidden),
            weightGradient: &gradients.tensors[output])
        record.innerDropout.apply(to: &dHidden)
        let dProjected =
            isGated
            ? Tensor.gatedActivationBackward(
                activation, outputGradient: dHidden, fused: record.projected)
            : Tensor.activationBackward(
                activation, outputGradient: dHidden, input: record.projected)
        return weights.linear(input).backward(
            outputGradient: dProjected, input: record.input,
            weightGradient: &gradients.tensors[input])
    }
}
