import InparsTensor

/// Marks a forward pass as a training pass: given one, each layer's `forward` returns the record
/// its `backward` needs and takes its dropout masks from here; without one (inference) nothing
/// is recorded and no dropout is applied.
///
/// The masks' seeds are drawn from the caller's generator up front, one per dropout site, and
/// handed out in forward order (``mask()``), so the masks of a batch depend only on the
/// generator's state and not on the layers' code paths. With rate 0 nothing is drawn.
final class TrainingPass {
    let rate: Float
    private var seeds: [UInt64]
    private var next = 0

    /// - Parameters:
    ///   - rate: the dropout probability of every site.
    ///   - sites: how many masks the forward pass will ask for.
    init(rate: Float, sites: Int, using generator: inout some RandomNumberGenerator) {
        self.rate = rate
        seeds = rate > 0 ? (0..<sites).map { _ in generator.next() } : []
    }

    /// The next site's mask (rate 0: the identity).
    func mask() -> DropoutMask {
        guard rate > 0 else { return DropoutMask(rate: 0, seed: 0) }
        precondition(next < seeds.count, "more dropout sites than the \(seeds.count) announced")
        defer { next += 1 }
        return DropoutMask(rate: rate, seed: seeds[next])
    }
}

extension LinearWeight {
    /// A sublayer's output projection added into the residual stream, `residual +=
    /// dropout(x · Wᵀ)`: one GEMM with `beta = 1` when there is no dropout (inference), else the
    /// product, the mask and an add.
    func project(_ x: Tensor, dropout: DropoutMask?, into residual: inout Tensor) {
        guard let dropout, dropout.rate > 0 else {
            matmul(x, accumulatingInto: &residual)
            return
        }
        var output = matmul(x)
        dropout.apply(to: &output)
        residual.add(output)
    }
}
