import Foundation

extension Tensor {
    /// Softmax over the last axis, numerically stable (the row maximum is subtracted first).
    ///
    /// A row whose entries are all `-infinity` (fully masked) becomes all zeros, not NaN.
    public func softmax() -> Tensor {
        var result = self
        result.applySoftmax()
        return result
    }

    /// Softmax over the last axis, in place.
    public mutating func applySoftmax() {
        let d = lastDimension
        let rows = rowCount
        storage.withUnsafeMutableBufferPointer { px in
            for row in 0..<rows {
                let base = row * d
                var maximum = -Float.infinity
                for i in 0..<d where px[base + i] > maximum { maximum = px[base + i] }
                if maximum == -.infinity {
                    for i in 0..<d { px[base + i] = 0 }
                    continue
                }
                var sum: Float = 0
                for i in 0..<d {
                    let e = expf(px[base + i] - maximum)
                    px[base + i] = e
                    sum += e
                }
                let inverse = 1 / sum
                for i in 0..<d { px[base + i] *= inverse }
            }
        }
    }

    /// Log-softmax over the last axis: `x − max − log Σ exp(x − max)`.
    public func logSoftmax() -> Tensor {
        var result = self
        result.applyLogSoftmax()
        return result
    }

    /// Log-softmax over the last axis, in place.
    public mutating func applyLogSoftmax() {
        let d = lastDimension
        let rows = rowCount
        storage.withUnsafeMutableBufferPointer { px in
            for row in 0..<rows {
                let base = row * d
                var maximum = -Float.infinity
                for i in 0..<d where px[base + i] > maximum { maximum = px[base + i] }
                if maximum == -.infinity { continue }
                var sum: Float = 0
                for i in 0..<d { sum += expf(px[base + i] - maximum) }
                let shift = maximum + logf(sum)
                for i in 0..<d { px[base + i] -= shift }
            }
        }
    }
}
