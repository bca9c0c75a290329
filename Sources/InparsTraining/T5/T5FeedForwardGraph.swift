import InparsModels
import InparsTensor

/// The feed-forward block (`DenseReluDense`) for training, plain or gated, with the dropout
/// between the activation and `wo` (as Hugging Face's `T5DenseActDense` /
/// `T5DenseGatedActDense`).
struct T5FeedForwardGraph {
    var input: Tensor
    /// `x · Wiᵀ`: `[..., dFF]`, or `[..., 2·dFF]` (gate pre-activation, then linear) when gated.
    var projected: Tensor
    /// The activation (product) before dropout, `[..., dFF]`.
    var hidden: Tensor
    var dropout: DropoutMask

    static func forward(_ block: T5FeedForward, input x: Tensor, dropout: DropoutMask) -> (
        T5FeedForwardGraph, Tensor
    ) {
        let projected = Tensor.linear(x, weight: block.inputWeight)
        let hidden: Tensor
        if block.isGated {
            let last = projected.rank - 1
            hidden = Tensor.gatedActivation(
                block.activation, gate: projected.slice(axis: last, 0..<block.dFF),
                linear: projected.slice(axis: last, block.dFF..<(2 * block.dFF)))
        } else {
            hidden = projected.activated(block.activation)
        }
        let output = Tensor.linear(dropout.applied(to: hidden), weight: block.outputWeight)
        return (
            T5FeedForwardGraph(input: x, projected: projected, hidden: hidden, dropout: dropout),
            output
        )
    }

    func backward(_ dOutput: Tensor, block: T5FeedForward, gradients: inout T5FeedForward) -> Tensor
    {
        var dHidden = Tensor.linearBackward(
            outputGradient: dOutput, input: dropout.applied(to: hidden), weight: block.outputWeight,
            weightGradient: &gradients.outputWeight)
        dropout.apply(to: &dHidden)
        let dProjected: Tensor
        if block.isGated {
            let last = projected.rank - 1
            let d = Tensor.gatedActivationBackward(
                block.activation, outputGradient: dHidden,
                gate: projected.slice(axis: last, 0..<block.dFF),
                linear: projected.slice(axis: last, block.dFF..<(2 * block.dFF)))
            dProjected = Tensor.concatenate([d.gate, d.linear], axis: last)
        } else {
            dProjected = Tensor.activationBackward(
                block.activation, outputGradient: dHidden, input: projected)
        }
        return Tensor.linearBackward(
            outputGradient: dProjected, input: input, weight: block.inputWeight,
            weightGradient: &gradients.inputWeight)
    }
}
