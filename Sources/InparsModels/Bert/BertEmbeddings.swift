import InparsTensor

/// The embeddings of a BERT-style encoder (`{prefix}.embeddings`): word + absolute position +
/// token type, LayerNorm, dropout, and ELECTRA's `embeddings_project` when its embedding width
/// differs from the hidden width.
struct BertEmbeddings: Sendable {
    /// Slot `[vocab, embeddingSize]`.
    let word: Int
    /// Slot `[maxPositionEmbeddings, embeddingSize]`.
    let position: Int
    /// Slot `[typeVocabSize, embeddingSize]`.
    let tokenType: Int
    let norm: LayerNormLayer
    /// ELECTRA's `embeddings_project` (`[hidden, embeddingSize]`), or `nil`.
    let project: AffineLayer?
    /// The first position id (RoBERTa: `pad_token_id + 1`).
    let positionOffset: Int

    /// Dropout sites of a training pass.
    static let dropoutSites = 1

    struct Record {
        var ids: [Int32]
        var typeIDs: [Int32]
        var positionIDs: [Int32]
        /// The sum of the three embeddings (the LayerNorm's input), `[batch, length, E]`.
        var sum: Tensor
        var dropout: DropoutMask
        /// The projection's input (ELECTRA), `[batch, length, E]`.
        var projectInput: Tensor?
    }

    /// - Parameters:
    ///   - ids, typeIDs: `[batch · length]` row-major, right-padded.
    ///   - batch, length: the padded extents.
    /// - Returns: `[batch, length, hidden]`, and the record when training.
    func forward(
        ids: [Int32], typeIDs: [Int32], batch: Int, length: Int, weights: ParameterStore,
        training: TrainingPass?
    ) -> (Tensor, Record?) {
        // Padded positions get the next position ids too (HF gives them padding_idx); they are
        // never attended to and never read by the head.
        var positionIDs = [Int32]()
        positionIDs.reserveCapacity(batch * length)
        for _ in 0..<batch {
            positionIDs.append(contentsOf: (0..<length).map { Int32(positionOffset + $0) })
        }
        var sum = Tensor.embedding(weights[word], ids: ids, idShape: [batch, length])
        sum.add(Tensor.embedding(weights[position], ids: positionIDs, idShape: [batch, length]))
        sum.add(Tensor.embedding(weights[tokenType], ids: typeIDs, idShape: [batch, length]))
        var hidden = norm.forward(sum, weights: weights)
        let dropout = training?.mask()
        dropout?.apply(to: &hidden)
        let projectInput = training != nil && project != nil ? hidden : nil
        if let project { hidden = project.forward(hidden, weights: weights) }
        guard let dropout else { return (hidden, nil) }
        return (
            hidden,
            Record(
                ids: ids, typeIDs: typeIDs, positionIDs: positionIDs, sum: sum, dropout: dropout,
                projectInput: projectInput)
        )
    }

    /// Adds the gradients of the three tables, the LayerNorm and the projection.
    ///
    /// - Parameter dHidden: `[batch, length, hidden]`.
    func backward(
        _ dHidden: Tensor, record: Record, weights: ParameterStore,
        gradients: inout ParameterStore
    ) {
        var d = dHidden
        if let project, let input = record.projectInput {
            d = project.backward(
                outputGradient: d, input: input, weights: weights, gradients: &gradients)
        }
        record.dropout.apply(to: &d)
        let dSum = norm.backward(
            outputGradient: d, input: record.sum, weights: weights, gradients: &gradients)
        Tensor.embeddingBackward(
            outputGradient: dSum, ids: record.ids, tableGradient: &gradients.tensors[word])
        Tensor.embeddingBackward(
            outputGradient: dSum, ids: record.positionIDs,
            tableGradient: &gradients.tensors[position])
        Tensor.embeddingBackward(
            outputGradient: dSum, ids: record.typeIDs, tableGradient: &gradients.tensors[tokenType])
    }
}
