import InparsTensor

/// One post-LayerNorm encoder block (`{prefix}.encoder.layer.{i}`):
/// `a = LN₁(x + dropout(Wo·attention(x) + bo))`, `y = LN₂(a + dropout(W₂·act(W₁·a + b₁) + b₂))`.
///
/// q, k and v share one `[3·hidden, hidden]` weight slot and one `[3·hidden]` bias slot, so one
/// GEMM computes them; attention is the shared ``AttentionKernel`` with scale `1/√d`, no bias
/// and per-row visible lengths for the padding (transformers' additive mask). Dropout sites in
/// training: the attention probabilities, the attention output, the feed-forward output
/// (`BertSelfAttention`, `BertSelfOutput`, `BertOutput`).
struct BertLayer: Sendable {
    let queryKeyValue: AffineLayer
    let attentionOutput: AffineLayer
    let attentionNorm: LayerNormLayer
    let intermediate: AffineLayer
    let output: AffineLayer
    let outputNorm: LayerNormLayer
    let numHeads: Int
    let activation: Activation

    static let dropoutSites = 3

    struct Record {
        /// The block input, `[batch, length, hidden]`.
        var input: Tensor
        /// `[batch, length, 3·hidden]`.
        var qkv: Tensor
        var problem: AttentionProblem
        var probabilities: Tensor
        var probabilityDropout: DropoutMask
        /// `[batch, length, hidden]`.
        var context: Tensor
        var attentionDropout: DropoutMask
        /// The first LayerNorm's input and output, `[batch, length, hidden]`.
        var attentionSum, attended: Tensor
        /// `W₁·a + b₁` before the activation, `[batch, length, intermediate]`.
        var projected: Tensor
        var activated: Tensor
        var outputDropout: DropoutMask
        /// The second LayerNorm's input.
        var outputSum: Tensor
    }

    /// - Parameters:
    ///   - hidden: `[batch, length, hidden]`, replaced by the block's output.
    ///   - lengths: real length of each batch entry.
    func forward(
        _ hidden: inout Tensor, lengths: [Int], weights: ParameterStore, training: TrainingPass?
    ) -> Record? {
        let (batch, length, width) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
        let qkv = queryKeyValue.forward(hidden, weights: weights)
        func fused(_ part: Int) -> HeadLayout {
            HeadLayout(rowStride: 3 * width, batchStride: length * 3 * width, offset: part * width)
        }
        let headDimension = width / numHeads
        let problem = AttentionProblem(
            batch: batch, numHeads: numHeads, numKVHeads: numHeads, headDimension: headDimension,
            queryLength: length, keyLength: length, queries: fused(0), keys: fused(1),
            values: fused(2), output: HeadLayout(rowStride: width, batchStride: length * width),
            visibleKeys: lengths, causalOffset: nil,
            scale: 1 / Float(headDimension).squareRoot())
        let probabilityDropout = training?.mask()
        var context = Tensor(zeros: [batch, length, width])
        let probabilities = AttentionKernel.run(
            problem, queries: qkv.storage, keys: qkv.storage, values: qkv.storage, bias: nil,
            into: &context, recording: training != nil, dropout: probabilityDropout)
        let input = training.map { _ in hidden }
        let attentionDropout = training?.mask()
        attentionOutput.forward(
            context, weights: weights, dropout: attentionDropout, into: &hidden)
        let attentionSum = training.map { _ in hidden }
        let attended = attentionNorm.forward(hidden, weights: weights)
        var activated = intermediate.forward(attended, weights: weights)
        // At inference nothing is kept, so the activation and the residual add run in place.
        let projected = training.map { _ in activated }
        activated.activate(activation)
        let outputDropout = training?.mask()
        let attendedKept = training.map { _ in attended }
        hidden = consume attended
        output.forward(activated, weights: weights, dropout: outputDropout, into: &hidden)
        let outputSum = training.map { _ in hidden }
        hidden = outputNorm.forward(hidden, weights: weights)
        guard let input, let probabilities, let probabilityDropout, let attentionDropout,
            let attentionSum, let attended = attendedKept, let projected, let outputDropout,
            let outputSum
        else { return nil }
        return Record(
            input: input, qkv: qkv, problem: problem, probabilities: probabilities,
            probabilityDropout: probabilityDropout, context: context,
            attentionDropout: attentionDropout, attentionSum: attentionSum, attended: attended,
            projected: projected, activated: activated, outputDropout: outputDropout,
            outputSum: outputSum)
    }

    /// - Parameter dOutput: the gradient of the block's output, `[batch, length, hidden]`.
    /// - Returns: the gradient of its input.
    func backward(
        _ dOutput: Tensor, record: Record, weights: ParameterStore,
        gradients: inout ParameterStore
    ) -> Tensor {
        // y = LN₂(a + f(a)): the residual path and the feed-forward branch.
        var dAttended = outputNorm.backward(
            outputGradient: dOutput, input: record.outputSum, weights: weights,
            gradients: &gradients)
        let dActivated = output.backward(
            outputGradient: record.outputDropout.applied(to: dAttended), input: record.activated,
            weights: weights, gradients: &gradients)
        let dProjected = Tensor.activationBackward(
            activation, outputGradient: dActivated, input: record.projected)
        dAttended.add(
            intermediate.backward(
                outputGradient: dProjected, input: record.attended, weights: weights,
                gradients: &gradients))
        // a = LN₁(x + attention(x)).
        var dInput = attentionNorm.backward(
            outputGradient: dAttended, input: record.attentionSum, weights: weights,
            gradients: &gradients)
        let dContext = attentionOutput.backward(
            outputGradient: record.attentionDropout.applied(to: dInput), input: record.context,
            weights: weights, gradients: &gradients)
        var noBias = [Float]()
        let dqkv = AttentionKernel.runBackward(
            record.problem, queries: record.qkv, memory: nil, probabilities: record.probabilities,
            dropout: record.probabilityDropout, outputGradient: dContext, biasGradient: &noBias)
        dInput.add(
            queryKeyValue.backward(
                outputGradient: dqkv.queries, input: record.input, weights: weights,
                gradients: &gradients))
        return dInput
    }
}
