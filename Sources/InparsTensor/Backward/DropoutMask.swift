/// A dropout mask that is regenerated from a seed instead of stored.
///
/// Element `i` is kept when a uniform number drawn from a SplitMix64 stream seeded with `seed`
/// (the `i`-th draw) is at least `rate`; kept elements are scaled by `1 / (1 − rate)`, as
/// `torch.nn.Dropout` in training mode. Forward and backward walk the same stream, so the
/// backward uses exactly the forward's mask while the training step keeps only 16 bytes per
/// dropout site rather than a tensor. The random numbers differ from PyTorch's (its generator is
/// not reproduced); the distribution and scaling are the same.
public struct DropoutMask: Sendable, Equatable {
    /// The probability of zeroing an element, in `0...1`.
    public var rate: Float
    /// The stream's seed; draw it from the run's seeded generator for each dropout site.
    public var seed: UInt64

    /// A mask with the given `rate` and `seed`.
    public init(rate: Float, seed: UInt64) {
        precondition(rate >= 0 && rate <= 1, "dropout rate \(rate) outside 0...1")
        self.rate = rate
        self.seed = seed
    }

    /// A mask whose seed is drawn from `generator`.
    public init(rate: Float, using generator: inout some RandomNumberGenerator) {
        self.init(rate: rate, seed: generator.next())
    }

    /// Multiplies `x` by the mask in place: the forward pass, and also the backward pass
    /// (`dx = dy ⊙ mask`) when applied to the output gradient.
    ///
    /// - Parameter x: any shape; element `i` uses draw `i`.
    public func apply(to x: inout Tensor) {
        if rate == 0 { return }
        if rate >= 1 {
            x.storage.withUnsafeMutableBufferPointer { px in
                for i in 0..<px.count { px[i] = 0 }
            }
            return
        }
        let scale = 1 / (1 - rate)
        var state = seed
        x.storage.withUnsafeMutableBufferPointer { px in
            for i in 0..<px.count {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                let uniform = Float(z >> 40) * 0x1p-24
                px[i] = uniform >= rate ? px[i] * scale : 0
            }
        }
    }

    /// Applies elements `offset ..< offset + count` of the mask to `count` floats at
    /// `source`, writing them to `destination` (which may equal `source`): the same values as
    /// ``apply(to:)`` on a tensor of which this is a contiguous slice starting at `offset`
    /// (the stream's `i`-th draw depends only on `seed` and `i`).
    public func apply(
        from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>,
        count: Int, offset: Int
    ) {
        if rate == 0 {
            if UnsafePointer(destination) != source { destination.update(from: source, count: count) }
            return
        }
        if rate >= 1 {
            destination.update(repeating: 0, count: count)
            return
        }
        let scale = 1 / (1 - rate)
        var state = seed &+ UInt64(truncatingIfNeeded: offset) &* 0x9E37_79B9_7F4A_7C15
        for i in 0..<count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let uniform = Float(z >> 40) * 0x1p-24
            destination[i] = uniform >= rate ? source[i] * scale : 0
        }
    }

    /// `x` multiplied by the mask (see ``apply(to:)``).
    public func applied(to x: Tensor) -> Tensor {
        var result = x
        apply(to: &result)
        return result
    }
}
