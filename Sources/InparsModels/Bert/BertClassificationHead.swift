import InparsTensor

/// The sequence-classification head on the first position (`[CLS]` / `<s>`):
/// `logits = out(dropout(act(dense(dropout?(h₀)))))`.
///
/// | variant | weights | act | dropout before `dense` |
/// | --- | --- | --- | --- |
/// | BERT | `bert.pooler.dense`, `classifier` | tanh | no |
/// | ELECTRA | `classifier.dense`, `classifier.out_proj` | GELU (exact) | yes |
/// | RoBERTa | `classifier.dense`, `classifier.out_proj` | tanh | yes |
struct BertClassificationHead: Sendable {
    let dense: AffineLayer
    let out: AffineLayer
    let activation: Activation
    /// Whether dropout precedes `dense` (ELECTRA, RoBERTa; not BERT's pooler).
    let dropsInput: Bool

    var dropoutSites: Int { dropsInput ? 2 : 1 }

    struct Record {
        /// `[batch, hidden]`: the first position of each entry, after the input dropout.
        var first: Tensor
        var inputDropout: DropoutMask?
        /// `dense(first)` before the activation, and after it.
        var projected, activated: Tensor
        var dropout: DropoutMask
    }

    /// - Parameter hidden: the encoder output, `[batch, length, hidden]`.
    /// - Returns: logits `[batch, numLabels]`, and the record when training.
    func forward(_ hidden: Tensor, weights: ParameterStore, training: TrainingPass?) -> (
        Tensor, Record?
    ) {
        let (batch, length, width) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
        var first = Tensor(shape: [batch, width]) { out in
            hidden.storage.withUnsafeBufferPointer { ph in
                for b in 0..<batch {
                    (out.baseAddress! + b * width).update(
                        from: ph.baseAddress! + b * length * width, count: width)
                }
            }
        }
        let inputDropout = dropsInput ? training?.mask() : nil
        inputDropout?.apply(to: &first)
        let projected = dense.forward(first, weights: weights)
        var activated = projected.activated(activation)
        let dropout = training?.mask()
        let kept = training == nil ? nil : activated
        dropout?.apply(to: &activated)
        let logits = out.forward(activated, weights: weights)
        guard let dropout, let kept else { return (logits, nil) }
        return (
            logits,
            Record(
                first: first, inputDropout: inputDropout, projected: projected, activated: kept,
                dropout: dropout)
        )
    }

    /// - Parameters:
    ///   - dLogits: `[batch, numLabels]`.
    ///   - length: the encoder output's padded length.
    /// - Returns: the gradient of the encoder output, `[batch, length, hidden]` (zero except
    ///   at the first positions).
    func backward(
        _ dLogits: Tensor, record: Record, length: Int, weights: ParameterStore,
        gradients: inout ParameterStore
    ) -> Tensor {
        var dActivated = out.backward(
            outputGradient: dLogits, input: record.dropout.applied(to: record.activated),
            weights: weights, gradients: &gradients)
        record.dropout.apply(to: &dActivated)
        let dProjected = Tensor.activationBackward(
            activation, outputGradient: dActivated, input: record.projected)
        var dFirst = dense.backward(
            outputGradient: dProjected, input: record.first, weights: weights,
            gradients: &gradients)
        record.inputDropout?.apply(to: &dFirst)
        let (batch, width) = (dFirst.shape[0], dFirst.shape[1])
        var dHidden = Tensor(zeros: [batch, length, width])
        dHidden.storage.withUnsafeMutableBufferPointer { pd in
            dFirst.storage.withUnsafeBufferPointer { pf in
                for b in 0..<batch {
                    (pd.baseAddress! + b * length * width).update(
                        from: pf.baseAddress! + b * width, count: width)
                }
            }
        }
        return dHidden
    }
}
