import Foundation
import InparsTensor

/// T5 self-attention (`layer.0.SelfAttention`), encoder and decoder.
///
/// The q, k and v weights share one `[3 · inner, dModel]` slot, so one GEMM computes all three;
/// heads are then addressed in place (no split/merge copies). No 1/√dKV scaling (T5). The
/// relative position bias comes from the stack's ``T5RelativePositionBias``, computed once per
/// forward pass. In training, dropout applies to the attention probabilities and to the
/// sublayer's output (Hugging Face's `T5Attention` and `T5LayerSelfAttention`).
struct T5SelfAttention: Sendable {
    /// Slot `[3 · inner, dModel]`: rows `0..<inner` are q, then k, then v (`inner = numHeads · dKV`).
    let queryKeyValue: Int
    /// Slot `[dModel, inner]`: the `o` projection.
    let output: Int
    let numHeads: Int
    let dKV: Int

    var inner: Int { numHeads * dKV }

    /// What the backward pass needs from a training forward.
    struct Record {
        /// The normalised input, `[batch, length, dModel]`.
        var input: Tensor
        /// `[batch, length, 3·inner]`.
        var qkv: Tensor
        /// The call, with queries, keys and values addressed in ``qkv``.
        var problem: AttentionProblem
        /// Softmax output before dropout, `[batch, numHeads, length, length]`.
        var probabilities: Tensor
        /// `[batch, length, inner]`.
        var context: Tensor
        var probabilityDropout: DropoutMask
        var outputDropout: DropoutMask
    }

    /// The pre-norm bidirectional self-attention sublayer over whole sequences (the encoder):
    /// normalises the residual stream with the sublayer's RMS norm and adds the projected
    /// context into it. At inference the norm goes into the q/k/v product
    /// (``LinearWeight/matmul(rmsNormalizing:norm:epsilon:)``: at int8 it is folded into the
    /// activation quantization, with no normalised fp32 copy).
    ///
    /// - Parameters:
    ///   - residual: `[batch, seqLen, dModel]`, to which the projected context is added.
    ///   - norm: `[dModel]`, the sublayer's layer-norm weight.
    ///   - lengths: real length of each batch entry (keys past it are padding).
    ///   - bias: offsets for `seqLen` queries and keys.
    ///   - training: set for a training pass (two dropout sites: probabilities, output).
    func forward(
        normalizing residual: inout Tensor, norm: Tensor, epsilon: Float, weights: ParameterStore,
        lengths: [Int], bias: RelativeOffsetBias, training: TrainingPass?
    ) -> Record? {
        let projection = weights.linear(queryKeyValue)
        let x = training.map { _ in residual.rmsNormalized(weight: norm, epsilon: epsilon) }
        // [batch, seqLen, 3·inner]
        let qkv =
            x.map { projection.matmul($0) }
            ?? projection.matmul(rmsNormalizing: residual, norm: norm, epsilon: epsilon)
        return attend(
            x, qkv: qkv, weights: weights, cache: nil, pastLength: 0, visibleKeys: lengths,
            causal: false, bias: bias, into: &residual, training: training)
    }

    /// Causal self-attention for `stepLength` new decoder positions, appending their keys and
    /// values to `cache` (the incremental decoder; a teacher-forced or training pass is one
    /// step over all positions).
    ///
    /// - Parameters:
    ///   - x: the normalised input for the new positions, `[batch, stepLength, dModel]`.
    ///   - cache: this layer's keys and values for the `pastLength` earlier positions.
    ///   - pastLength: positions already in the cache; the new ones are `pastLength...`
    ///     (0 for a training pass).
    ///   - lengths: per batch entry, how many of all `pastLength + stepLength` positions are
    ///     real (decoder padding); `nil` when all are.
    ///   - bias: offsets for `stepLength` queries at `pastLength` against `pastLength +
    ///     stepLength` keys.
    ///   - residual: `[batch, stepLength, dModel]`, to which the projected context is added.
    func forward(
        _ x: Tensor, weights: ParameterStore, cache: inout KeyValueCache, pastLength: Int,
        lengths: [Int]?, bias: RelativeOffsetBias, into residual: inout Tensor,
        training: TrainingPass?
    ) -> Record? {
        precondition(training == nil || pastLength == 0, "a training pass decodes from position 0")
        let total = pastLength + x.shape[1]
        let qkv = weights.linear(queryKeyValue).matmul(x)  // [batch, stepLength, 3·inner]
        cache.append(qkv, keyOffset: inner, valueOffset: 2 * inner, at: pastLength)
        // The first step's keys are all in `qkv`: attend there (the cache holds copies).
        return attend(
            x, qkv: qkv, weights: weights, cache: pastLength == 0 ? nil : cache,
            pastLength: pastLength,
            visibleKeys: lengths ?? [Int](repeating: total, count: x.shape[0]), causal: true,
            bias: bias, into: &residual, training: training)
    }

