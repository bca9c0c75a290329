/// One batch of sequence-to-sequence training examples for T5.
///
/// As Hugging Face `T5ForConditionalGeneration(input_ids, attention_mask, labels)`: encoder
/// inputs are right-padded with the pad id and masked; labels are right-padded with −100
/// (ignored by the loss); decoder inputs are the labels shifted right behind the decoder start
/// token, with −100 replaced by the pad id; the decoder sees every position causally (no
/// decoder padding mask, as transformers when only `labels` are given).
public struct T5TrainingBatch: Sendable, Equatable {
    /// Encoder token ids per example, each non-empty.
    public var inputs: [[Int32]]
    /// Target token ids per example (monoT5: `▁true`/`▁false` then EOS), each non-empty.
    public var labels: [[Int32]]

    public init(inputs: [[Int32]], labels: [[Int32]]) {
        precondition(
            inputs.count == labels.count && !inputs.isEmpty,
            "batch of \(inputs.count) inputs and \(labels.count) labels")
        precondition(
            inputs.allSatisfy { !$0.isEmpty } && labels.allSatisfy { !$0.isEmpty },
            "empty sequence in a training batch")
        self.inputs = inputs
        self.labels = labels
    }

    public var size: Int { inputs.count }

    /// Flat targets `[batch · maxLabelLength]` (−100 padded), the matching shifted decoder
    /// inputs, and `maxLabelLength`.
    func decoderSequences(startID: Int32, padID: Int32) -> (
        targets: [Int32], decoderInputs: [Int32], length: Int
    ) {
        let length = labels.map(\.count).max()!
        var targets = [Int32]()
        var shifted = [Int32]()
        for row in labels {
            let padded = row + [Int32](repeating: -100, count: length - row.count)
            targets += padded
            shifted.append(startID)
            shifted += padded.dropLast().map { $0 == -100 ? padID : $0 }
        }
        return (targets, shifted, length)
    }
}
