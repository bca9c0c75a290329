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
    /// positions `position...` of every batch entry.
    ///
    /// - Parameters:
    ///   - projection: `[batch, stepLength, rowWidth]`, each row holding the keys at columns
    ///     `keyOffset ..< keyOffset + width` and the values at `valueOffset ..< valueOffset +
    ///     width` (for a fused q/k/v row: `numHeads·d` and `numHeads·d + width`).
    mutating func append(
        _ projection: Tensor, keyOffset: Int, valueOffset: Int, at position: Int
    ) {
        append(
            projection, keyOffset: keyOffset, valueOffset: valueOffset,
            at: [Int](repeating: position, count: batch))
    }

    /// ``append(_:keyOffset:valueOffset:at:)`` with its own start per batch entry: entry `b`'s
    /// positions go to `positions[b]...` (sequences of different lengths decoding together).
    mutating func append(
        _ projection: Tensor, keyOffset: Int, valueOffset: Int, at positions: [Int]
    ) {
        precondition(
            projection.rank == 3 && projection.shape[0] == batch && positions.count == batch
                && max(keyOffset, valueOffset) + width <= projection.shape[2],
            "cache for \(batch)×\(width), got \(projection.shape)")
        let stepLength = projection.shape[1]
        let rowWidth = projection.shape[2]
        reserve((positions.max() ?? 0) + stepLength)
        let (cap, width) = (capacity, width)
        projection.storage.withUnsafeBufferPointer { p in
            keys.withUnsafeMutableBufferPointer { pk in
                values.withUnsafeMutableBufferPointer { pv in
                    for b in 0..<batch {
                        for t in 0..<stepLength {
                            let source = p.baseAddress! + (b * stepLength + t) * rowWidth
                            let destination = (b * cap + positions[b] + t) * width
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

    /// Grows the buffers to hold `needed` positions, keeping what they hold.
    private mutating func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        self = Self.gathering(
            (0..<batch).map { ($0, capacity) }, from: [self], capacity: max(needed, 2 * capacity))
    }

    /// A cache holding the batch entries `rows` in that order, each with its first `length`
    /// positions: drops finished sequences during generation, or, with a row repeated, forks
    /// one entry's positions (a shared prompt prefix) into several.
    ///
    /// - Parameter rows: indices into `0..<batch`, in any order, repeats allowed.
    public func selectingRows(_ rows: [Int], length: Int) -> KeyValueCache {
        precondition(rows.allSatisfy { $0 >= 0 && $0 < batch }, "rows \(rows) outside \(batch)")
        precondition(length <= capacity, "length \(length) beyond capacity \(capacity)")
        return Self.gathering(rows.map { ($0, length) }, from: [self], capacity: capacity)
    }

    /// A cache whose batch entries are copied from several caches of the same width: entry `i`
    /// holds the first `rows[i].length` positions of entry `rows[i].row`, counting the entries
    /// of `sources` one after the other (a running batch joined by newly prefilled sequences).
    ///
    /// - Parameter capacity: at least every copied length.
    public static func gathering(
        _ rows: [(row: Int, length: Int)], from sources: [KeyValueCache], capacity: Int
    ) -> KeyValueCache {
        let width = sources.first?.width ?? 0
        precondition(sources.allSatisfy { $0.width == width }, "caches of different widths")
        var owner: [(source: Int, row: Int)] = []
        for (index, source) in sources.enumerated() {
            owner += (0..<source.batch).map { (index, $0) }
        }
        var result = KeyValueCache(batch: rows.count, width: width, capacity: capacity)
        let cap = result.capacity
        for (to, (from, length)) in rows.enumerated() {
            precondition(from >= 0 && from < owner.count, "row \(from) outside \(owner.count)")
            let source = sources[owner[from].source]
            precondition(length <= min(source.capacity, cap), "length \(length) beyond capacity")
            let start = owner[from].row * source.capacity * width
            let target = to * cap * width
            result.keys.replaceSubrange(
                target..<(target + length * width),
                with: source.keys[start..<(start + length * width)])
            result.values.replaceSubrange(
                target..<(target + length * width),
                with: source.values[start..<(start + length * width)])
        }
        return result
    }
}
