extension Tensor {
    /// Sums a broadcast result's gradient back to the shape of one operand: the backward of
    /// NumPy broadcasting.
    ///
    /// Axes that `shape` lacks (on the left) or holds as extent 1 are summed over. Used for
    /// the gradient of an additive attention bias `[1, numHeads, q, k]` from the score
    /// gradient `[batch, numHeads, q, k]`, and for broadcast `+`/`*` operands.
    ///
    /// - Parameter shape: an operand shape that broadcasts to `self.shape`.
    /// - Returns: a tensor of `shape`.
    public func summed(toShape target: [Int]) -> Tensor {
        if target == shape { return self }
        precondition(
            Tensor.broadcastShape(target, shape) == shape, "cannot sum \(shape) to \(target)")
        let targetCount = target.reduce(1, *)
        // Leading 1s of the target do not change the layout: `[1, h, q, k]` is a suffix case.
        let core = Array(target.drop { $0 == 1 })
        if core.count <= rank, Array(shape.suffix(core.count)) == core, targetCount > 0 {
            // Leading axes only: add the rows of length `targetCount`.
            return Tensor(shape: target) { out in
                storage.withUnsafeBufferPointer { px in
                    for i in 0..<targetCount { out[i] = 0 }
                    var offset = 0
                    while offset < px.count {
                        for i in 0..<targetCount { out[i] += px[offset + i] }
                        offset += targetCount
                    }
                }
            }
        }
        let own = Tensor.strides(for: target)
        let stretched: [Int] = (0..<rank).map { axis in
            let local = axis - (rank - target.count)
            if local < 0 || target[local] == 1 { return 0 }
            return own[local]
        }
        var result = Tensor(zeros: target)
        var index = [Int](repeating: 0, count: rank)
        result.storage.withUnsafeMutableBufferPointer { out in
            storage.withUnsafeBufferPointer { px in
                var offset = 0
                for flat in 0..<px.count {
                    out[offset] += px[flat]
                    var axis = rank - 1
                    while axis >= 0 {
                        index[axis] += 1
                        offset += stretched[axis]
                        if index[axis] < shape[axis] { break }
                        offset -= stretched[axis] * shape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return result
    }

    /// Backward of `a + b` (with broadcasting): `(dy` summed to `a`'s shape, `dy` summed to
    /// `b`'s shape`)`.
    public static func addBackward(
        outputGradient dy: Tensor, aShape: [Int], bShape: [Int]
    ) -> (a: Tensor, b: Tensor) {
        (dy.summed(toShape: aShape), dy.summed(toShape: bShape))
    }

    /// Backward of `a * b` element-wise (with broadcasting): `(dy·b, dy·a)`, each summed to
    /// its operand's shape.
    public static func multiplyBackward(
        outputGradient dy: Tensor, _ a: Tensor, _ b: Tensor
    ) -> (a: Tensor, b: Tensor) {
        ((dy * b).summed(toShape: a.shape), (dy * a).summed(toShape: b.shape))
    }

    /// Backward of ``permuted(_:)``: the gradient permuted by the inverse order.
    ///
    /// - Parameters:
    ///   - order: the order the forward pass used.
    public func unpermuted(_ order: [Int]) -> Tensor {
        var inverse = [Int](repeating: 0, count: order.count)
        for (position, axis) in order.enumerated() { inverse[axis] = position }
        return permuted(inverse)
    }
}
