import InparsTensor

/// A linear layer with bias (`nn.Linear(bias=True)`): `y = x · Wᵀ + b`, the weight multiplying
/// through ``LinearWeight`` and the bias broadcast over the rows.
///
/// The weight and the bias are two slots of the model's ``ParameterStore`` (fused q/k/v layers
/// stack both: `[3·h, h]` and `[3·h]`).
struct AffineLayer: Sendable {
    /// Slot `[out, in]`.
    let weight: Int
    /// Slot `[out]`.
    let bias: Int

    /// `x · Wᵀ + b`: the bias rows first, then one GEMM accumulating into them.
    ///
    /// - Parameter x: `[..., in]`.
    /// - Returns: `[..., out]`.
    func forward(_ x: Tensor, weights: ParameterStore) -> Tensor {
        let linear = weights.linear(weight)
        var output = Tensor(leading: Array(x.shape.dropLast()), repeatingRow: weights[bias])
        linear.matmul(x, accumulatingInto: &output)
        return output
    }

    /// `residual += dropout(x · Wᵀ + b)`: a sublayer's output added into the residual stream.
    func forward(
        _ x: Tensor, weights: ParameterStore, dropout: DropoutMask?, into residual: inout Tensor
    ) {
        guard let dropout, dropout.rate > 0 else {
            residual.add(weights[bias])
            weights.linear(weight).matmul(x, accumulatingInto: &residual)
            return
        }
        var output = forward(x, weights: weights)
        dropout.apply(to: &output)
        residual.add(output)
    }

    /// Adds `dyᵀ · x` to the weight's gradient and `Σ_rows dy` to the bias's.
    ///
    /// - Parameters:
    ///   - dy: `[..., out]`.
    ///   - x: `[..., in]`, the forward input.
    ///   - needsInputGradient: `false` skips `dx` (an empty tensor is returned).
    /// - Returns: `dx = dy · W`, `[..., in]`.
    func backward(
        outputGradient dy: Tensor, input x: Tensor, weights: ParameterStore,
        gradients: inout ParameterStore, needsInputGradient: Bool = true
    ) -> Tensor {
        gradients.tensors[bias].add(dy.summed(toShape: [dy.lastDimension]))
        return weights.linear(weight).backward(
            outputGradient: dy, input: x, weightGradient: &gradients.tensors[weight],
            needsInputGradient: needsInputGradient)
    }
}

/// `torch.nn.LayerNorm` with weight and bias slots.
struct LayerNormLayer: Sendable {
    /// Slot `[d]`.
    let weight: Int
    /// Slot `[d]`.
    let bias: Int
    let epsilon: Float

    /// - Parameter x: `[..., d]`.
    func forward(_ x: Tensor, weights: ParameterStore) -> Tensor {
        x.layerNormalized(weight: weights[weight], bias: weights[bias], epsilon: epsilon)
    }

    /// - Parameters:
    ///   - dy: `[..., d]`.
    ///   - x: the forward input.
    /// - Returns: `dx`.
    func backward(
        outputGradient dy: Tensor, input x: Tensor, weights: ParameterStore,
        gradients: inout ParameterStore
    ) -> Tensor {
        var biasGradient = gradients.tensors[bias]
        gradients.tensors[bias] = Tensor(zeros: [0])  // keeps the storage uniquely referenced
        defer { gradients.tensors[bias] = biasGradient }
        return Tensor.layerNormBackward(
            outputGradient: dy, input: x, weight: weights[weight], epsilon: epsilon,
            weightGradient: &gradients.tensors[weight], biasGradient: &biasGradient)
    }
}
