extension Tensor {
    /// The index of the largest entry of each row (last axis); the first index wins ties.
    ///
    /// - Returns: `rowCount` indices.
    public func argmax() -> [Int] {
        let d = lastDimension
        precondition(d > 0, "argmax over an empty axis")
        var result = [Int](repeating: 0, count: rowCount)
        storage.withUnsafeBufferPointer { px in
            for row in 0..<rowCount {
                let base = row * d
                var best = 0
                var bestValue = px[base]
                for i in 1..<d where px[base + i] > bestValue {
                    best = i
                    bestValue = px[base + i]
                }
                result[row] = best
            }
        }
        return result
    }

    /// The `k` largest entries of each row (last axis), largest first; ties keep the lower
    /// index first.
    ///
    /// - Returns: per row, `min(k, lastDimension)` pairs `(index, value)`.
    public func topK(_ k: Int) -> [[(index: Int, value: Float)]] {
        let d = lastDimension
        let keep = min(k, d)
        var result = [[(index: Int, value: Float)]]()
        result.reserveCapacity(rowCount)
        storage.withUnsafeBufferPointer { px in
            for row in 0..<rowCount {
                let base = row * d
                // Insertion into a small sorted buffer: O(d·k) worst case, O(d) for small k.
                var best = [(index: Int, value: Float)]()
                best.reserveCapacity(keep + 1)
                for i in 0..<d {
                    let value = px[base + i]
                    if best.count == keep, let last = best.last, !(value > last.value) { continue }
                    var position = best.count
                    while position > 0 && value > best[position - 1].value { position -= 1 }
                    best.insert((i, value), at: position)
                    if best.count > keep { best.removeLast() }
                }
                result.append(best)
            }
        }
        return result
    }

    /// The sum of all elements, accumulated in `Double`.
    public func sum() -> Double {
        storage.reduce(0.0) { $0 + Double($1) }
    }
}
