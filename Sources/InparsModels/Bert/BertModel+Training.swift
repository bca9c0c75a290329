import InparsTensor

extension BertModel {
    /// Adds `gradientScale ×` the gradients of `loss(logits)` on one batch into `gradients`:
    /// the model's forward pass with a training pass (each layer records what its backward
    /// needs), the loss on the `[batch, numLabels]` logits, then the layers' backward passes
    /// in reverse (head, blocks, embeddings).
    ///
    /// Dropout follows transformers in training mode: after the embeddings' LayerNorm, on the
    /// attention probabilities, on each block's attention and feed-forward outputs before the
    /// residual add, and in the head (before `dense` for ELECTRA/RoBERTa, before the
    /// classifier), all with `dropoutRate`; one seed per site is drawn from `generator`. With
    /// `dropoutRate == 0` nothing is drawn.
    ///
    /// - Parameters:
    ///   - inputs: as for ``logits(_:)``.
    ///   - gradients: accumulators of this model's table (``ParameterStore/zeros()`` at the
    ///     start of an optimizer step).
    ///   - loss: the loss of the logits and its gradient with respect to them.
    /// - Returns: the batch's unscaled loss.
    public func accumulateGradients(
        _ inputs: [BertInput], dropoutRate: Float = 0, gradientScale: Float = 1,
        into gradients: inout ParameterStore, using generator: inout some RandomNumberGenerator,
        loss: (Tensor) -> (loss: Float, gradient: Tensor)
    ) -> Float {
        precondition(gradients.table == parameters.table, "gradients of another model")
        let training = TrainingPass(rate: dropoutRate, sites: dropoutSites, using: &generator)
        let (logits, recorded) = forward(inputs, training: training)
        let (value, gradient) = loss(logits)
        var dLogits = gradient
        precondition(dLogits.shape == logits.shape, "loss gradient \(dLogits.shape) for \(logits.shape)")
        if gradientScale != 1 { dLogits.scale(by: gradientScale) }
        let record = recorded!
        var dHidden = head.backward(
            dLogits, record: record.head, length: record.length, weights: parameters,
            gradients: &gradients)
        for index in layers.indices.reversed() {
            dHidden = layers[index].backward(
                dHidden, record: record.layers[index], weights: parameters, gradients: &gradients)
        }
        embeddings.backward(
            dHidden, record: record.embeddings, weights: parameters, gradients: &gradients)
        return value
    }
}
