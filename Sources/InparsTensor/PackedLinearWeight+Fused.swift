internal import CKernels

/// Fused int8 forms of the two pre-norm sublayer shapes a T5 encoder runs per block, for
/// inference: the element-wise passes around the oneDNN products happen row chunk by row chunk
/// on buffers that stay in cache, and the fp32 intermediates (the normalised input, the
/// feed-forward's hidden activations) are never written.
extension PackedLinearWeight {
    /// `out = rmsNorm(x) · Wᵀ` at int8, the norm folded into the activation quantization
    /// (``Quantization/rmsQuantizeRows(_:rows:columns:weight:epsilon:into:scales:zeros:)``).
    ///
    /// - Parameters:
    ///   - x: `[rows, in]`, the residual stream (not normalised).
    ///   - norm: `[in]`, the RMS norm's weight.
    ///   - out: `[rows, out]`.
    func multiply(
        rmsNormalizing x: UnsafePointer<Float>, norm: UnsafePointer<Float>, epsilon: Float,
        rows: Int, into out: UnsafeMutablePointer<Float>
    ) {
        precondition(precision == .int8, "the fused norm runs at int8 only")
        let (k, n) = (inFeatures, outFeatures)
        if refinesActivations {
            let normalized = Self.rmsNormalized(x, rows: rows, columns: k, norm: norm, epsilon: epsilon)
            defer { normalized.deallocate() }
            return multiply(normalized, rows: rows, into: out, accumulate: false)
        }
        if int8Panels != nil {
            return multiplyPanels(
                rows: rows,
                quantize: { part, q, scales, zeros in
                    inpars_rms_quantize_rows(x + part.lowerBound * k, part.count, k, norm, epsilon, q, scales, zeros)
                }, into: out, accumulate: false)
        }
        var start = 0
        while start < rows {
            let count = min(Self.chunkRows, rows - start)
            let padded = Self.paddedRows(count)
            let key = DNNL.Key(precision: .int8, rows: padded, inFeatures: k, outFeatures: n)
            DNNL.context.withLock { locked in
                let primitive = locked.primitive(key, weights: layout)
                let source = locked.buffer(Scratch.source, bytes: padded * k)
                let scales = locked.buffer(Scratch.sourceScales, bytes: padded * 4)
                    .assumingMemoryBound(to: Float.self)
                let zeros = locked.buffer(Scratch.sourceZeros, bytes: padded * 4)
                    .assumingMemoryBound(to: Int32.self)
                let product = locked.buffer(Scratch.product, bytes: padded * n * 4)
                Quantization.rmsQuantizeRows(
                    x + start * k, rows: count, columns: k, weight: norm, epsilon: epsilon,
                    into: source.assumingMemoryBound(to: Int8.self), scales: scales, zeros: zeros)
                run(primitive, key, source: source, destination: product)
                rescale(
                    product, rows: count, activationScales: scales, zeros: zeros,
                    into: out + start * n, accumulate: false)
            }
            start += count
        }
    }

