import InparsTensor

/// Causal self-attention of a Llama-style decoder layer (`self_attn`), with rotary positions,
/// grouped-query heads and a KV cache.
///
/// `q_proj`, `k_proj` and `v_proj` share one `[qWidth + 2·kvWidth, hidden]` slot (and their
/// biases one `[qWidth + 2·kvWidth]` slot, Qwen2), so one GEMM projects all three; heads are
/// then addressed in place. Qwen3 RMS-normalises each query and key head (`q_norm`, `k_norm`,
/// `[headDimension]`) before the rotation. Scores are scaled by `1/√headDimension`.
struct CausalSelfAttention: Sendable {
    let queryKeyValue: Int
    let queryKeyValueBias: Int?
    let output: Int
    let outputBias: Int?
    let queryNorm: Int?
    let keyNorm: Int?
    let numHeads: Int
    let numKVHeads: Int
    let headDimension: Int
    let epsilon: Float

    var queryWidth: Int { numHeads * headDimension }
    var keyValueWidth: Int { numKVHeads * headDimension }

    /// Attends `stepLength` new positions per batch entry over the cached ones and adds the
    /// projected context into the residual stream, appending the new keys and values to
    /// `cache`.
    ///
    /// - Parameters:
    ///   - x: the normalised input, `[batch, stepLength, hidden]` (right-padded).
    ///   - cache: this layer's keys and values; entry `b` holds `past[b]` positions.
    ///   - past: cached positions per entry; the new ones are `past[b]...`. With
    ///     `stepLength > 1` every entry has the same `past` (a prefill from a shared state).
    ///   - real: real new positions per entry (`≤ stepLength`; the rest is padding).
    ///   - residual: `[batch, stepLength, hidden]`, updated.
    func forward(
        _ x: Tensor, weights: ParameterStore, rotary: RotaryEmbedding,
        cache: inout KeyValueCache, past: [Int], real: [Int], into residual: inout Tensor
    ) {
        let (batch, stepLength) = (x.shape[0], x.shape[1])
        precondition(
            stepLength == 1 || Set(past).count <= 1,
            "a multi-token step needs one past length for all entries, got \(past)")
        var qkv = weights.linear(queryKeyValue).matmul(x)  // [batch, step, q + 2·kv]
        if let queryKeyValueBias { qkv.add(weights[queryKeyValueBias]) }
        if let queryNorm, let keyNorm {
            normalizeHeads(&qkv, weights: weights, queryNorm: queryNorm, keyNorm: keyNorm)
        }
        rotary.apply(
            to: &qkv, heads: [(0, numHeads), (queryWidth, numKVHeads)], positions: past)
        cache.append(
            qkv, keyOffset: queryWidth, valueOffset: queryWidth + keyValueWidth, at: past)
        let width = qkv.lastDimension
        let problem = AttentionProblem(
            batch: batch, numHeads: numHeads, numKVHeads: numKVHeads,
            headDimension: headDimension, queryLength: stepLength,
            keyLength: (past.max() ?? 0) + stepLength,
            queries: HeadLayout(rowStride: width, batchStride: stepLength * width),
            keys: cache.layout, values: cache.layout,
            output: HeadLayout(rowStride: queryWidth, batchStride: stepLength * queryWidth),
            visibleKeys: zip(past, real).map { $0 + $1 },
            causalOffset: stepLength > 1 ? past.first : nil,
            scale: 1 / Float(headDimension).squareRoot(),
            shared: cache.sharedKeys)
        var context = Tensor(zeros: [batch, stepLength, queryWidth])
        _ = AttentionKernel.run(
            problem, queries: qkv.storage, keys: cache.keys, values: cache.values, bias: nil,
            into: &context, recording: false, dropout: nil,
            cache: cache)
        if let outputBias {
            var projected = weights.linear(output).matmul(context)
            projected.add(weights[outputBias])
            residual.add(projected)
        } else {
            weights.linear(output).matmul(context, accumulatingInto: &residual)
        }
    }

