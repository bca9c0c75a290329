/// The weight of a linear layer without bias (`nn.Linear(bias=False)`), `[out, in]` in PyTorch
/// layout: the one type through which every linear layer of every model family multiplies.
///
/// fp32 weights multiply with one ``BLAS/sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``
/// call, the weight transposed by flag. For inference a weight can be converted once
/// (``converted(to:)``) to bf16 or int8 (``Precision``): the fp32 matrix is dropped and the
/// products go through oneDNN (``PackedLinearWeight``), behind the same ``matmul(_:)`` and
/// ``matmul(_:accumulatingInto:)``, so no layer changes. Training uses fp32 weights;
/// ``backward(outputGradient:input:alpha:weightGradient:needsInputGradient:)`` is defined for
/// them only.
public struct LinearWeight: Sendable {
    private enum Storage: Sendable {
        case fp32(Tensor)
        case packed(PackedLinearWeight)
    }

    private let storage: Storage

    /// Wraps an fp32 `[out, in]` matrix.
    public init(_ matrix: Tensor) {
        precondition(matrix.rank == 2, "a linear weight is [out, in], got \(matrix.shape)")
        storage = .fp32(matrix)
    }

    /// The weight in `precision`: itself for fp32 (or when already converted to it), else
    /// converted and packed for oneDNN (bf16: rounded to nearest even; int8: one symmetric
    /// scale per output row). A converted weight cannot be converted again.
    ///
    /// A weight of one output row (a classifier head) stays fp32 at every precision: its
    /// product is negligible work, and oneDNN 2.6's int8 GEMM on AVX-512 without VNNI returns
    /// wrong sums for one output column when the depth is a multiple of 16 (found with
    /// `DNNL_MAX_CPU_ISA=AVX512_CORE`; no model family converts such a layer today).
    ///
    /// - Parameter refiningActivations: int8 only: each product also multiplies the
    ///   activations' quantization residual (about 16-bit activations for twice the integer
    ///   work), for layers that run on a few rows at a time and whose rounding reaches the
    ///   output directly (T5's decoder; see `Docs/t5.md`).
    public func converted(to precision: Precision, refiningActivations: Bool = false) -> LinearWeight {
        if precision == self.precision { return self }
        guard case .fp32(let matrix) = storage else {
            preconditionFailure("a \(self.precision) weight cannot become \(precision)")
        }
        if precision == .fp32 || matrix.shape[0] == 1 { return self }
        return LinearWeight(
            packed: PackedLinearWeight(matrix, precision: precision, refiningActivations: refiningActivations))
    }

    /// An fp32 weight packed once for oneDNN's fp32 matmul (inference only: the matrix is
    /// dropped, so there is no backward): the same products to rounding, without OpenBLAS
    /// packing the weight again at every call, which dominates decoding steps of a few rows.
    public func packedForInference() -> LinearWeight {
        guard case .fp32(let matrix) = storage else { return self }
        return LinearWeight(packed: PackedLinearWeight(matrix, precision: .fp32))
    }

    private init(packed: PackedLinearWeight) { storage = .packed(packed) }

    /// The stored number format.
    public var precision: Precision {
        switch storage {
        case .fp32: .fp32
        case .packed(let packed): packed.precision
        }
    }

    /// `[out, in]`, fp32; only an fp32 weight has one (converted weights drop it).
    public var matrix: Tensor {
        guard case .fp32(let matrix) = storage else {
            preconditionFailure("a \(precision) linear weight keeps no fp32 matrix")
        }
        return matrix
    }

    /// Output features (rows of the weight).
    public var outFeatures: Int {
        switch storage {
        case .fp32(let matrix): matrix.shape[0]
        case .packed(let packed): packed.outFeatures
        }
    }

    /// Input features (columns of the weight).
    public var inFeatures: Int {
        switch storage {
        case .fp32(let matrix): matrix.shape[1]
        case .packed(let packed): packed.inFeatures
        }
    }

    /// Bytes the weight holds (the packed form with its scales for bf16/int8).
    public var byteCount: Int {
        switch storage {
        case .fp32(let matrix): matrix.count * MemoryLayout<Float>.size
        case .packed(let packed): packed.byteCount
        }
    }

    /// Whether two weights are the same values (fp32) or the same packed weight (converted).
    public static func same(_ a: LinearWeight, _ b: LinearWeight) -> Bool {
        switch (a.storage, b.storage) {
        case (.fp32(let x), .fp32(let y)): x == y
        case (.packed(let x), .packed(let y)): x === y
        default: false
        }
    }

    /// Rows `ids` of the `[out, in]` weight: the lookup of an embedding tied to this weight
    /// (an LM head). An fp32 weight, plain or packed (read out of the packed layout: the same
    /// values, no second copy); bf16/int8 weights keep no fp32 rows.
    ///
    /// - Returns: `idShape + [in]` (`[ids.count, in]` without `idShape`).
    public func rows(_ ids: [Int32], idShape: [Int]? = nil) -> Tensor {
        let packed: PackedLinearWeight
        switch storage {
        case .fp32(let matrix): return Tensor.embedding(matrix, ids: ids, idShape: idShape)
        case .packed(let weight): packed = weight
        }
        let (count, width) = (outFeatures, inFeatures)
        let shape = (idShape ?? [ids.count]) + [width]
        precondition(shape.dropLast().reduce(1, *) == ids.count, "idShape \(idShape ?? []) for \(ids.count) ids")
        return Tensor(shape: shape) { out in
            for (row, id) in ids.enumerated() {
                precondition(id >= 0 && Int(id) < count, "token id \(id) outside vocabulary of \(count)")
                packed.copyRow(Int(id), into: out.baseAddress! + row * width)
            }
        }
    }

