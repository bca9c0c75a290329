extension Tensor {
    /// Matrix product over the last axis: `x · W` or `x · Wᵀ`.
    ///
    /// `x` is `[..., k]`, seen as a matrix of `x.rowCount` rows. With `transposeB == false`,
    /// `weight` is `[k, n]`; with `transposeB == true` it is `[n, k]` (the layout of a PyTorch
    /// `nn.Linear` weight, `[out, in]`). The result is `[..., n]`. One `cblas_sgemm` call.
    public static func matmul(_ x: Tensor, _ weight: Tensor, transposeB: Bool = false) -> Tensor {
        precondition(weight.rank == 2, "matmul weight must be 2-D, got \(weight.shape)")
        let k = x.lastDimension
        let n = transposeB ? weight.shape[0] : weight.shape[1]
        let weightK = transposeB ? weight.shape[1] : weight.shape[0]
        precondition(k == weightK, "matmul: x is \(x.shape), weight is \(weight.shape)")
        var outShape = x.shape
        if outShape.isEmpty { outShape = [n] } else { outShape[outShape.count - 1] = n }
        return Tensor(shape: outShape) { out in
            multiply(x, weight, transposeB: transposeB, k: k, n: n, into: out)
        }
    }

    /// ``matmul(_:_:transposeB:)`` writing into an existing tensor, so a caller that repeats
    /// the product (a layer in a loop) reuses one buffer instead of allocating.
    ///
    /// - Parameter output: reshaped to `[..., n]`; its storage is reused when large enough.
    public static func matmul(
        _ x: Tensor, _ weight: Tensor, transposeB: Bool = false, into output: inout Tensor
    ) {
        precondition(weight.rank == 2, "matmul weight must be 2-D, got \(weight.shape)")
        let k = x.lastDimension
        let n = transposeB ? weight.shape[0] : weight.shape[1]
        precondition(k == (transposeB ? weight.shape[1] : weight.shape[0]), "matmul: x is \(x.shape), weight is \(weight.shape)")
        var outShape = x.shape
        if outShape.isEmpty { outShape = [n] } else { outShape[outShape.count - 1] = n }
        output.resize(to: outShape)
        output.storage.withUnsafeMutableBufferPointer { out in
            multiply(x, weight, transposeB: transposeB, k: k, n: n, into: out)
        }
    }

    private static func multiply(
        _ x: Tensor, _ weight: Tensor, transposeB: Bool, k: Int, n: Int,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        let m = x.rowCount
        x.storage.withUnsafeBufferPointer { px in
            weight.storage.withUnsafeBufferPointer { pw in
                BLAS.sgemm(
                    transposeA: false, transposeB: transposeB, m: m, n: n, k: k,
                    a: px.baseAddress!, lda: k, b: pw.baseAddress!, ldb: transposeB ? k : n,
                    c: out.baseAddress!, ldc: n)
            }
        }
    }

    /// Gives the tensor `shape`, reusing its storage when the element count is unchanged
    /// (contents are then unspecified until overwritten).
    public mutating func resize(to newShape: [Int]) {
        let needed = newShape.reduce(1, *)
        if needed != count {
            storage = [Float](unsafeUninitializedCapacity: needed) { _, initialized in
                initialized = needed  // every caller overwrites all elements before reading
            }
        }
        reshape(newShape)
    }

    /// A linear layer without bias: `x · Wᵀ`, with `weight` in PyTorch layout `[out, in]`.
    ///
    /// - Parameters:
    ///   - x: `[..., in]`.
    ///   - weight: `[out, in]`.
    /// - Returns: `[..., out]`.
    @inlinable
    public static func linear(_ x: Tensor, weight: Tensor) -> Tensor {
        matmul(x, weight, transposeB: true)
    }

    /// Batched matrix product over the last two axes, one `cblas_sgemm` per batch entry.
    ///
    /// - Parameters:
    ///   - a: `[batch..., m, k]`, or `[batch..., k, m]` when `transposeA`.
    ///   - b: `[batch..., k, n]`, or `[batch..., n, k]` when `transposeB`.
    ///   - alpha: scale applied to the product (e.g. an attention temperature).
    /// - Returns: `[batch..., m, n]`. The leading (batch) axes of `a` and `b` must be equal.
    public static func batchedMatmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
        alpha: Float = 1
    ) -> Tensor {
        var output = Tensor(zeros: [0])
        batchedMatmul(a, b, transposeA: transposeA, transposeB: transposeB, alpha: alpha, into: &output)
        return output
    }

    /// ``batchedMatmul(_:_:transposeA:transposeB:alpha:)`` writing into an existing tensor
    /// (reshaped to `[batch..., m, n]`, storage reused when large enough).
    public static func batchedMatmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
        alpha: Float = 1, into output: inout Tensor
    ) {
        precondition(a.rank >= 2 && b.rank >= 2, "batchedMatmul needs rank ≥ 2: \(a.shape), \(b.shape)")
        let batchShape = Array(a.shape.dropLast(2))
        precondition(batchShape == Array(b.shape.dropLast(2)), "batch axes differ: \(a.shape) vs \(b.shape)")
        let (aRows, aColumns) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (bRows, bColumns) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let m = transposeA ? aColumns : aRows
        let k = transposeA ? aRows : aColumns
        let n = transposeB ? bRows : bColumns
        precondition(k == (transposeB ? bColumns : bRows), "batchedMatmul: \(a.shape) · \(b.shape)")
        let batch = batchShape.reduce(1, *)
        output.resize(to: batchShape + [m, n])
        output.storage.withUnsafeMutableBufferPointer { out in
            a.storage.withUnsafeBufferPointer { pa in
                b.storage.withUnsafeBufferPointer { pb in
                    for index in 0..<batch {
                        BLAS.sgemm(
                            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                            alpha: alpha, a: pa.baseAddress! + index * aRows * aColumns,
                            lda: aColumns, b: pb.baseAddress! + index * bRows * bColumns,
                            ldb: bColumns, c: out.baseAddress! + index * m * n, ldc: n)
                    }
                }
            }
        }
    }
}
