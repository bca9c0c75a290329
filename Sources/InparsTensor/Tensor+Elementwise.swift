extension Tensor {
    /// The shape two tensors broadcast to under NumPy rules (axes aligned from the right; an
    /// extent of 1 stretches), or `nil` when they do not broadcast.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for axis in 0..<rank {
            let x = axis < rank - a.count ? 1 : a[axis - (rank - a.count)]
            let y = axis < rank - b.count ? 1 : b[axis - (rank - b.count)]
            guard x == y || x == 1 || y == 1 else { return nil }
            result[axis] = x == 1 ? y : x
        }
        return result
    }

    /// Applies `op` element by element with NumPy broadcasting.
    ///
    /// Fast paths: equal shapes, and `b` equal to a suffix of `a` (a bias or a row vector).
    @inlinable
    public static func broadcasting(
        _ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float
    ) -> Tensor {
        if a.shape == b.shape {
            return Tensor(shape: a.shape) { out in
                a.storage.withUnsafeBufferPointer { pa in
                    b.storage.withUnsafeBufferPointer { pb in
                        for i in 0..<out.count { out[i] = op(pa[i], pb[i]) }
                    }
                }
            }
        }
        if b.rank <= a.rank, Array(a.shape.suffix(b.rank)) == b.shape, b.count > 0 {
            let inner = b.count
            return Tensor(shape: a.shape) { out in
                a.storage.withUnsafeBufferPointer { pa in
                    b.storage.withUnsafeBufferPointer { pb in
                        var offset = 0
                        while offset < out.count {
                            for i in 0..<inner { out[offset + i] = op(pa[offset + i], pb[i]) }
                            offset += inner
                        }
                    }
                }
            }
        }
        return generalBroadcasting(a, b, op)
    }

    @usableFromInline
    static func generalBroadcasting(
        _ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float
    ) -> Tensor {
        guard let shape = broadcastShape(a.shape, b.shape) else {
            preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let rank = shape.count
        func stretchedStrides(_ t: Tensor) -> [Int] {
            let own = t.strides
            return (0..<rank).map { axis in
                let local = axis - (rank - t.rank)
                if local < 0 || t.shape[local] == 1 { return 0 }
                return own[local]
            }
        }
        let sa = stretchedStrides(a)
        let sb = stretchedStrides(b)
        var index = [Int](repeating: 0, count: rank)
        return Tensor(shape: shape) { out in
            var offsetA = 0
            var offsetB = 0
            for flat in 0..<out.count {
                out[flat] = op(a.storage[offsetA], b.storage[offsetB])
                var axis = rank - 1
                while axis >= 0 {
                    index[axis] += 1
                    offsetA += sa[axis]
                    offsetB += sb[axis]
                    if index[axis] < shape[axis] { break }
                    offsetA -= sa[axis] * shape[axis]
                    offsetB -= sb[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }

    /// `a + b` with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, +) }
    /// `a - b` with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, -) }
    /// `a * b` element-wise with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, *) }

    /// `x * s`.
    public static func * (x: Tensor, s: Float) -> Tensor { x.map { $0 * s } }

    /// Adds `other` (same shape, or a suffix of this shape) into this tensor in place.
    public mutating func add(_ other: Tensor) {
        precondition(
            other.rank <= rank && Array(shape.suffix(other.rank)) == other.shape && other.count > 0
                || other.count == 0 && count == 0,
            "add: \(other.shape) is not a suffix of \(shape)")
        let inner = other.count
        guard inner > 0 && count > 0 else { return }
        storage.withUnsafeMutableBufferPointer { px in
            other.storage.withUnsafeBufferPointer { po in
                let (x, o) = (px.baseAddress!, po.baseAddress!)
                RowSplit.run(px.count / inner, columns: inner) { start, count in
                    for row in start..<(start + count) {
                        let target = x + row * inner
                        for i in 0..<inner { target[i] += o[i] }
                    }
                }
            }
        }
    }

    /// Multiplies every element by `s` in place.
    public mutating func scale(by s: Float) {
        storage.withUnsafeMutableBufferPointer { px in
            for i in 0..<px.count { px[i] *= s }
        }
    }

    /// A tensor of the same shape with `transform` applied to every element.
    @inlinable
    public func map(_ transform: (Float) -> Float) -> Tensor {
        Tensor(shape: shape) { out in
            storage.withUnsafeBufferPointer { px in
                for i in 0..<px.count { out[i] = transform(px[i]) }
            }
        }
    }

    /// Applies `transform` to every element in place.
    @inlinable
    public mutating func apply(_ transform: (Float) -> Float) {
        storage.withUnsafeMutableBufferPointer { px in
            for i in 0..<px.count { px[i] = transform(px[i]) }
        }
    }
}
