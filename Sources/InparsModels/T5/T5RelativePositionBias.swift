import Foundation
import InparsTensor

/// T5's learned relative position bias, added to every attention score of a stack.
///
/// Only block 0 of each stack holds the table (`relative_attention_bias.weight`,
/// `[numBuckets, numHeads]`); the bias is computed once per forward pass and shared by all
/// layers. The encoder uses bidirectional buckets, the decoder causal ones. It depends only on
/// `key − query`, so it is handed to the attention kernel as a ``RelativeOffsetBias`` (one
/// vector per head over the offsets that occur), never as a dense tensor.
public struct T5RelativePositionBias: Sendable {
    /// Slot of the table, `[numBuckets, numHeads]` as in the checkpoint.
    let table: Int
    /// Bidirectional (encoder) or causal (decoder) buckets.
    let bidirectional: Bool
    let numBuckets: Int
    let numHeads: Int
    let maxDistance: Int

    /// The bucket of a relative position `key − query`.
    ///
    /// Port of `T5Attention._relative_position_bucket` in Hugging Face transformers
    /// (`src/transformers/models/t5/modeling_t5.py`, v5.24): half the buckets (all of them when
    /// causal) hold exact offsets below `numBuckets / 2` (of the half), the rest grow
    /// logarithmically up to `maxDistance`; the arithmetic is float32 as in PyTorch.
    public static func bucket(
        relativePosition: Int, bidirectional: Bool, numBuckets: Int, maxDistance: Int
    ) -> Int {
        var buckets = numBuckets
        var result = 0
        var position: Int
        if bidirectional {
            buckets /= 2
            if relativePosition > 0 { result += buckets }
            position = abs(relativePosition)
        } else {
            position = -min(relativePosition, 0)
        }
        let maxExact = buckets / 2
        if position < maxExact { return result + position }
        let scale = Float(log(Double(maxDistance) / Double(maxExact)))
        let logRatio = logf(Float(position) / Float(maxExact)) / scale * Float(buckets - maxExact)
        let large = min(maxExact + Int(logRatio), buckets - 1)
        return result + large
    }

    /// The bias for queries at positions `queryOffset ..< queryOffset + queryLength` against
    /// keys at `0 ..< keyLength`, one vector per head.
    func offsets(
        _ weights: ParameterStore, queryLength: Int, keyLength: Int, queryOffset: Int = 0
    ) -> RelativeOffsetBias {
        // Offsets key − query run from −(queryOffset + queryLength − 1) to keyLength − 1.
        let lowest = -(queryOffset + queryLength - 1)
        let width = max(keyLength - lowest, 0)
        let heads = numHeads
        var values = [Float](repeating: 0, count: heads * width)
        weights[table].storage.withUnsafeBufferPointer { pt in
            for index in 0..<width {
                let bucket = Self.bucket(
                    relativePosition: lowest + index, bidirectional: bidirectional,
                    numBuckets: numBuckets, maxDistance: maxDistance)
                for h in 0..<heads { values[h * width + index] = pt[bucket * heads + h] }
            }
        }
        return RelativeOffsetBias(
            values: values, numHeads: heads, width: width, queryLength: queryLength,
            queryOffset: queryOffset)
    }

    /// Backward of ``offsets(_:queryLength:keyLength:queryOffset:)``: each offset's gradient
    /// (summed over every layer of the stack that added the bias) goes to the table row of its
    /// bucket.
    ///
    /// - Parameters:
    ///   - offsetGradient: `[numHeads, bias.width]`, laid out as `bias.values`.
    ///   - bias: the forward's offsets.
    func backward(
        offsetGradient: [Float], bias: RelativeOffsetBias, gradients: inout ParameterStore
    ) {
        precondition(offsetGradient.count == numHeads * bias.width, "bias gradient shape")
        gradients.withMutableSlot(table) { pt in
            for index in 0..<bias.width {
                let bucket = Self.bucket(
                    relativePosition: bias.relativePosition(ofIndex: index),
                    bidirectional: bidirectional, numBuckets: numBuckets, maxDistance: maxDistance)
                for h in 0..<numHeads {
                    pt[bucket * numHeads + h] += offsetGradient[h * bias.width + index]
                }
            }
        }
    }
}
