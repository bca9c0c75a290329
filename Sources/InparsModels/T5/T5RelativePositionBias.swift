import Foundation
import InparsTensor

/// T5's learned relative position bias, added to every attention score of a stack.
///
/// Only block 0 of each stack holds the table (`relative_attention_bias.weight`,
/// `[numBuckets, numHeads]`); the bias is computed once per forward pass and shared by all
/// layers. The encoder uses bidirectional buckets, the decoder causal ones.
///
/// Because the bias depends only on `key − query`, it is kept per head as a vector over all
/// offsets that occur (``Offsets``), not as a `[numHeads, queryLength, keyLength]` tensor: row
/// `i` of head `h` is a contiguous slice of that vector.
public struct T5RelativePositionBias: Sendable {
    /// `[numBuckets, numHeads]`, as in the checkpoint.
    public var table: Tensor
    /// Bidirectional (encoder) or causal (decoder) buckets.
    public var bidirectional: Bool
    public var maxDistance: Int

    public var numBuckets: Int { table.shape[0] }
    public var numHeads: Int { table.shape[1] }

    public init(table: Tensor, bidirectional: Bool, maxDistance: Int) {
        precondition(
            table.rank == 2, "relative attention bias must be [buckets, heads], got \(table.shape)")
        self.table = table
        self.bidirectional = bidirectional
        self.maxDistance = maxDistance
    }

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
    public func offsets(queryLength: Int, keyLength: Int, queryOffset: Int = 0) -> Offsets {
        // Offsets key − query run from −(queryOffset + queryLength − 1) to keyLength − 1.
        let lowest = -(queryOffset + queryLength - 1)
        let width = keyLength - lowest
        let heads = numHeads
        var values = [Float](repeating: 0, count: heads * max(width, 0))
        table.storage.withUnsafeBufferPointer { pt in
            for index in 0..<max(width, 0) {
                let bucket = Self.bucket(
                    relativePosition: lowest + index, bidirectional: bidirectional,
                    numBuckets: numBuckets, maxDistance: maxDistance)
                for h in 0..<heads { values[h * width + index] = pt[bucket * heads + h] }
            }
        }
        return Offsets(
            values: values, numHeads: heads, width: width, queryLength: queryLength,
            queryOffset: queryOffset)
    }

    /// Per-head bias vectors over relative offsets.
    ///
    /// `values` is `[numHeads, width]`; the bias of query row `i` (position `queryOffset + i`)
    /// against key `j` is `values[h * width + (queryLength − 1 − i) + j]`.
    public struct Offsets: Sendable {
        public var values: [Float]
        public var numHeads: Int
        public var width: Int
        public var queryLength: Int
        public var queryOffset: Int

        /// The element offset in `values` where row `i` of head `h` starts.
        @inlinable
        public func rowStart(head h: Int, row i: Int) -> Int {
            h * width + (queryLength - 1 - i)
        }
    }
}
