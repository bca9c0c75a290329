extension Tensor {
    /// Backward of ``matmul(_:_:transposeB:)`` scaled by `alpha`: `y = alpha · x · op(W)`.
    ///
    /// Returns `dx = alpha · dy · op(W)ᵀ` and accumulates `dW += alpha · (xᵀ · dy)` (laid out
    /// like `W`) with GEMM `beta = 1`, so gradients from several uses of one weight (a tied
    /// embedding, gradient accumulation) add up. Two `cblas_sgemm` calls, transposes as flags.
    ///
    /// - Parameters:
    ///   - dy: `[..., n]`, the gradient of the output.
    ///   - x: `[..., k]`, the input saved from the forward pass.
    ///   - weight: `[k, n]`, or `[n, k]` when `transposeB` (PyTorch `nn.Linear` layout).
    ///   - weightGradient: same shape as `weight`; the product is added to it.
    ///   - alpha: the forward's scale (1 for a plain layer).
    ///   - needsInputGradient: pass `false` to skip `dx` (an empty tensor is returned).
    /// - Returns: `dx`, shaped like `x`.
    public static func matmulBackward(
        outputGradient dy: Tensor, input x: Tensor, weight: Tensor, transposeB: Bool = false,
        alpha: Float = 1, weightGradient: inout Tensor, needsInputGradient: Bool = true
    ) -> Tensor {
        precondition(weight.rank == 2, "matmulBackward weight must be 2-D, got \(weight.shape)")
        precondition(
            weightGradient.shape == weight.shape,
            "weight gradient \(weightGradient.shape) for weight \(weight.shape)")
        let k = x.lastDimension
        let n = transposeB ? weight.shape[0] : weight.shape[1]
        precondition(
            k == (transposeB ? weight.shape[1] : weight.shape[0]),
            "matmulBackward: x \(x.shape), weight \(weight.shape)")
        precondition(
            dy.lastDimension == n && dy.rowCount == x.rowCount,
            "matmulBackward: dy \(dy.shape) for x \(x.shape)")
        let rows = x.rowCount
        dy.storage.withUnsafeBufferPointer { pdy in
            x.storage.withUnsafeBufferPointer { px in
                weightGradient.storage.withUnsafeMutableBufferPointer { pdw in
                    if transposeB {
                        // dW [n, k] += alpha · dyᵀ [n, rows] · x [rows, k]
                        BLAS.sgemm(
                            transposeA: true, transposeB: false, m: n, n: k, k: rows, alpha: alpha,
                            a: pdy.baseAddress!, lda: n, b: px.baseAddress!, ldb: k, beta: 1,
                            c: pdw.baseAddress!, ldc: k)
                    } else {
                        // dW [k, n] += alpha · xᵀ [k, rows] · dy [rows, n]
                        BLAS.sgemm(
                            transposeA: true, transposeB: false, m: k, n: n, k: rows, alpha: alpha,
                            a: px.baseAddress!, lda: k, b: pdy.baseAddress!, ldb: n, beta: 1,
                            c: pdw.baseAddress!, ldc: n)
                    }
                }
            }
        }
        guard needsInputGradient else { return Tensor(zeros: [0]) }
        return Tensor(shape: x.shape) { pdx in
            dy.storage.withUnsafeBufferPointer { pdy in
                weight.storage.withUnsafeBufferPointer { pw in
                    // dx [rows, k] = alpha · dy [rows, n] · op(W)ᵀ, with op(W)ᵀ = W when W is [n, k].
                    BLAS.sgemm(
                        transposeA: false, transposeB: !transposeB, m: rows, n: k, k: n,
                        alpha: alpha, a: pdy.baseAddress!, lda: n, b: pw.baseAddress!,
                        ldb: transposeB ? k : n, c: pdx.baseAddress!, ldc: k)
                }
            }
        }
    }

    /// Backward of ``linear(_:weight:)``, `y = alpha · x · Wᵀ` with `W` in `[out, in]` layout.
    ///
    /// - Parameters:
    ///   - dy: `[..., out]`.
    ///   - x: `[..., in]`, saved from the forward pass.
    ///   - weight: `[out, in]`.
    ///   - weightGradient: `[out, in]`; `alpha · dyᵀ · x` is added to it (GEMM `beta = 1`).
    /// - Returns: `dx = alpha · dy · W`, `[..., in]`.
    public static func linearBackward(
        outputGradient dy: Tensor, input x: Tensor, weight: Tensor, alpha: Float = 1,
        weightGradient: inout Tensor, needsInputGradient: Bool = true
    ) -> Tensor {
        matmulBackward(
            outputGradient: dy, input: x, weight: weight, transposeB: true, alpha: alpha,
            weightGradient: &weightGradient, needsInputGradient: needsInputGradient)
    }

    /// Backward of ``batchedMatmul(_:_:transposeA:transposeB:alpha:)``:
    /// `C = alpha · op(A) · op(B)` per batch entry (attention scores `Q · Kᵀ` and context
    /// `P · V`).
    ///
    /// - Parameters:
    ///   - dC: `[batch..., m, n]`.
    ///   - a: `[batch..., m, k]`, or `[batch..., k, m]` when `transposeA`.
    ///   - b: `[batch..., k, n]`, or `[batch..., n, k]` when `transposeB`.
    /// - Returns: `(dA, dB)`, shaped like `a` and `b`. Two GEMMs per batch entry.
    public static func batchedMatmulBackward(
        outputGradient dC: Tensor, _ a: Tensor, _ b: Tensor, transposeA: Bool = false,
        transposeB: Bool = false, alpha: Float = 1
    ) -> (a: Tensor, b: Tensor) {
        precondition(
            a.rank >= 2 && b.rank >= 2 && dC.rank == a.rank,
            "batchedMatmulBackward: \(a.shape), \(b.shape), \(dC.shape)")
        let (aRows, aColumns) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (bRows, bColumns) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let m = transposeA ? aColumns : aRows
        let k = transposeA ? aRows : aColumns
        let n = transposeB ? bRows : bColumns
        precondition(
            dC.shape == Array(a.shape.dropLast(2)) + [m, n],
            "batchedMatmulBackward: dC \(dC.shape) for \(a.shape) · \(b.shape)")
        let batch = a.shape.dropLast(2).reduce(1, *)
        var dA = Tensor(zeros: a.shape)
        var dB = Tensor(zeros: b.shape)
        dC.storage.withUnsafeBufferPointer { pc in
            a.storage.withUnsafeBufferPointer { pa in
                b.storage.withUnsafeBufferPointer { pb in
                    dA.storage.withUnsafeMutableBufferPointer { pda in
                        dB.storage.withUnsafeMutableBufferPointer { pdb in
                            for index in 0..<batch {
                                let c = pc.baseAddress! + index * m * n
                                let aa = pa.baseAddress! + index * aRows * aColumns
                                let bb = pb.baseAddress! + index * bRows * bColumns
                                let da = pda.baseAddress! + index * aRows * aColumns
                                let db = pdb.baseAddress! + index * bRows * bColumns
                                if transposeA {
                                    // dA [k, m] = alpha · op(B) [k, n] · dCᵀ [n, m]
                                    BLAS.sgemm(
                                        transposeA: transposeB, transposeB: true, m: k, n: m, k: n,
                                        alpha: alpha, a: bb, lda: bColumns, b: c, ldb: n, c: da,
                                        ldc: aColumns)
                                } else {
                                    // dA [m, k] = alpha · dC [m, n] · op(B)ᵀ [n, k]
                                    BLAS.sgemm(
                                        transposeA: false, transposeB: !transposeB, m: m, n: k,
                                        k: n,
                                        alpha: alpha, a: c, lda: n, b: bb, ldb: bColumns, c: da,
                                        ldc: aColumns)
                                }
                                if transposeB {
                                    // dB [n, k] = alpha · dCᵀ [n, m] · op(A) [m, k]
                                    BLAS.sgemm(
                                        transposeA: true, transposeB: transposeA, m: n, n: k, k: m,
                                        alpha: alpha, a: c, lda: n, b: aa, ldb: aColumns, c: db,
                                        ldc: bColumns)
                                } else {
                                    // dB [k, n] = alpha · op(A)ᵀ [k, m] · dC [m, n]
                                    BLAS.sgemm(
                                        transposeA: !transposeA, transposeB: false, m: k, n: n,
                                        k: m,
                                        alpha: alpha, a: aa, lda: aColumns, b: c, ldb: n, c: db,
                                        ldc: bColumns)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dA, dB)
    }
}