    /// Qwen3's `q_norm` / `k_norm`: RMS norm over each head's `headDimension` values, in place.
    private func normalizeHeads(
        _ qkv: inout Tensor, weights: ParameterStore, queryNorm: Int, keyNorm: Int
    ) {
        let width = qkv.lastDimension
        let (d, rows, eps) = (headDimension, qkv.rowCount, epsilon)
        let (heads, kvHeads, qWidth) = (numHeads, numKVHeads, queryWidth)
        qkv.storage.withUnsafeMutableBufferPointer { p in
            weights[queryNorm].storage.withUnsafeBufferPointer { wq in
                weights[keyNorm].storage.withUnsafeBufferPointer { wk in
                    for r in 0..<rows {
                        let row = p.baseAddress! + r * width
                        for h in 0..<heads {
                            Tensor.rmsNormalize(
                                row + h * d, into: row + h * d, weight: wq.baseAddress!,
                                count: d, epsilon: eps)
                        }
                        for h in 0..<kvHeads {
                            let head = row + qWidth + h * d
                            Tensor.rmsNormalize(
                                head, into: head, weight: wk.baseAddress!, count: d, epsilon: eps)
                        }
                    }
                }
            }
        }
    }
}

/// The SwiGLU MLP (`mlp`): `down(silu(gate(x)) ⊙ up(x))`, with `gate_proj` and `up_proj` in one
/// `[2·intermediate, hidden]` slot (one GEMM) and the gated product from
/// ``InparsTensor/Tensor/gatedActivation(_:fused:)``.
struct SwiGLUFeedForward: Sendable {
    let gateUp: Int
    let down: Int

    /// Adds the block's output into the residual stream.
    ///
    /// A long prefill runs in blocks of ``rowsPerChunk`` rows through two scratch buffers
    /// reused from block to block: a whole one's `[rows, 2·intermediate]` projection (160 MB
    /// for 16 × 256 tokens in Qwen2.5-0.5B) would be fresh pages from the kernel in every
    /// layer. Each block reads its rows of `x` and adds into its rows of `residual` in place.
    ///
    /// - Parameters:
    ///   - x: the normalised input, `[batch, stepLength, hidden]`.
    ///   - residual: `[batch, stepLength, hidden]`, updated.
    func forward(_ x: Tensor, weights: ParameterStore, into residual: inout Tensor) {
        let (gateUp, down) = (weights.linear(self.gateUp), weights.linear(self.down))
        let (rows, width, intermediate) = (x.rowCount, x.lastDimension, down.inFeatures)
        precondition(
            residual.rowCount == rows && residual.lastDimension == width
                && gateUp.outFeatures == 2 * intermediate,
            "SwiGLU: x \(x.shape), residual \(residual.shape)")
        guard rows > 0 else { return }
        let block = min(rows, Self.rowsPerChunk)
        let projected = UnsafeMutablePointer<Float>.allocate(capacity: block * 2 * intermediate)
        let hidden = UnsafeMutablePointer<Float>.allocate(capacity: block * intermediate)
        defer {
            projected.deallocate()
            hidden.deallocate()
        }
        x.storage.withUnsafeBufferPointer { px in
            residual.storage.withUnsafeMutableBufferPointer { pr in
                for start in stride(from: 0, to: rows, by: block) {
                    let count = min(block, rows - start)
                    gateUp.multiply(px.baseAddress! + start * width, rows: count, into: projected, accumulate: false)
                    Tensor.gatedActivation(.silu, fused: projected, rows: count, width: intermediate, into: hidden)
                    down.multiply(hidden, rows: count, into: pr.baseAddress! + start * width, accumulate: true)
                }
            }
        }
    }

    /// Rows per block of a long input: 512 × 2·4864 floats = 20 MB, under glibc's largest
    /// mmap threshold (32 MB), and still a large GEMM.
    static let rowsPerChunk = 512
}

/// One decoder layer: `x += attention(norm₁(x))`, `x += mlp(norm₂(x))`.
struct CausalLMLayer: Sendable {
    let inputNorm: Int
    let attention: CausalSelfAttention
    let postAttentionNorm: Int
    let feedForward: SwiGLUFeedForward
    let epsilon: Float

    /// - Parameter x: the residual stream `[batch, stepLength, hidden]`, updated.
    func forward(
        _ x: inout Tensor, weights: ParameterStore, rotary: RotaryEmbedding,
        cache: inout KeyValueCache, past: [Int], real: [Int]
    ) {
        let normalized = x.rmsNormalized(weight: weights[inputNorm], epsilon: epsilon)
        attention.forward(
            normalized, weights: weights, rotary: rotary, cache: &cache, past: past, real: real,
            into: &x)
        let second = x.rmsNormalized(weight: weights[postAttentionNorm], epsilon: epsilon)
        feedForward.forward(second, weights: weights, into: &x)
    }
}
