import InparsModels
import InparsTensor

/// How the training graph computes encoder-decoder attention.
public enum T5CrossAttentionStrategy: Sendable, Equatable {
    /// `absorbed` when the decoder is short (at most `dKV` positions, as monoT5's two target
    /// tokens), else `projected`.
    case automatic
    /// Project the whole encoder output to keys and values (`[batch, sourceLength, 2·inner]`),
    /// as PyTorch does: `O(sourceLength · dModel · 2·inner)` per example and layer.
    case projected
    /// Fold the k and v projections into the queries and the context (per head
    /// `q·(M·W_kᵀ)ᵀ = (q·W_k)·Mᵀ`, `P·(M·W_vᵀ) = (P·M)·W_vᵀ`): `O(targetLength · sourceLength ·
    /// dModel)` per head, far cheaper for a few decoder positions.
    case absorbed
}

/// Encoder-decoder attention for training with the k/v projections absorbed (see
/// ``T5CrossAttentionStrategy/absorbed``); the same function as ``T5CrossAttentionGraph``,
/// written with strided GEMMs per (batch, head) instead of projecting the encoder output.
struct T5AbsorbedCrossAttentionGraph {
    var input: Tensor
    var encoderHidden: Tensor
    /// `[batch, targetLength, inner]`.
    var queries: Tensor
    /// `q_h · W_k,h` per (batch, head): `[batch, numHeads, targetLength, dModel]`.
    var absorbedQueries: Tensor
    /// Softmax output before dropout, `[batch, numHeads, targetLength, sourceLength]`.
    var probabilities: Tensor
    /// `dropout(P) · M` per (batch, head): `[batch, numHeads, targetLength, dModel]`.
    var mixed: Tensor
    /// `[batch, targetLength, inner]`.
    var context: Tensor
    var dropout: DropoutMask

    static func forward(
        _ attention: T5CrossAttention, input x: Tensor, encoderHidden: Tensor, mask: Tensor,
        dropout: DropoutMask
    ) -> (T5AbsorbedCrossAttentionGraph, Tensor) {
        let (batch, target, dModel) = (x.shape[0], x.shape[1], x.shape[2])
        let source = encoderHidden.shape[1]
        let (heads, dKV, inner) = (attention.numHeads, attention.dKV, attention.inner)
        let queries = Tensor.linear(x, weight: attention.query)
        var absorbed = Tensor(zeros: [batch, heads, target, dModel])
        var scores = Tensor(zeros: [batch, heads, target, source])
        queries.storage.withUnsafeBufferPointer { pq in
            attention.keyValue.storage.withUnsafeBufferPointer { pw in
                encoderHidden.storage.withUnsafeBufferPointer { pm in
                    absorbed.storage.withUnsafeMutableBufferPointer { pa in
                        scores.storage.withUnsafeMutableBufferPointer { ps in
                            for b in 0..<batch {
                                for h in 0..<heads {
                                    let a = pa.baseAddress! + (b * heads + h) * target * dModel
                                    // A = q_h [target, dKV] · W_k,h [dKV, dModel]
                                    BLAS.sgemm(
                                        transposeA: false, transposeB: false, m: target, n: dModel,
                                        k: dKV, a: pq.baseAddress! + b * target * inner + h * dKV,
                                        lda: inner, b: pw.baseAddress! + h * dKV * dModel,
                                        ldb: dModel,
                                        c: a, ldc: dModel)
                                    // S = A · M_bᵀ [target, source]
                                    BLAS.sgemm(
                                        transposeA: false, transposeB: true, m: target, n: source,
                                        k: dModel, a: a, lda: dModel,
                                        b: pm.baseAddress! + b * source * dModel, ldb: dModel,
                                        c: ps.baseAddress! + (b * heads + h) * target * source,
                                        ldc: source)
                                }
                            }
                        }
                    }
                }
            }
        }
        T5AttentionCore.addBiasAndMask(&scores, bias: nil, mask: mask)
        scores.applySoftmax()
        let dropped = dropout.rate == 0 ? scores : dropout.applied(to: scores)
        var mixed = Tensor(zeros: [batch, heads, target, dModel])
        var context = Tensor(zeros: [batch, target, inner])
        dropped.storage.withUnsafeBufferPointer { pp in
            attention.keyValue.storage.withUnsafeBufferPointer { pw in
                encoderHidden.storage.withUnsafeBufferPointer { pm in
                    mixed.storage.withUnsafeMutableBufferPointer { px in
                        context.storage.withUnsafeMutableBufferPointer { pc in
                            for b in 0..<batch {
                                for h in 0..<heads {
                                    let c = px.baseAddress! + (b * heads + h) * target * dModel
                                    // C = dropout(P) [target, source] · M_b [source, dModel]
                                    BLAS.sgemm(
                                        transposeA: false, transposeB: false, m: target, n: dModel,
                                        k: source,
                                        a: pp.baseAddress! + (b * heads + h) * target * source,
                                        lda: source, b: pm.baseAddress! + b * source * dModel,
                                        ldb: dModel, c: c, ldc: dModel)
                                    // context_h = C · W_v,hᵀ [target, dKV]
                                    BLAS.sgemm(
                                        transposeA: false, transposeB: true, m: target, n: dKV,
                                        k: dModel, a: c, lda: dModel,
                                        b: pw.baseAddress! + (inner + h * dKV) * dModel,
                                        ldb: dModel,
                                        c: pc.baseAddress! + b * target * inner + h * dKV,
                                        ldc: inner)
                                }
                            }
                        }
                    }
                }
            }
        }
        let output = Tensor.linear(context, weight: attention.output)
        let graph = T5AbsorbedCrossAttentionGraph(
            input: x, encoderHidden: encoderHidden, queries: queries, absorbedQueries: absorbed,
            probabilities: scores, mixed: mixed, context: context, dropout: dropout)
        return (graph, output)
    }

