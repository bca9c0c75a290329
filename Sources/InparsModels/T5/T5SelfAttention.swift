import Foundation
import InparsTensor

/// T5 self-attention (`layer.0.SelfAttention`), encoder and decoder.
///
/// The q, k and v projections are concatenated once at load time into ``queryKeyValue`` so
/// one GEMM computes all three; heads are then addressed in place (no split/merge copies).
/// No 1/√dKV scaling (T5). The relative position bias comes from the stack's
/// ``T5RelativePositionBias``, computed once per forward pass.
public struct T5SelfAttention: Sendable {
    /// `[3 · inner, dModel]`: rows `0..<inner` are q, then k, then v (`inner = numHeads · dKV`).
    public var queryKeyValue: Tensor
    /// `[dModel, inner]`: the `o` projection.
    public var output: Tensor
    public let numHeads: Int
    public let dKV: Int

    public var inner: Int { numHeads * dKV }

    /// - Parameters:
    ///   - query, key, value: `[inner, dModel]` each (checkpoint `q`, `k`, `v`).
    ///   - output: `[dModel, inner]` (checkpoint `o`).
    public init(query: Tensor, key: Tensor, value: Tensor, output: Tensor, numHeads: Int, dKV: Int)
    {
        self.queryKeyValue = Tensor.concatenate([query, key, value], axis: 0)
        self.output = output
        self.numHeads = numHeads
        self.dKV = dKV
    }

    /// Self-attention over a whole sequence (encoder, or a decoder without cache), added into
    /// the residual stream.
    ///
    /// - Parameters:
    ///   - x: the normalised input, `[batch, seqLen, dModel]`.
    ///   - lengths: real length of each batch entry (keys past it are padding).
    ///   - bias: from ``T5RelativePositionBias/offsets(queryLength:keyLength:queryOffset:)`` with
    ///     `seqLen` queries and keys.
    ///   - causal: decoder masking (query `i` sees keys `0...i`).
    ///   - residual: `[batch, seqLen, dModel]`, to which the projected context is added.
    public func forward(
        _ x: Tensor, lengths: [Int], bias: T5RelativePositionBias.Offsets, causal: Bool,
        into residual: inout Tensor
    ) {
        let (batch, seqLen) = (x.shape[0], x.shape[1])
        let qkv = Tensor.linear(x, weight: queryKeyValue)  // [batch, seqLen, 3·inner]
        var context = Tensor(zeros: [batch, seqLen, inner])
        let width = 3 * inner
        let layout = T5HeadLayout(rowStride: width, batchStride: seqLen * width)
        qkv.storage.withUnsafeBufferPointer { p in
            context.storage.withUnsafeMutableBufferPointer { out in
                let base = p.baseAddress!
                T5AttentionKernel.multiHead(
                    batch: batch, numHeads: numHeads, dKV: dKV, queryLength: seqLen,
                    keyLength: seqLen,
                    queries: base, queryLayout: layout,
                    keys: base,
                    keyLayout: T5HeadLayout(
                        rowStride: width, batchStride: seqLen * width, offset: inner),
                    values: base,
                    valueLayout: T5HeadLayout(
                        rowStride: width, batchStride: seqLen * width, offset: 2 * inner),
                    output: out.baseAddress!,
                    outputLayout: T5HeadLayout(rowStride: inner, batchStride: seqLen * inner),
                    visibleKeys: lengths, causalOffset: causal ? 0 : nil, bias: bias)
            }
        }
        Tensor.accumulateLinear(context, weight: output, into: &residual)
    }

    /// Causal self-attention for `stepLength` new decoder positions, appending their keys and
    /// values to `cache` (the incremental decoder).
    ///
    /// - Parameters:
    ///   - x: the normalised input for the new positions, `[batch, stepLength, dModel]`.
    ///   - cache: this layer's keys and values for the `pastLength` earlier positions.
    ///   - pastLength: positions already in the cache; the new ones are `pastLength...`.
    ///   - lengths: per batch entry, how many of all `pastLength + stepLength` positions are
    ///     real (decoder padding); `nil` when all are.
    ///   - bias: offsets for `stepLength` queries at `pastLength` against `pastLength + stepLength` keys.
    ///   - residual: `[batch, stepLength, dModel]`, to which the projected context is added.
    public func forward(
        _ x: Tensor, cache: inout T5KeyValueCache, pastLength: Int, lengths: [Int]?,
        bias: T5RelativePositionBias.Offsets, into residual: inout Tensor
    ) {
        let (batch, stepLength) = (x.shape[0], x.shape[1])
        let total = pastLength + stepLength
        let qkv = Tensor.linear(x, weight: queryKeyValue)  // [batch, stepLength, 3·inner]
        cache.append(qkv, at: pastLength, inner: inner)
        var context = Tensor(zeros: [batch, stepLength, inner])
        let width = 3 * inner
        let cacheLayout = T5HeadLayout(rowStride: inner, batchStride: cache.capacity * inner)
        qkv.storage.withUnsafeBufferPointer { p in
            cache.keys.withUnsafeBufferPointer { pk in
                cache.values.withUnsafeBufferPointer { pv in
                    context.storage.withUnsafeMutableBufferPointer { out in
                        T5AttentionKernel.multiHead(
                            batch: batch, numHeads: numHeads, dKV: dKV, queryLength: stepLength,
                            keyLength: total,
                            queries: p.baseAddress!,
                            queryLayout: T5HeadLayout(
                                rowStride: width, batchStride: stepLength * width),
                            keys: pk.baseAddress!, keyLayout: cacheLayout,
                            values: pv.baseAddress!, valueLayout: cacheLayout,
                            output: out.baseAddress!,
                            outputLayout: T5HeadLayout(
                                rowStride: inner, batchStride: stepLength * inner),
                            visibleKeys: lengths ?? [Int](repeating: total, count: batch),
                            causalOffset: pastLength, bias: bias)
                    }
                }
            }
        }
        Tensor.accumulateLinear(context, weight: output, into: &residual)
    }
}
