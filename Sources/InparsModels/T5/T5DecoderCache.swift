import InparsTensor

/// The state of an incremental T5 decoder: per-layer self-attention keys/values (appended
/// each step) and the cross-attention keys/values of the encoder output (computed once).
public struct T5DecoderCache: Sendable {
    /// One per decoder layer.
    public var selfAttention: [T5KeyValueCache]
    /// One per decoder layer: `[batch, sourceLength, 2 · inner]`; `nil` when the cache was
    /// made with `projectMemory: false` (cross-attention then reads ``encoderHidden``).
    public var memory: [Tensor]?
    /// `[batch, sourceLength, dModel]`: the encoder output.
    public var encoderHidden: Tensor
    /// Real encoder length of each batch entry.
    public var memoryLengths: [Int]
    /// Decoder positions processed so far.
    public internal(set) var length: Int
    public let batch: Int
}
