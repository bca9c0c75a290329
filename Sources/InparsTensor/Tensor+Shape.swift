extension Tensor {
    /// The axes reordered: result axis `i` is input axis `order[i]` (as `torch.permute`).
    ///
    /// Copies the elements into the new row-major order.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "permutation \(order) for rank \(rank)")
        if order == Array(0..<rank) { return self }
        let newShape = order.map { shape[$0] }
        let sourceStrides = strides
        let walkStrides = order.map { sourceStrides[$0] }
        let innerExtent = newShape.last ?? 1
        let innerStride = walkStrides.last ?? 1
        let outerRank = max(rank - 1, 0)
        var index = [Int](repeating: 0, count: outerRank)
        return Tensor(shape: newShape) { out in
            storage.withUnsafeBufferPointer { px in
                guard out.count > 0 else { return }
                var source = 0
                var flat = 0
                while flat < out.count {
                    for j in 0..<innerExtent { out[flat + j] = px[source + j * innerStride] }
                    flat += innerExtent
                    var axis = outerRank - 1
                    while axis >= 0 {
                        index[axis] += 1
                        source += walkStrides[axis]
                        if index[axis] < newShape[axis] { break }
                        source -= walkStrides[axis] * newShape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }

    /// `[batch, seqLen, numHeads * headDim]` → `[batch, numHeads, seqLen, headDim]`.
    public func splitHeads(_ numHeads: Int) -> Tensor {
        precondition(rank == 3 && shape[2] % numHeads == 0, "splitHeads(\(numHeads)) of \(shape)")
        return reshaped([shape[0], shape[1], numHeads, shape[2] / numHeads]).permuted([0, 2, 1, 3])
    }

    /// `[batch, numHeads, seqLen, headDim]` → `[batch, seqLen, numHeads * headDim]`.
    public func mergeHeads() -> Tensor {
        precondition(rank == 4, "mergeHeads of \(shape)")
        return permuted([0, 2, 1, 3]).reshaped([shape[0], shape[2], shape[1] * shape[3]])
    }

    /// Joins tensors along `axis`; all other extents must agree.
    public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concatenate of nothing")
        let first = parts[0]
        precondition(axis >= 0 && axis < first.rank, "axis \(axis) for rank \(first.rank)")
        for part in parts {
            precondition(
                part.rank == first.rank
                    && (0..<first.rank).allSatisfy { $0 == axis || part.shape[$0] == first.shape[$0] },
                "concatenate: \(part.shape) vs \(first.shape) on axis \(axis)")
        }
        let outer = first.shape[..<axis].reduce(1, *)
        let inner = first.shape[(axis + 1)...].reduce(1, *)
        var newShape = first.shape
        newShape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        var storage = [Float]()
        storage.reserveCapacity(newShape.reduce(1, *))
        for o in 0..<outer {
            for part in parts {
                let chunk = part.shape[axis] * inner
                storage.append(contentsOf: part.storage[(o * chunk)..<((o + 1) * chunk)])
            }
        }
        return Tensor(shape: newShape, storage: storage)
    }

    /// Entries `range` of the outermost axis.
    public func slice(outer range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0])
        let inner = shape.dropFirst().reduce(1, *)
        var newShape = shape
        newShape[0] = range.count
        return Tensor(
            shape: newShape,
            storage: Array(storage[(range.lowerBound * inner)..<(range.upperBound * inner)]))
    }

    /// Entries `range` of `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        precondition(axis >= 0 && axis < rank && range.lowerBound >= 0 && range.upperBound <= shape[axis])
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        var newShape = shape
        newShape[axis] = range.count
        var out = [Float]()
        out.reserveCapacity(newShape.reduce(1, *))
        for o in 0..<outer {
            let base = o * shape[axis] * inner
            out.append(contentsOf: storage[(base + range.lowerBound * inner)..<(base + range.upperBound * inner)])
        }
        return Tensor(shape: newShape, storage: out)
    }
}