    /// - Returns: the gradients of the decoder input and of the encoder output.
    func backward(
        _ dOutput: Tensor, attention: T5CrossAttention, gradients: inout T5CrossAttention
    ) -> (input: Tensor, encoderHidden: Tensor) {
        let (batch, target, dModel) = (input.shape[0], input.shape[1], input.shape[2])
        let source = encoderHidden.shape[1]
        let (heads, dKV, inner) = (attention.numHeads, attention.dKV, attention.inner)
        let dContext = Tensor.linearBackward(
            outputGradient: dOutput, input: context, weight: attention.output,
            weightGradient: &gradients.output)
        let dropped = dropout.rate == 0 ? probabilities : dropout.applied(to: probabilities)
        var dMemory = Tensor(zeros: encoderHidden.shape)
        var dDropped = Tensor(zeros: probabilities.shape)
        var dMixed = Tensor(zeros: [target, dModel])
        // Phase 1: through context_h = C·W_v,hᵀ and C = dropout(P)·M.
        dContext.storage.withUnsafeBufferPointer { pdc in
            attention.keyValue.storage.withUnsafeBufferPointer { pw in
                gradients.keyValue.storage.withUnsafeMutableBufferPointer { pgw in
                    mixed.storage.withUnsafeBufferPointer { px in
                        encoderHidden.storage.withUnsafeBufferPointer { pm in
                            dropped.storage.withUnsafeBufferPointer { pp in
                                dMemory.storage.withUnsafeMutableBufferPointer { pdm in
                                    dDropped.storage.withUnsafeMutableBufferPointer { pdp in
                                        dMixed.storage.withUnsafeMutableBufferPointer { pdx in
                                            for b in 0..<batch {
                                                for h in 0..<heads {
                                                    let dctx =
                                                        pdc.baseAddress! + b * target * inner + h
                                                        * dKV
                                                    let wv =
                                                        pw.baseAddress! + (inner + h * dKV) * dModel
                                                    let head = (b * heads + h)
                                                    let memory =
                                                        pm.baseAddress! + b * source * dModel
                                                    // dC = dctx_h [target, dKV] · W_v,h [dKV, dModel]
                                                    BLAS.sgemm(
                                                        transposeA: false, transposeB: false,
                                                        m: target,
                                                        n: dModel, k: dKV, a: dctx, lda: inner,
                                                        b: wv,
                                                        ldb: dModel, c: pdx.baseAddress!,
                                                        ldc: dModel)
                                                    // dW_v,h += dctx_hᵀ · C
                                                    BLAS.sgemm(
                                                        transposeA: true, transposeB: false, m: dKV,
                                                        n: dModel, k: target, a: dctx, lda: inner,
                                                        b: px.baseAddress! + head * target * dModel,
                                                        ldb: dModel, beta: 1,
                                                        c: pgw.baseAddress! + (inner + h * dKV)
                                                            * dModel,
                                                        ldc: dModel)
                                                    // d dropout(P) = dC · M_bᵀ
                                                    BLAS.sgemm(
                                                        transposeA: false, transposeB: true,
                                                        m: target,
                                                        n: source, k: dModel, a: pdx.baseAddress!,
                                                        lda: dModel, b: memory, ldb: dModel,
                                                        c: pdp.baseAddress! + head * target
                                                            * source,
                                                        ldc: source)
                                                    // dM_b += dropout(P)ᵀ · dC
                                                    BLAS.sgemm(
                                                        transposeA: true, transposeB: false,
                                                        m: source,
                                                        n: dModel, k: target,
                                                        a: pp.baseAddress! + head * target * source,
                                                        lda: source, b: pdx.baseAddress!,
                                                        ldb: dModel,
                                                        beta: 1,
                                                        c: pdm.baseAddress! + b * source * dModel,
                                                        ldc: dModel)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        dropout.apply(to: &dDropped)
        let dScores = Tensor.softmaxBackward(output: probabilities, outputGradient: dDropped)
        // Phase 2: through S = A·M_bᵀ and A = q_h·W_k,h.
        var dQueries = Tensor(zeros: queries.shape)
        var dAbsorbed = Tensor(zeros: [target, dModel])
        dScores.storage.withUnsafeBufferPointer { pds in
            encoderHidden.storage.withUnsafeBufferPointer { pm in
                absorbedQueries.storage.withUnsafeBufferPointer { pa in
                    attention.keyValue.storage.withUnsafeBufferPointer { pw in
                        gradients.keyValue.storage.withUnsafeMutableBufferPointer { pgw in
                            queries.storage.withUnsafeBufferPointer { pq in
                                dQueries.storage.withUnsafeMutableBufferPointer { pdq in
                                    dMemory.storage.withUnsafeMutableBufferPointer { pdm in
                                        dAbsorbed.storage.withUnsafeMutableBufferPointer { pda in
                                            for b in 0..<batch {
                                                for h in 0..<heads {
                                                    let head = b * heads + h
                                                    let ds =
                                                        pds.baseAddress! + head * target * source
                                                    let memory =
                                                        pm.baseAddress! + b * source * dModel
                                                    let wk = pw.baseAddress! + h * dKV * dModel
                                                    let q =
                                                        pq.baseAddress! + b * target * inner + h
                                                        * dKV
                                                    // dA = dS · M_b [target, dModel]
                                                    BLAS.sgemm(
                                                        transposeA: false, transposeB: false,
                                                        m: target,
                                                        n: dModel, k: source, a: ds, lda: source,
                                                        b: memory, ldb: dModel, c: pda.baseAddress!,
                                                        ldc: dModel)
                                                    // dM_b += dSᵀ · A
                                                    BLAS.sgemm(
                                                        transposeA: true, transposeB: false,
                                                        m: source,
                                                        n: dModel, k: target, a: ds, lda: source,
                                                        b: pa.baseAddress! + head * target * dModel,
                                                        ldb: dModel, beta: 1,
                                                        c: pdm.baseAddress! + b * source * dModel,
                                                        ldc: dModel)
                                                    // dq_h = dA · W_k,hᵀ [target, dKV]
                                                    BLAS.sgemm(
                                                        transposeA: false, transposeB: true,
                                                        m: target,
                                                        n: dKV, k: dModel, a: pda.baseAddress!,
                                                        lda: dModel, b: wk, ldb: dModel,
                                                        c: pdq.baseAddress! + b * target * inner + h
                                                            * dKV,
                                                        ldc: inner)
                                                    // dW_k,h += q_hᵀ · dA
                                                    BLAS.sgemm(
                                                        transposeA: true, transposeB: false, m: dKV,
                                                        n: dModel, k: target, a: q, lda: inner,
                                                        b: pda.baseAddress!, ldb: dModel, beta: 1,
                                                        c: pgw.baseAddress! + h * dKV * dModel,
                                                        ldc: dModel)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let dx = Tensor.linearBackward(
            outputGradient: dQueries, input: input, weight: attention.query,
            weightGradient: &gradients.query)
        return (dx, dMemory)
    }
}
