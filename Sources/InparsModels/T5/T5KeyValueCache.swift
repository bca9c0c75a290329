import InparsTensor

/// One decoder layer's self-attention keys and values for the positions decoded so far.
///
/// `keys` and `values` are `[batch, capacity, inner]` (row-major, `inner = numHeads · dKV`);
/// positions `0..<length` (tracked by ``T5DecoderCache``) are valid. The capacity doubles when
/// a step would overflow it.
public struct T5KeyValueCache: Sendable {
    public private(set) var keys: [Float]
    public private(set) var values: [Float]
    public private(set) var capacity: Int
    public let batch: Int
    public let inner: Int

    public init(batch: Int, inner: Int, capacity: Int) {
        self.batch = batch
        self.inner = inner
        self.capacity = max(capacity, 1)
        keys = [Float](repeating: 0, count: batch * self.capacity * inner)
        values = keys
    }

    /// Copies the k and v parts of a fused projection into positions `position...`.
    ///
    /// - Parameter qkv: `[batch, stepLength, 3 · inner]` (q, k, v side by side per row).
    mutating func append(_ qkv: Tensor, at position: Int, inner: Int) {
        precondition(
            inner == self.inner && qkv.shape[0] == batch,
            "cache for \(batch)×\(self.inner), got \(qkv.shape)")
        let stepLength = qkv.shape[1]
        reserve(position + stepLength, keeping: position)
        let width = 3 * inner
        let cap = capacity
        qkv.storage.withUnsafeBufferPointer { p in
            keys.withUnsafeMutableBufferPointer { pk in
                values.withUnsafeMutableBufferPointer { pv in
                    for b in 0..<batch {
                        for t in 0..<stepLength {
                            let source = p.baseAddress! + (b * stepLength + t) * width
                            let destination = (b * cap + position + t) * inner
                            (pk.baseAddress! + destination).update(
                                from: source + inner, count: inner)
                            (pv.baseAddress! + destination).update(
                                from: source + 2 * inner, count: inner)
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
        var newKeys = [Float](repeating: 0, count: batch * newCapacity * inner)
        var newValues = newKeys
        for b in 0..<batch {
            let from = b * capacity * inner
            let to = b * newCapacity * inner
            newKeys[to..<(to + kept * inner)] = keys[from..<(from + kept * inner)]
            newValues[to..<(to + kept * inner)] = values[from..<(from + kept * inner)]
        }
        keys = newKeys
        values = newValues
        capacity = newCapacity
    }
}

extension T5KeyValueCache {
    /// A cache holding only the batch entries `rows` (in that order), each with its first
    /// `length` positions; used to drop finished sequences during generation.
    func selectingRows(_ rows: [Int], length: Int) -> T5KeyValueCache {
        var result = T5KeyValueCache(batch: rows.count, inner: inner, capacity: capacity)
        let cap = capacity
        let count = length * inner
        keys.withUnsafeBufferPointer { pk in
            values.withUnsafeBufferPointer { pv in
                result.keys.withUnsafeMutableBufferPointer { rk in
                    result.values.withUnsafeMutableBufferPointer { rv in
                        for (to, from) in rows.enumerated() {
                            (rk.baseAddress! + to * cap * inner).update(
                                from: pk.baseAddress! + from * cap * inner, count: count)
                            (rv.baseAddress! + to * cap * inner).update(
                                from: pv.baseAddress! + from * cap * inner, count: count)
                        }
                    }
                }
            }
        }
        return result
    }
}
