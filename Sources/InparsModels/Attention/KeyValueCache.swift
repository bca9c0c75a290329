import InparsTensor

/// One attention layer's keys and values for the positions decoded so far.
///
/// `keys` and `values` are `[batch, capacity, width]` row-major, with `width = numKVHeads ·
/// headDimension` (grouped-query models cache only their key/value heads); positions
/// `0..<length` (tracked by the model's cache) are valid. The capacity doubles when a step
/// would overflow it.
///
/// The cache is a value: a copy is an independent cache (copy on write), and
/// ``selectingRows(_:length:)`` may repeat a row, so one sequence's cache (a few-shot prompt
/// prefix) can be forked into several batch entries that then continue on their own.
public struct KeyValueCache: Sendable {
    public private(set) var keys: [Float]
    public private(set) var values: [Float]
    public private(set) var capacity: Int
    public let batch: Int
    /// Floats per cached position: `numKVHeads · headDimension`.
    public let width: Int

    /// An empty cache with room for `capacity` positions per batch entry.
    public init(batch: Int, width: Int, capacity: Int) {
        self.batch = batch
        self.width = width
        self.capacity = max(capacity, 1)
        keys = [Float](repeating: 0, count: batch * self.capacity * width)
        values = keys
    }

    /// Where head `h` of the cached keys or values lives (for the attention kernel).
    var layout: HeadLayout { HeadLayout(rowStride: width, batchStride: capacity * width) }

    /// Copies the keys and values of `stepLength` new positions out of a fused projection into
    /// positions `position...`.
    ///
    /// - Parameters:
    ///   - projection: `[batch, stepLength, rowWidth]`, each row holding the keys at columns
    ///     `keyOffset ..< keyOffset + width` and the values at `valueOffset ..< valueOffset +
    ///     width` (for a fused q/k/v row: `numHeads·d` and `numHeads·d + width`).
    mutating func append(
        _ projection: Tensor, keyOffset: Int, valueOffset: Int, at position: Int
    ) {
        precondition(
            projection.rank == 3 && projection.shape[0] == batch
                && max(keyOffset, valueOffset) + width <= projection.shape[2],
            "cache for \(batch)×\(width), got \(projection.shape)")
        let stepLength = projection.shape[1]
        let rowWidth = projection.shape[2]
        reserve(position + stepLength, keeping: position)
        let (cap, width) = (capacity, width)
        projection.storage.withUnsafeBufferPointer { p in
            keys.withUnsafeMutableBufferPointer { pk in
                values.withUnsafeMutableBufferPointer { pv in
                    for b in 0..<batch {
                        for t in 0..<stepLength {
                            let source = p.baseAddress! + (b * stepLength + t) * rowWidth
                            let destination = (b * cap + position + t) * width
                            (pk.baseAddress! + destination).update(
                                from: source + keyOffset, count: width)
                            (pv.baseAddress! + destination).update(
                                from: source + valueOffset, count: width)
                        }
                    }
                }
            }
        }
    }

    /// Grows the buffers to hold `needed` positions, keeping the first `kept`.
    private mutating func reserve(_ needed: Int, keeping kept: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, 2 * capacity)
        var newKeys = [Float](repeating: 0, count: batch * newCapacity * width)
        var newValues = newKeys
        for b in 0..<batch {
            let from = b * capacity * width
            let to = b * newCapacity * width
            newKeys[to..<(to + kept * width)] = keys[from..<(from + kept * width)]
            newValues[to..<(to + kept * width)] = values[from..<(from + kept * width)]
        }
        keys = newKeys
        values = newValues
        capacity = newCapacity
    }

    /// A cache holding the batch entries `rows` in that order, each with its first `length`
    /// positions: drops finished sequences during generation, or, with a row repeated, forks
    /// one entry's positions (a shared prompt prefix) into several.
    ///
    /// - Parameter rows: indices into `0..<batch`, in any order, repeats allowed.
    public func selectingRows(_ rows: [Int], length: Int) -> KeyValueCache {
        precondition(rows.allSatisfy { $0 >= 0 && $0 < batch }, "rows \(rows) outside \(batch)")
        precondition(length <= capacity, "length \(length) beyond capacity \(capacity)")
        var result = KeyValueCache(batch: rows.count, width: width, capacity: capacity)
        let (cap, width) = (capacity, width)
        let count = length * width
        keys.withUnsafeBufferPointer { pk in
            values.withUnsafeBufferPointer { pv in
                result.keys.withUnsafeMutableBufferPointer { rk in
                    result.values.withUnsafeMutableBufferPointer { rv in
                        for (to, from) in rows.enumerated() {
                            (rk.baseAddress! + to * cap * width).update(
                                from: pk.baseAddress! + from * cap * width, count: count)
                            (rv.baseAddress! + to * cap * width).update(
                                from: pv.baseAddress! + from * cap * width, count: count)
                        }
                    }
                }
            }
        }
        return result
    }
}
