import Foundation
import InparsModels
import InparsTensor

/// The model side of monoT5 scoring, on token ids: `log P(positive)` from a 2-way softmax over
/// the logits of two label ids at the first decoder step.
///
/// Only the two LM-head rows are evaluated, and the single decoder step attends to the encoder
/// output with absorbed key/value projections, so beyond the encoder
/// a pair costs one decoder position.
public struct MonoT5Scorer: Sendable {
    public let model: T5Model
    public let positiveID: Int32
    public let negativeID: Int32
    /// Pairs per forward pass.
    public var batchSize: Int
    /// `[2, dModel]`: the LM-head rows of the two labels, output scale folded in.
    let labelHead: Tensor

    /// - Throws: ``RankerError/invalidOption(name:value:reason:)`` for a batch size below 1 or
    ///   label ids outside the model's vocabulary.
    public init(model: T5Model, positiveID: Int32, negativeID: Int32, batchSize: Int = 8)
        throws(RankerError)
    {
        guard batchSize >= 1 else {
            throw .invalidOption(
                name: "--batch-size", value: String(batchSize), reason: "must be at least 1")
        }
        for id in [positiveID, negativeID] where id < 0 || Int(id) >= model.configuration.vocabSize {
            throw .invalidOption(
                name: "label id", value: String(id),
                reason: "outside the model's vocabulary of \(model.configuration.vocabSize)")
        }
        self.model = model
        self.positiveID = positiveID
        self.negativeID = negativeID
        self.batchSize = batchSize
        labelHead = model.lmHeadRows([Int(positiveID), Int(negativeID)])
    }

    /// Scores token sequences: sorted by length (longest first), batched, results returned in
    /// input order.
    ///
    /// - Parameter progress: called after each batch with the number of pairs it held.
    /// - Returns: `log P(positive)` per input.
    public func score(inputs: [[Int32]], progress: ((Int) -> Void)? = nil) -> [Float] {
        let order = inputs.indices.sorted { (inputs[$0].count, $1) > (inputs[$1].count, $0) }
        var scores = [Float](repeating: 0, count: inputs.count)
        var start = 0
        while start < order.count {
            let end = min(start + batchSize, order.count)
            let batch = order[start..<end].map { inputs[$0] }
            for (index, score) in zip(order[start..<end], scoreBatch(batch)) {
                scores[index] = score
            }
            progress?(end - start)
            start = end
        }
        return scores
    }

    /// One forward pass: encoder, one decoder step, two LM-head rows, 2-way log-softmax.
    ///
    /// - Parameter batch: token ids per pair (unequal lengths allowed, each non-empty).
    /// - Returns: `log P(positive)` per pair.
    public func scoreBatch(_ batch: [[Int32]]) -> [Float] {
        let encoded = model.encode(batch)
        var cache = model.makeDecoderCache(
            encoderOutput: encoded, capacity: 1, projectMemory: false)
        let start = [Int32](
            repeating: Int32(model.configuration.decoderStartTokenID), count: batch.count)
        let hidden = model.decoderStep(start, cache: &cache)  // [batch, 1, dModel]
        let logits = Tensor.linear(hidden, weight: labelHead)  // [batch, 1, 2]
        return (0..<batch.count).map { b in
            let positive = logits.storage[2 * b]
            let negative = logits.storage[2 * b + 1]
            let maximum = max(positive, negative)
            return positive - maximum - logf(expf(positive - maximum) + expf(negative - maximum))
        }
    }
}