    /// `h += W₂ · relu(W₁ · rmsNorm(h))` at int8 (T5 v1.0's feed-forward sublayer), `self`
    /// being `W₁` (`[dFF, dModel]`) and `output` `W₂` (`[dModel, dFF]`). Per chunk of rows:
    /// norm and quantization in one pass, the first product, its rescale, ReLU and
    /// re-quantization in one pass (``Quantization/rescaleReLUQuantize(_:rows:columns:rowScales:columnScales:into:scales:zeros:)``),
    /// the second product, and its rescale added into `h`.
    ///
    /// - Parameters:
    ///   - h: `[rows, dModel]`, the residual stream, updated in place.
    ///   - norm: `[dModel]`, the RMS norm's weight.
    func reluFeedForward(
        _ h: UnsafeMutablePointer<Float>, rows: Int, norm: UnsafePointer<Float>, epsilon: Float,
        output: PackedLinearWeight
    ) {
        precondition(precision == .int8 && output.precision == .int8, "the fused feed-forward runs at int8 only")
        let (d, hiddenWidth) = (inFeatures, outFeatures)
        precondition(output.inFeatures == hiddenWidth && output.outFeatures == d, "feed-forward shapes")
        if refinesActivations || output.refinesActivations {
            return reluFeedForwardInSteps(h, rows: rows, norm: norm, epsilon: epsilon, output: output)
        }
        if int8Panels != nil && output.int8Panels != nil {
            return reluFeedForwardPanels(h, rows: rows, norm: norm, epsilon: epsilon, output: output)
        }
        var start = 0
        while start < rows {
            let count = min(Self.chunkRows, rows - start)
            let padded = Self.paddedRows(count)
            let first = DNNL.Key(precision: .int8, rows: padded, inFeatures: d, outFeatures: hiddenWidth)
            let second = DNNL.Key(precision: .int8, rows: padded, inFeatures: hiddenWidth, outFeatures: d)
            let rowsOfH = h + start * d
            DNNL.context.withLock { locked in
                let source = locked.buffer(Scratch.source, bytes: padded * d)
                let scales = locked.buffer(Scratch.sourceScales, bytes: padded * 4)
                    .assumingMemoryBound(to: Float.self)
                let product = locked.buffer(Scratch.product, bytes: padded * hiddenWidth * 4)
                let hidden = locked.buffer(Scratch.hidden, bytes: padded * hiddenWidth)
                let hiddenScales = locked.buffer(Scratch.hiddenScales, bytes: padded * 4)
                    .assumingMemoryBound(to: Float.self)
                let secondProduct = locked.buffer(Scratch.secondProduct, bytes: padded * d * 4)
                let zeros = locked.buffer(Scratch.sourceZeros, bytes: padded * 4)
                    .assumingMemoryBound(to: Int32.self)
                let hiddenZeros = locked.buffer(Scratch.hiddenZeros, bytes: padded * 4)
                    .assumingMemoryBound(to: Int32.self)
                Quantization.rmsQuantizeRows(
                    rowsOfH, rows: count, columns: d, weight: norm, epsilon: epsilon,
                    into: source.assumingMemoryBound(to: Int8.self), scales: scales, zeros: zeros)
                run(locked.primitive(first, weights: layout), first, source: source, destination: product)
                subtractZeros(product, rows: count, zeros: zeros)
                rowScales.withUnsafeBufferPointer { w in
                    Quantization.rescaleReLUQuantize(
                        product.assumingMemoryBound(to: Int32.self), rows: count, columns: hiddenWidth,
                        rowScales: scales, columnScales: w.baseAddress!,
                        into: hidden.assumingMemoryBound(to: Int8.self), scales: hiddenScales,
                        zeros: hiddenZeros)
                }
                output.run(
                    locked.primitive(second, weights: output.layout), second, source: hidden,
                    destination: secondProduct)
                output.rescale(
                    secondProduct, rows: count, activationScales: hiddenScales, zeros: hiddenZeros,
                    into: rowsOfH, accumulate: true)
            }
            start += count
        }
    }

    /// ``reluFeedForward(_:rows:norm:epsilon:output:)`` as separate steps through fp32 rows
    /// (norm, first product, ReLU, second product added into `h`), for weights that refine
    /// their activations (``refinesActivations``: a few rows, where the fused passes save
    /// nothing).
    private func reluFeedForwardInSteps(
        _ h: UnsafeMutablePointer<Float>, rows: Int, norm: UnsafePointer<Float>, epsilon: Float,
        output: PackedLinearWeight
    ) {
        let normalized = Self.rmsNormalized(h, rows: rows, columns: inFeatures, norm: norm, epsilon: epsilon)
        defer { normalized.deallocate() }
        let hidden = UnsafeMutablePointer<Float>.allocate(capacity: rows * outFeatures)
        defer { hidden.deallocate() }
        multiply(normalized, rows: rows, into: hidden, accumulate: false)
        for i in 0..<(rows * outFeatures) { hidden[i] = max(0, hidden[i]) }
        output.multiply(hidden, rows: rows, into: h, accumulate: true)
    }

    /// `rmsNorm(x)` of `rows` rows of `columns` (``Tensor/rmsNormalize(_:into:weight:count:epsilon:)``)
    /// in new memory the caller deallocates.
    private static func rmsNormalized(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, norm: UnsafePointer<Float>, epsilon: Float
    ) -> UnsafeMutablePointer<Float> {
        let out = UnsafeMutablePointer<Float>.allocate(capacity: rows * columns)
        RowSplit.run(rows, columns: columns) { start, count in
            inpars_rms_normalize_rows(
                x + start * columns, count, columns, norm, epsilon, out + start * columns)
        }
        return out
    }
}
