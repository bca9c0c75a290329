import InparsTensor

/// T5's position-wise feed-forward block (`DenseReluDense`).
///
/// Plain (T5 v1.0): `wo · act(wi · x)`. Gated (v1.1, FLAN-T5): `wo · (act(wi_0 · x) ⊙ (wi_1 · x))`;
/// `wi_0` and `wi_1` are stacked into one `[2 · dFF, dModel]` weight so one GEMM computes both.
public struct T5FeedForward: Sendable {
    /// `[dFF, dModel]` (plain) or `[2 · dFF, dModel]` (gated: `wi_0` rows, then `wi_1` rows).
    public var inputWeight: Tensor
    /// `[dModel, dFF]`: `wo`.
    public var outputWeight: Tensor
    public let activation: Activation
    public let isGated: Bool

    public var dFF: Int { outputWeight.shape[1] }

    /// - Parameters:
    ///   - wi: `[dFF, dModel]` (plain) — or `wi_0` when `gate` is given.
    ///   - gate: `wi_1`, `[dFF, dModel]`, for the gated variant.
    ///   - wo: `[dModel, dFF]`.
    public init(wi: Tensor, gate: Tensor?, wo: Tensor, activation: Activation) {
        if let gate {
            inputWeight = Tensor.concatenate([wi, gate], axis: 0)
        } else {
            inputWeight = wi
        }
        outputWeight = wo
        self.activation = activation
        isGated = gate != nil
    }

    /// Adds the block's output into the residual stream.
    ///
    /// - Parameters:
    ///   - x: the normalised input, `[batch, seqLen, dModel]`.
    ///   - residual: `[batch, seqLen, dModel]`.
    public func forward(_ x: Tensor, into residual: inout Tensor) {
        var hidden = Tensor.linear(x, weight: inputWeight)  // [.., dFF] or [.., 2·dFF]
        if isGated {
            let width = dFF
            let rows = hidden.rowCount
            var shape = hidden.shape
            shape[shape.count - 1] = width
            let act = activation
            hidden = Tensor(shape: shape) { out in
                hidden.storage.withUnsafeBufferPointer { ph in
                    for r in 0..<rows {
                        let source = r * 2 * width
                        let target = r * width
                        for j in 0..<width {
                            out[target + j] = act(ph[source + j]) * ph[source + width + j]
                        }
                    }
                }
            }
        } else {
            hidden.activate(activation)
        }
        Tensor.accumulateLinear(hidden, weight: outputWeight, into: &residual)
    }
}
