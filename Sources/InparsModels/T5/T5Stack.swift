import InparsTensor

/// What T5's encoder and decoder stacks share around their blocks: the (shared) token
/// embedding and its dropout, the stack's relative position bias, and the final RMS norm and
/// its dropout, with their backward passes.
struct T5Stack: Sendable {
    /// Slot `[vocab, dModel]`: `shared.weight` (each stack's `embed_tokens` is tied to it).
    let embedding: Int
    /// Slot `[dModel]`: `{stack}.final_layer_norm.weight`.
    let finalNorm: Int
    /// From `{stack}.block.0.layer.0.SelfAttention.relative_attention_bias`.
    let positionBias: T5RelativePositionBias
    let epsilon: Float

    /// What a stack's backward pass needs from a training forward.
    struct Record<LayerRecord> {
        /// The input ids, `[batch · length]` row-major.
        var ids: [Int32]
        var embeddingDropout: DropoutMask
        var bias: RelativeOffsetBias
        var layers: [LayerRecord]
        /// The residual stream before the final norm.
        var finalInput: Tensor
        var finalDropout: DropoutMask
    }

    /// The embedded ids, `idShape + [dModel]`, with the embedding dropout of a training pass.
    func embed(
        _ ids: [Int32], idShape: [Int], weights: ParameterStore, training: TrainingPass?
    ) -> (Tensor, DropoutMask?) {
        var hidden = Tensor.embedding(weights[embedding], ids: ids, idShape: idShape)
        let dropout = training?.mask()
        dropout?.apply(to: &hidden)
        return (hidden, dropout)
    }

    /// The final norm (and, training, its dropout) of the residual stream after the blocks;
    /// the stack's record when training.
    func finish<LayerRecord>(
        _ hidden: Tensor, ids: [Int32], embeddingDropout: DropoutMask?, bias: RelativeOffsetBias,
        layers: [LayerRecord], weights: ParameterStore, training: TrainingPass?
    ) -> (Tensor, Record<LayerRecord>?) {
        var output = hidden.rmsNormalized(weight: weights[finalNorm], epsilon: epsilon)
        guard let training, let embeddingDropout else { return (output, nil) }
        let finalDropout = training.mask()
        finalDropout.apply(to: &output)
        return (
            output,
            Record(
                ids: ids, embeddingDropout: embeddingDropout, bias: bias, layers: layers,
                finalInput: hidden, finalDropout: finalDropout)
        )
    }

    /// Back-propagates the layers in reverse between the final norm and the embedding: the
    /// final norm's backward, `layerBackward` for each recorded block (with the stack's
    /// relative-bias gradient, `[numHeads, bias.width]`), the bias table's and the embedding's
    /// backward into `gradients`.
    func backward<LayerRecord>(
        _ dOutput: Tensor, record: Record<LayerRecord>, weights: ParameterStore,
        gradients: inout ParameterStore,
        layerBackward: (Int, Tensor, inout ParameterStore, inout [Float]) -> Tensor
    ) {
        var dHidden = Tensor.rmsNormBackward(
            outputGradient: record.finalDropout.applied(to: dOutput), input: record.finalInput,
            weight: weights[finalNorm], epsilon: epsilon,
            weightGradient: &gradients.tensors[finalNorm])
        var biasGradient = [Float](repeating: 0, count: record.bias.values.count)
        for index in record.layers.indices.reversed() {
            dHidden = layerBackward(index, dHidden, &gradients, &biasGradient)
        }
        positionBias.backward(
            offsetGradient: biasGradient, bias: record.bias, gradients: &gradients)
        record.embeddingDropout.apply(to: &dHidden)
        Tensor.embeddingBackward(
            outputGradient: dHidden, ids: record.ids,
            tableGradient: &gradients.tensors[embedding])
    }
}
