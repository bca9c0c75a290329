import Foundation
import InparsTensor

/// T5 encoder-decoder attention (`layer.1.EncDecAttention`): decoder queries against the
/// encoder output. No position bias, no 1/√dKV scaling; encoder padding is masked.
///
/// The k and v weights share one `[2 · inner, dModel]` slot; ``projectMemory(_:weights:)``
/// applies them to the encoder output once per sequence, and every decoder step reuses the
/// result (``forward(_:weights:memory:memoryLengths:into:training:)``). For a single decoder
/// step (monoT5 scoring) the projections can instead be absorbed into the query and the output
/// (``forwardAbsorbed(_:weights:encoderHidden:memoryLengths:into:training:)``).
struct T5CrossAttention: Sendable {
    /// Slot `[inner, dModel]`: the `q` projection.
    let query: Int
    /// Slot `[2 · inner, dModel]`: `k` rows then `v` rows.
    let keyValue: Int
    /// Slot `[dModel, inner]`: the `o` projection.
    let output: Int
    let numHeads: Int
    let dKV: Int

    var inner: Int { numHeads * dKV }

    /// What the backward pass needs from a training forward over projected memory.
    struct Record {
        /// The normalised decoder input, `[batch, stepLength, dModel]`.
        var input: Tensor
        /// `[batch, stepLength, inner]`.
        var queries: Tensor
        /// `[batch, sourceLength, 2·inner]`.
        var memory: Tensor
        var problem: AttentionProblem
        /// `[batch, numHeads, stepLength, sourceLength]`.
        var probabilities: Tensor
        /// `[batch, stepLength, inner]`.
        var context: Tensor
        var probabilityDropout: DropoutMask
        var outputDropout: DropoutMask
    }

    /// Keys and values of the encoder output.
    ///
    /// - Parameter encoderHidden: `[batch, sourceLength, dModel]`.
    /// - Returns: `[batch, sourceLength, 2 · inner]` (k then v in each row).
    func projectMemory(_ encoderHidden: Tensor, weights: ParameterStore) -> Tensor {
        weights.linear(keyValue).matmul(encoderHidden)
    }

    /// Attention of `x` over the projected encoder output, added into the residual stream.
    ///
    /// - Parameters:
    ///   - x: normalised decoder input, `[batch, stepLength, dModel]`.
    ///   - memory: from ``projectMemory(_:weights:)``, `[batch, sourceLength, 2 · inner]`.
    ///   - memoryLengths: real length of each encoder sequence.
    ///   - residual: `[batch, stepLength, dModel]`.
    ///   - training: set for a training pass (two dropout sites: probabilities, output).
    func forward(
        _ x: Tensor, weights: ParameterStore, memory: Tensor, memoryLengths: [Int],
        into residual: inout Tensor, training: TrainingPass?
    ) -> Record? {
        let (batch, stepLength) = (x.shape[0], x.shape[1])
        let sourceLength = memory.shape[1]
        let queries = weights.linear(query).matmul(x)  // [batch, stepLength, inner]
        let memoryLayout = { (offset: Int) in
            HeadLayout(rowStride: 2 * inner, batchStride: sourceLength * 2 * inner, offset: offset)
        }
        let problem = AttentionProblem(
            batch: batch, numHeads: numHeads, numKVHeads: numHeads, headDimension: dKV,
            queryLength: stepLength, keyLength: sourceLength,
            queries: HeadLayout(rowStride: inner, batchStride: stepLength * inner),
            keys: memoryLayout(0), values: memoryLayout(inner),
            output: HeadLayout(rowStride: inner, batchStride: stepLength * inner),
            visibleKeys: memoryLengths, causalOffset: nil)
        let probabilityDropout = training?.mask()
        var context = Tensor(zeros: [batch, stepLength, inner])
        let probabilities = AttentionKernel.run(
            problem, queries: queries.storage, keys: memory.storage, values: memory.storage,
            bias: nil, into: &context, recording: training != nil, dropout: probabilityDropout)
        let outputDropout = training?.mask()
        weights.linear(output).project(context, dropout: outputDropout, into: &residual)
        guard let probabilities, let probabilityDropout, let outputDropout else { return nil }
        return Record(
            input: x, queries: queries, memory: memory, problem: problem,
            probabilities: probabilities, context: context,
            probabilityDropout: probabilityDropout, outputDropout: outputDropout)
    }

    /// Back-propagates the gradient of the residual stream after this sublayer.
    ///
    /// - Parameters:
    ///   - dResidual: `[batch, stepLength, dModel]`.
    ///   - encoderHidden: the encoder output the memory was projected from.
    ///   - dEncoderHidden: `[batch, sourceLength, dModel]`; this layer's share is added.
    /// - Returns: the gradient of the normalised decoder input.
    func backward(
        _ dResidual: Tensor, record: Record, weights: ParameterStore,
        gradients: inout ParameterStore, encoderHidden: Tensor, dEncoderHidden: inout Tensor
    ) -> Tensor {
        let dContext = weights.linear(output).backward(
            outputGradient: record.outputDropout.applied(to: dResidual), input: record.context,
            weightGradient: &gradients.tensors[output])
        var noBias: [Float] = []
        let d = AttentionKernel.runBackward(
            record.problem, queries: record.queries, memory: record.memory,
            probabilities: record.probabilities, dropout: record.probabilityDropout,
            outputGradient: dContext, biasGradient: &noBias)
        dEncoderHidden.add(
            weights.linear(keyValue).backward(
                outputGradient: d.memory!, input: encoderHidden,
                weightGradient: &gradients.tensors[keyValue]))
        return weights.linear(query).backward(
            outputGradient: d.queries, input: record.input,
            weightGradient: &gradients.tensors[query])
    }
}