    /// `x · Wᵀ`.
    ///
    /// - Parameter x: `[..., in]`.
    /// - Returns: `[..., out]`.
    public func matmul(_ x: Tensor) -> Tensor {
        precondition(x.lastDimension == inFeatures, "linear: x \(x.shape) for weight [\(outFeatures), \(inFeatures)]")
        var shape = x.shape
        if shape.isEmpty { shape = [outFeatures] } else { shape[shape.count - 1] = outFeatures }
        return Tensor(shape: shape) { out in
            x.storage.withUnsafeBufferPointer { px in
                multiply(px.baseAddress!, rows: x.rowCount, into: out.baseAddress!, accumulate: false)
            }
        }
    }

    /// `alpha · x · Wᵀ` added into `residual` in one GEMM (`beta = 1`): the output projection of
    /// a sublayer written straight into the residual stream.
    ///
    /// - Parameters:
    ///   - x: `[rows, in]` (any leading shape).
    ///   - residual: `[rows, out]` (any leading shape with `out` last), updated in place.
    public func matmul(_ x: Tensor, accumulatingInto residual: inout Tensor) {
        precondition(x.lastDimension == inFeatures, "linear: x \(x.shape) for weight [\(outFeatures), \(inFeatures)]")
        precondition(
            residual.lastDimension == outFeatures && residual.rowCount == x.rowCount,
            "linear: residual \(residual.shape) for x \(x.shape) · [\(outFeatures), \(inFeatures)]ᵀ")
        x.storage.withUnsafeBufferPointer { px in
            residual.storage.withUnsafeMutableBufferPointer { pr in
                multiply(px.baseAddress!, rows: x.rowCount, into: pr.baseAddress!, accumulate: true)
            }
        }
    }

    /// `out (+)= x · Wᵀ` on raw rows: the one product behind ``matmul(_:)`` and
    /// ``matmul(_:accumulatingInto:)``, for callers that work on parts of larger buffers.
    ///
    /// - Parameters:
    ///   - x: `[rows, in]`, row-major.
    ///   - out: `[rows, out]`, row-major; added to when `accumulate`, else overwritten.
    public func multiply(
        _ x: UnsafePointer<Float>, rows m: Int, into out: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        switch storage {
        case .fp32(let matrix):
            let (n, k) = (outFeatures, inFeatures)
            matrix.storage.withUnsafeBufferPointer { pw in
                BLAS.sgemm(
                    transposeA: false, transposeB: true, m: m, n: n, k: k, a: x, lda: k,
                    b: pw.baseAddress!, ldb: k, beta: accumulate ? 1 : 0, c: out, ldc: n)
            }
        case .packed(let packed):
            packed.multiply(x, rows: m, into: out, accumulate: accumulate)
        }
    }

    /// `rmsNorm(x) · Wᵀ`, `rmsNorm(x) = x / √(mean(x²) + ε) · norm` per row (T5's layer
    /// norm before a projection), for inference: an int8 weight folds the norm into the
    /// activation quantization (no normalised fp32 copy); fp32 and bf16 normalise, then
    /// multiply.
    ///
    /// - Parameters:
    ///   - x: `[..., in]`.
    ///   - norm: `[in]`.
    /// - Returns: `[..., out]`.
    public func matmul(rmsNormalizing x: Tensor, norm: Tensor, epsilon: Float) -> Tensor {
        guard case .packed(let packed) = storage, packed.precision == .int8 else {
            return matmul(x.rmsNormalized(weight: norm, epsilon: epsilon))
        }
        precondition(x.lastDimension == inFeatures && norm.shape == [inFeatures], "linear: x \(x.shape), norm \(norm.shape) for weight [\(outFeatures), \(inFeatures)]")
        var shape = x.shape
        shape[shape.count - 1] = outFeatures
        return Tensor(shape: shape) { out in
            x.storage.withUnsafeBufferPointer { px in
                norm.storage.withUnsafeBufferPointer { pn in
                    packed.multiply(
                        rmsNormalizing: px.baseAddress!, norm: pn.baseAddress!, epsilon: epsilon,
                        rows: x.rowCount, into: out.baseAddress!)
                }
            }
        }
    }

    /// `residual += output · relu(self · rmsNorm(residual))` (T5 v1.0's pre-norm feed-forward
    /// sublayer), for int8 inference, `self` being `[dFF, dModel]`: the two int8 weights run it
    /// in row chunks with the norm, the rescale, ReLU and the re-quantization fused around the
    /// two products (no fp32 `[rows, dFF]` activations). Other precisions run the separate
    /// steps (`T5FeedForward`).
    ///
    /// - Parameters:
    ///   - residual: `[..., dModel]`, updated in place.
    ///   - norm: `[dModel]`.
    ///   - output: `[dModel, dFF]`.
    public func addReLUFeedForward(
        into residual: inout Tensor, norm: Tensor, epsilon: Float, output: LinearWeight
    ) {
        guard case .packed(let first) = storage, case .packed(let second) = output.storage,
            first.precision == .int8, second.precision == .int8
        else { preconditionFailure("the fused feed-forward runs at int8 only") }
        precondition(residual.lastDimension == inFeatures && norm.shape == [inFeatures], "feed-forward: residual \(residual.shape), norm \(norm.shape) for weight [\(outFeatures), \(inFeatures)]")
        let rows = residual.rowCount
        norm.storage.withUnsafeBufferPointer { pn in
            residual.storage.withUnsafeMutableBufferPointer { ph in
                first.reluFeedForward(
                    ph.baseAddress!, rows: rows, norm: pn.baseAddress!, epsilon: epsilon, output: second)
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
