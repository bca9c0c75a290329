/// The weight of a linear layer without bias (`nn.Linear(bias=False)`), `[out, in]` in PyTorch
/// layout: the one type through which every linear layer of every model family multiplies.
///
/// Today the weight is fp32 and each product is one ``BLAS/sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``
/// call with the weight transposed by flag. A second precision for inference (bf16 or int8
/// weights through oneDNN) is added here once: another stored representation behind the same
/// ``matmul(_:)`` and ``matmul(_:accumulatingInto:)``, so no layer changes. Training uses the
/// fp32 representation; ``backward(outputGradient:input:alpha:weightGradient:needsInputGradient:)``
/// is defined for it only.
public struct LinearWeight: Sendable {
    /// `[out, in]`, fp32.
    public let matrix: Tensor

    /// Wraps an fp32 `[out, in]` matrix.
    public init(_ matrix: Tensor) {
        precondition(matrix.rank == 2, "a linear weight is [out, in], got \(matrix.shape)")
        self.matrix = matrix
    }

    /// Output features (rows of the weight).
    public var outFeatures: Int { matrix.shape[0] }
    /// Input features (columns of the weight).
    public var inFeatures: Int { matrix.shape[1] }

    /// `x · Wᵀ`.
    ///
    /// - Parameter x: `[..., in]`.
    /// - Returns: `[..., out]`.
    public func matmul(_ x: Tensor) -> Tensor {
        Tensor.linear(x, weight: matrix)
    }

    /// `alpha · x · Wᵀ` added into `residual` in one GEMM (`beta = 1`): the output projection of
    /// a sublayer written straight into the residual stream.
    ///
    /// - Parameters:
    ///   - x: `[rows, in]` (any leading shape).
    ///   - residual: `[rows, out]` (any leading shape with `out` last), updated in place.
    public func matmul(_ x: Tensor, accumulatingInto residual: inout Tensor) {
        let (n, k) = (outFeatures, inFeatures)
        precondition(x.lastDimension == k, "linear: x \(x.shape) for weight \(matrix.shape)")
        precondition(
            residual.lastDimension == n && residual.rowCount == x.rowCount,
            "linear: residual \(residual.shape) for x \(x.shape) · \(matrix.shape)ᵀ")
        let m = x.rowCount
        x.storage.withUnsafeBufferPointer { px in
            matrix.storage.withUnsafeBufferPointer { pw in
                residual.storage.withUnsafeMutableBufferPointer { pr in
                    BLAS.sgemm(
                        transposeA: false, transposeB: true, m: m, n: n, k: k,
                        a: px.baseAddress!, lda: k, b: pw.baseAddress!, ldb: k, beta: 1,
                        c: pr.baseAddress!, ldc: n)
                }
            }
        }
    }

    /// Backward of `y = alpha · x · Wᵀ` (``Tensor/linearBackward(outputGradient:input:weight:alpha:weightGradient:needsInputGradient:)``):
    /// adds `alpha · dyᵀ · x` to `weightGradient` and returns `dx = alpha · dy · W`.
    ///
    /// - Parameters:
    ///   - dy: `[..., out]`.
    ///   - x: `[..., in]`, the input saved from the forward pass.
    ///   - weightGradient: `[out, in]`, accumulated (GEMM `beta = 1`).
    ///   - needsInputGradient: `false` skips `dx` (an empty tensor is returned).
    public func backward(
        outputGradient dy: Tensor, input x: Tensor, alpha: Float = 1,
        weightGradient: inout Tensor, needsInputGradient: Bool = true
    ) -> Tensor {
        Tensor.linearBackward(
            outputGradient: dy, input: x, weight: matrix, alpha: alpha,
            weightGradient: &weightGradient, needsInputGradient: needsInputGradient)
    }
}
