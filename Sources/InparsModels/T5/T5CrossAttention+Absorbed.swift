import Foundation
import InparsTensor

extension T5CrossAttention {
    /// What the backward pass needs from a training forward with absorbed projections.
    struct AbsorbedRecord {
        /// The normalised decoder input, `[batch, stepLength, dModel]`.
        var input: Tensor
        /// `[batch, stepLength, inner]`.
        var queries: Tensor
        /// `q_h · W_k,h` per head: `[numHeads, batch · stepLength, dModel]`.
        var absorbed: Tensor
        /// Softmax output before dropout, `[batch, numHeads, stepLength, sourceLength]`.
        var probabilities: Tensor
        /// `dropout(P) · M` per head: `[numHeads, batch · stepLength, dModel]`.
        var mixed: Tensor
        /// `[batch, stepLength, inner]`.
        var context: Tensor
        var memoryLengths: [Int]
        var probabilityDropout: DropoutMask
        var outputDropout: DropoutMask
    }

    /// Cross-attention straight from the encoder hidden states, without projecting them to
    /// keys and values: the k and v weights are absorbed into the query and the output.
    ///
    /// Per head, `q·(M·W_kᵀ)ᵀ = (q·W_k)·Mᵀ` and `P·(M·W_vᵀ) = (P·M)·W_vᵀ`, so a step costs
    /// `O(stepLength · sourceLength · dModel)` per head instead of projecting all
    /// `sourceLength` positions (`O(sourceLength · dModel · 2 · inner)`). For the few decoder
    /// positions of monoT5 (one when scoring, two when training) this removes the decoder's
    /// largest GEMM and its two backward GEMMs; generation with many steps should use
    /// ``projectMemory(_:weights:)`` once instead. The weight rows are read in place, so this
    /// path needs the fp32 weights.
    ///
    /// - Parameters:
    ///   - x: normalised decoder input, `[batch, stepLength, dModel]`.
    ///   - encoderHidden: `[batch, sourceLength, dModel]`.
    ///   - memoryLengths: real encoder lengths.
    ///   - residual: `[batch, stepLength, dModel]`.
    ///   - training: set for a training pass (two dropout sites: probabilities, output).
    func forwardAbsorbed(
        _ x: Tensor, weights: ParameterStore, encoderHidden: Tensor, memoryLengths: [Int],
        into residual: inout Tensor, training: TrainingPass?
    ) -> AbsorbedRecord? {
        let (batch, stepLength, dModel) = (x.shape[0], x.shape[1], x.shape[2])
        let sourceLength = encoderHidden.shape[1]
        let rows = batch * stepLength
        let recording = training != nil
        let queries = weights.linear(query).matmul(x)  // [batch, stepLength, inner]
        let probabilityDropout = training?.mask() ?? DropoutMask(rate: 0, seed: 0)
        var context = Tensor(zeros: [batch, stepLength, inner])
        // Per head: absorbed queries q·W_k [rows, dModel], then P·M [rows, dModel]; kept for
        // every head when recording, else one head's worth reused.
        let heads = recording ? numHeads : 1
        var absorbed = Tensor(zeros: [heads, rows, dModel])
        var mixed = Tensor(zeros: [heads, rows, dModel])
        var probabilities = Tensor(
            zeros: recording ? [batch, numHeads, stepLength, sourceLength] : [0])
        let scoreCount = stepLength * sourceLength
        var scratch = [Float](
            repeating: 0,
            count: recording ? (probabilityDropout.rate > 0 ? scoreCount : 0) : scoreCount)
        queries.storage.withUnsafeBufferPointer { pq in
            weights[keyValue].storage.withUnsafeBufferPointer { pw in
                encoderHidden.storage.withUnsafeBufferPointer { pm in
                    context.storage.withUnsafeMutableBufferPointer { pc in
                        absorbed.storage.withUnsafeMutableBufferPointer { pa in
                            mixed.storage.withUnsafeMutableBufferPointer { px in
                                probabilities.storage.withUnsafeMutableBufferPointer { pp in
                                    scratch.withUnsafeMutableBufferPointer { ps in
                                        for h in 0..<numHeads {
                                            let slice = recording ? h * rows * dModel : 0
                                            absorbedHead(
                                                h, queries: pq.baseAddress!, weights: pw.baseAddress!,
                                                memory: pm.baseAddress!,
                                                absorbed: pa.baseAddress! + slice,
                                                mixed: px.baseAddress! + slice,
                                                probabilities: recording ? pp.baseAddress! : nil,
                                                scratch: ps.baseAddress,
                                                context: pc.baseAddress!, batch: batch,
                                                stepLength: stepLength, sourceLength: sourceLength,
                                                dModel: dModel, memoryLengths: memoryLengths,
                                                dropout: probabilityDropout)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let outputDropout = training?.mask()
        weights.linear(output).project(context, dropout: outputDropout, into: &residual)
        guard let outputDropout else { return nil }
        return AbsorbedRecord(
            input: x, queries: queries, absorbed: absorbed, probabilities: probabilities,
            mixed: mixed, context: context, memoryLengths: memoryLengths,
            probabilityDropout: probabilityDropout, outputDropout: outputDropout)
    }

    /// One head of the absorbed forward: `A = q_h·W_k,h` for all rows at once, then per batch
    /// entry the scores `A_b·M_bᵀ` over its real keys, softmax, (dropout) and `C_b = P·M_b`,
    /// and finally `context_h = C·W_v,hᵀ` for all rows at once.
    ///
    /// - Parameters:
    ///   - absorbed, mixed: `[rows, dModel]` for this head.
    ///   - probabilities: `[batch, numHeads, stepLength, sourceLength]` when recording, else
    ///     `nil` (the scores then go to `scratch`, `[stepLength, sourceLength]`).
    ///   - scratch: `dropout(P)` when recording with dropout.
    private func absorbedHead(
        _ h: Int, queries: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        memory: UnsafePointer<Float>, absorbed: UnsafeMutablePointer<Float>,
        mixed: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>?, context: UnsafeMutablePointer<Float>,
        batch: Int, stepLength: Int, sourceLength: Int, dModel: Int, memoryLengths: [Int],
        dropout: DropoutMask
    ) {
        let rows = batch * stepLength
        let keyRows = weights + h * dKV * dModel
        let valueRows = weights + (inner + h * dKV) * dModel
        // absorbed = q_h [rows, dKV] · W_k,h [dKV, dModel]
        BLAS.sgemm(
            transposeA: false, transposeB: false, m: rows, n: dModel, k: dKV,
            a: queries + h * dKV, lda: inner, b: keyRows, ldb: dModel, c: absorbed, ldc: dModel)
        for b in 0..<batch {
            let m = memory + b * sourceLength * dModel
            let columns = min(memoryLengths[b], sourceLength)
            let pair = (b * numHeads + h) * stepLength * sourceLength
            let s = probabilities.map { $0 + pair } ?? scratch!
            let leading = probabilities == nil ? columns : sourceLength
            BLAS.sgemm(
                transposeA: false, transposeB: true, m: stepLength, n: columns, k: dModel,
                a: absorbed + b * stepLength * dModel, lda: dModel, b: m, ldb: dModel, c: s,
                ldc: leading)
            for i in 0..<stepLength {
                Softmax.normalize(s + i * leading, count: columns)
                if columns < leading {
                    (s + i * leading + columns).update(repeating: 0, count: leading - columns)
                }
            }
            var weightsOfKeys = UnsafePointer(s)
            if probabilities != nil, dropout.rate > 0, let scratch {
                dropout.apply(
                    from: s, to: scratch, count: stepLength * sourceLength, offset: pair)
                weightsOfKeys = UnsafePointer(scratch)
            }
            BLAS.sgemm(
                transposeA: false, transposeB: false, m: stepLength, n: dModel, k: columns,
                a: weightsOfKeys, lda: leading, b: m, ldb: dModel,
                c: mixed + b * stepLength * dModel, ldc: dModel)
        }
        // context_h = (P·M) [rows, dModel] · W_v,hᵀ [dModel, dKV]
        BLAS.sgemm(
            transposeA: false, transposeB: true, m: rows, n: dKV, k: dModel, a: mixed,
            lda: dModel, b: valueRows, ldb: dModel, c: context + h * dKV, ldc: inner)
    }
}

extension T5CrossAttention {
    /// Back-propagates the gradient of the residual stream after the absorbed sublayer.
    ///
    /// - Parameters:
    ///   - dResidual: `[batch, stepLength, dModel]`.
    ///   - encoderHidden: the encoder output the forward attended to.
    ///   - dEncoderHidden: `[batch, sourceLength, dModel]`; this layer's share is added.
    /// - Returns: the gradient of the normalised decoder input.
    func backwardAbsorbed(
        _ dResidual: Tensor, record: AbsorbedRecord, weights: ParameterStore,
        gradients: inout ParameterStore, encoderHidden: Tensor, dEncoderHidden: inout Tensor
    ) -> Tensor {
        let dContext = weights.linear(output).backward(
            outputGradient: record.outputDropout.applied(to: dResidual), input: record.context,
            weightGradient: &gradients.tensors[output])
        let (batch, stepLength, dModel) = (dResidual.shape[0], dResidual.shape[1], dResidual.shape[2])
        let sourceLength = encoderHidden.shape[1]
        let rows = batch * stepLength
        var dQueries = Tensor(zeros: record.queries.shape)
        // Per head: the gradients of P·M and of the absorbed queries, [rows, dModel] each, and
        // of one entry's scores, [stepLength, sourceLength] (plus its dropped probabilities).
        var scratch = [Float](
            repeating: 0, count: 2 * rows * dModel + 2 * stepLength * sourceLength)
        dContext.storage.withUnsafeBufferPointer { pdc in
            record.queries.storage.withUnsafeBufferPointer { pq in
                weights[keyValue].storage.withUnsafeBufferPointer { pw in
                    gradients.tensors[keyValue].storage.withUnsafeMutableBufferPointer { pgw in
                        encoderHidden.storage.withUnsafeBufferPointer { pm in
                            dEncoderHidden.storage.withUnsafeMutableBufferPointer { pdm in
                                dQueries.storage.withUnsafeMutableBufferPointer { pdq in
                                    scratch.withUnsafeMutableBufferPointer { ps in
                                        for h in 0..<numHeads {
                                            absorbedHeadBackward(
                                                h, record: record, dContext: pdc.baseAddress!,
                                                queries: pq.baseAddress!, weights: pw.baseAddress!,
                                                weightGradient: pgw.baseAddress!,
                                                memory: pm.baseAddress!,
                                                dMemory: pdm.baseAddress!,
                                                dQueries: pdq.baseAddress!,
                                                scratch: ps.baseAddress!, batch: batch,
                                                stepLength: stepLength,
                                                sourceLength: sourceLength, dModel: dModel)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return weights.linear(query).backward(
            outputGradient: dQueries, input: record.input,
            weightGradient: &gradients.tensors[query])
    }

    /// One head of ``backwardAbsorbed(_:record:weights:gradients:encoderHidden:dEncoderHidden:)``:
    /// through `context_h = C·W_v,hᵀ`, `C_b = dropout(P)·M_b`, the softmax, `S_b = A_b·M_bᵀ` and
    /// `A = q_h·W_k,h`; weight and encoder-output gradients accumulate (GEMM `beta = 1`).
    private func absorbedHeadBackward(
        _ h: Int, record: AbsorbedRecord, dContext: UnsafePointer<Float>,
        queries: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        weightGradient: UnsafeMutablePointer<Float>, memory: UnsafePointer<Float>,
        dMemory: UnsafeMutablePointer<Float>, dQueries: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, batch: Int, stepLength: Int, sourceLength: Int,
        dModel: Int
    ) {
        let rows = batch * stepLength
        let scoreCount = stepLength * sourceLength
        let (dMixed, dAbsorbed) = (scratch, scratch + rows * dModel)
        let (dScores, dropped) = (scratch + 2 * rows * dModel, scratch + 2 * rows * dModel + scoreCount)
        let dropout = record.probabilityDropout
        let keyRows = (weights + h * dKV * dModel, weightGradient + h * dKV * dModel)
        let valueRows = (
            weights + (inner + h * dKV) * dModel, weightGradient + (inner + h * dKV) * dModel
        )
        let dctx = dContext + h * dKV
        let q = queries + h * dKV
        record.absorbed.storage.withUnsafeBufferPointer { pa in
            record.mixed.storage.withUnsafeBufferPointer { px in
                record.probabilities.storage.withUnsafeBufferPointer { pp in
                    let absorbed = pa.baseAddress! + h * rows * dModel
                    // dC = dctx_h [rows, dKV] · W_v,h [dKV, dModel]; dW_v,h += dctx_hᵀ · C
                    BLAS.sgemm(
                        transposeA: false, transposeB: false, m: rows, n: dModel, k: dKV,
                        a: dctx, lda: inner, b: valueRows.0, ldb: dModel, c: dMixed, ldc: dModel)
                    BLAS.sgemm(
                        transposeA: true, transposeB: false, m: dKV, n: dModel, k: rows, a: dctx,
                        lda: inner, b: px.baseAddress! + h * rows * dModel, ldb: dModel, beta: 1,
                        c: valueRows.1, ldc: dModel)
                    for b in 0..<batch {
                        let pair = (b * numHeads + h) * scoreCount
                        Self.absorbedEntryBackward(
                            probabilities: pp.baseAddress! + pair, pairOffset: pair,
                            dropout: dropout,
                            columns: min(record.memoryLengths[b], sourceLength),
                            memory: memory + b * sourceLength * dModel,
                            dMemory: dMemory + b * sourceLength * dModel,
                            absorbed: absorbed + b * stepLength * dModel,
                            dMixed: dMixed + b * stepLength * dModel,
                            dAbsorbed: dAbsorbed + b * stepLength * dModel, dScores: dScores,
                            dropped: dropped, stepLength: stepLength, sourceLength: sourceLength,
                            dModel: dModel)
                    }
                    // dq_h = dA · W_k,hᵀ; dW_k,h += q_hᵀ · dA
                    BLAS.sgemm(
                        transposeA: false, transposeB: true, m: rows, n: dKV, k: dModel,
                        a: dAbsorbed, lda: dModel, b: keyRows.0, ldb: dModel, c: dQueries + h * dKV,
                        ldc: inner)
                    BLAS.sgemm(
                        transposeA: true, transposeB: false, m: dKV, n: dModel, k: rows, a: q,
                        lda: inner, b: dAbsorbed, ldb: dModel, beta: 1, c: keyRows.1, ldc: dModel)
                }
            }
        }
    }

    /// One batch entry of one head in the absorbed backward: from `dC_b` (the gradient of
    /// `dropout(P)·M_b`) through the dropout and the softmax to `dA_b` (the gradient of the
    /// absorbed queries), adding both memory terms into `dM_b`.
    ///
    /// - Parameters:
    ///   - probabilities: `[stepLength, sourceLength]`, recorded.
    ///   - pairOffset: where they start in the `[batch, numHeads, …]` record (the dropout
    ///     stream's offset).
    ///   - dScores, dropped: scratch `[stepLength, sourceLength]` each.
    private static func absorbedEntryBackward(
        probabilities: UnsafePointer<Float>, pairOffset: Int, dropout: DropoutMask, columns: Int,
        memory: UnsafePointer<Float>, dMemory: UnsafeMutablePointer<Float>,
        absorbed: UnsafePointer<Float>, dMixed: UnsafePointer<Float>,
        dAbsorbed: UnsafeMutablePointer<Float>, dScores: UnsafeMutablePointer<Float>,
        dropped: UnsafeMutablePointer<Float>, stepLength: Int, sourceLength: Int, dModel: Int
    ) {
        var kept = probabilities
        if dropout.rate > 0 {
            dropout.apply(
                from: probabilities, to: dropped, count: stepLength * sourceLength,
                offset: pairOffset)
            kept = UnsafePointer(dropped)
        }
        // d dropout(P) = dC · M_bᵀ; dM_b += dropout(P)ᵀ · dC
        BLAS.sgemm(
            transposeA: false, transposeB: true, m: stepLength, n: columns, k: dModel, a: dMixed,
            lda: dModel, b: memory, ldb: dModel, c: dScores, ldc: sourceLength)
        BLAS.sgemm(
            transposeA: true, transposeB: false, m: columns, n: dModel, k: stepLength, a: kept,
            lda: sourceLength, b: dMixed, ldb: dModel, beta: 1, c: dMemory, ldc: dModel)
        for i in 0..<stepLength {
            let row = dScores + i * sourceLength
            if dropout.rate > 0 {
                dropout.apply(
                    from: row, to: row, count: columns, offset: pairOffset + i * sourceLength)
            }
            Softmax.backward(output: probabilities + i * sourceLength, gradient: row, count: columns)
        }
        // dA_b = dS · M_b; dM_b += dSᵀ · A_b
        BLAS.sgemm(
            transposeA: false, transposeB: false, m: stepLength, n: dModel, k: columns,
            a: dScores, lda: sourceLength, b: memory, ldb: dModel, c: dAbsorbed, ldc: dModel)
        BLAS.sgemm(
            transposeA: true, transposeB: false, m: columns, n: dModel, k: stepLength,
            a: dScores, lda: sourceLength, b: absorbed, ldb: dModel, beta: 1, c: dMemory,
            ldc: dModel)
    }
}