    /// The attention of `qkv`'s queries over the keys and values in `qkv` itself (`cache`
    /// `nil`) or in `cache`, then the output projection into the residual stream; `x` (the
    /// normalised input) is kept in the record when training.
    private func attend(
        _ x: Tensor?, qkv: Tensor, weights: ParameterStore, cache: KeyValueCache?,
        pastLength: Int, visibleKeys: [Int], causal: Bool, bias: RelativeOffsetBias,
        into residual: inout Tensor, training: TrainingPass?
    ) -> Record? {
        let (batch, stepLength) = (qkv.shape[0], qkv.shape[1])
        let width = 3 * inner
        func fused(_ part: Int) -> HeadLayout {
            HeadLayout(rowStride: width, batchStride: stepLength * width, offset: part * inner)
        }
        let problem = AttentionProblem(
            batch: batch, numHeads: numHeads, numKVHeads: numHeads, headDimension: dKV,
            queryLength: stepLength, keyLength: pastLength + stepLength, queries: fused(0),
            keys: cache?.layout ?? fused(1), values: cache?.layout ?? fused(2),
            output: HeadLayout(rowStride: inner, batchStride: stepLength * inner),
            visibleKeys: visibleKeys, causalOffset: causal ? pastLength : nil)
        let probabilityDropout = training?.mask()
        var context = Tensor(zeros: [batch, stepLength, inner])
        let probabilities = AttentionKernel.run(
            problem, queries: qkv.storage, keys: cache?.keys ?? qkv.storage,
            values: cache?.values ?? qkv.storage, bias: bias, into: &context,
            recording: training != nil, dropout: probabilityDropout)
        let outputDropout = training?.mask()
        weights.linear(output).project(context, dropout: outputDropout, into: &residual)
        guard let x, let probabilities, let probabilityDropout, let outputDropout else { return nil }
        return Record(
            input: x, qkv: qkv, problem: problem, probabilities: probabilities, context: context,
            probabilityDropout: probabilityDropout, outputDropout: outputDropout)
    }

    /// Back-propagates the gradient of the residual stream after this sublayer.
    ///
    /// - Parameters:
    ///   - dResidual: `[batch, length, dModel]`.
    ///   - biasGradient: the stack's relative-bias gradient, laid out as the forward's bias
    ///     values (`[numHeads, width]`); this layer's share is added.
    /// - Returns: the gradient of the normalised input.
    func backward(
        _ dResidual: Tensor, record: Record, weights: ParameterStore,
        gradients: inout ParameterStore, biasGradient: inout [Float]
    ) -> Tensor {
        let dContext = weights.linear(output).backward(
            outputGradient: record.outputDropout.applied(to: dResidual), input: record.context,
            weightGradient: &gradients.tensors[output])
        let dqkv = AttentionKernel.runBackward(
            record.problem, queries: record.qkv, memory: nil, probabilities: record.probabilities, dropout: record.probabilityDropout,
            outputGradient: dContext, biasGradient: &biasGradient)
        return weights.linear(queryKeyValue).backward(
            outputGradient: dqkv.queries, input: record.input,
            weightGradient: &gradients.tensors[queryKeyValue])
    }
}
