import Foundation
import InparsTensor

/// Rotary position embeddings in Hugging Face's "rotate half" convention (Llama, Mistral,
/// Qwen2, Qwen3): for a head vector `x` of `d` elements at position `p`, with `θᵢ = p · fᵢ`
/// (`i < d/2`),
///
///     out[i]       = x[i] · cos θᵢ − x[i + d/2] · sin θᵢ
///     out[i + d/2] = x[i + d/2] · cos θᵢ + x[i] · sin θᵢ
///
/// The inverse frequencies are `fᵢ = 1 / base^(2i/d)`, optionally rescaled by Llama 3.1's
/// `llama3` rule (long wavelengths divided by `factor`, a smooth blend between
/// `high_freq_factor` and `low_freq_factor`), computed in `Float` as transformers computes
/// them (`_compute_default_rope_parameters`, `_compute_llama3_parameters`); the angle `p · fᵢ`
/// is a `Float` product as in its `inv_freq @ position_ids`.
public struct RotaryEmbedding: Sendable, Equatable {
    /// Llama 3.1's frequency rescaling (`rope_scaling.rope_type == "llama3"`).
    public struct Llama3Scaling: Sendable, Equatable {
        public var factor: Double
        public var lowFrequencyFactor: Double
        public var highFrequencyFactor: Double
        public var originalMaxPositions: Double

        public init(
            factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double,
            originalMaxPositions: Double
        ) {
            self.factor = factor
            self.lowFrequencyFactor = lowFrequencyFactor
            self.highFrequencyFactor = highFrequencyFactor
            self.originalMaxPositions = originalMaxPositions
        }
    }

    /// Rotated dimensions per head (the head dimension).
    public let dimension: Int
    public let base: Double
    public let scaling: Llama3Scaling?
    /// `[dimension / 2]`.
    public let inverseFrequencies: [Float]

    public init(dimension: Int, base: Double, scaling: Llama3Scaling? = nil) {
        precondition(dimension > 0 && dimension % 2 == 0, "rotary dimension \(dimension) is odd")
        self.dimension = dimension
        self.base = base
        self.scaling = scaling
        var frequencies = (0..<(dimension / 2)).map { i -> Float in
            let exponent = Float(2 * i) / Float(dimension)
            return 1 / Float(pow(base, Double(exponent)))
        }
        if let scaling { frequencies = frequencies.map { Self.rescale($0, scaling) } }
        inverseFrequencies = frequencies
    }

    /// One inverse frequency under the `llama3` rule.
    static func rescale(_ frequency: Float, _ s: Llama3Scaling) -> Float {
        let lowWavelength = s.originalMaxPositions / s.lowFrequencyFactor
        let highWavelength = s.originalMaxPositions / s.highFrequencyFactor
        let wavelength = 2 * Double.pi / Double(frequency)
        if wavelength < highWavelength { return frequency }
        let scaled = Float(Double(frequency) / s.factor)
        if wavelength > lowWavelength { return scaled }
        let smooth = Float(
            (s.originalMaxPositions / wavelength - s.lowFrequencyFactor)
                / (s.highFrequencyFactor - s.lowFrequencyFactor))
        return (1 - smooth) * scaled + smooth * frequency
    }

    /// `(cos θᵢ, sin θᵢ)` for each `i < dimension / 2` at `position`, into `cosines` and `sines`.
    func angles(
        position: Int, cosines: UnsafeMutablePointer<Float>, sines: UnsafeMutablePointer<Float>
    ) {
        let p = Float(position)
        for i in 0..<inverseFrequencies.count {
            let angle = Double(p * inverseFrequencies[i])
            cosines[i] = Float(cos(angle))
            sines[i] = Float(sin(angle))
        }
    }

    /// Rotates, in place, `heads` consecutive head vectors starting at column `offset` of every
    /// row of `x`.
    ///
    /// - Parameters:
    ///   - x: `[batch, stepLength, width]` (e.g. a fused q/k/v projection).
    ///   - heads: `[(offset, count)]` column blocks of `count` heads of `dimension` each (the
    ///     queries, then the keys).
    ///   - positions: the position of row `t` of batch entry `b` is `positions[b] + t`.
    public func apply(to x: inout Tensor, heads: [(offset: Int, count: Int)], positions: [Int]) {
        precondition(x.rank == 3 && positions.count == x.shape[0], "rotary: \(x.shape)")
        let (batch, stepLength, width) = (x.shape[0], x.shape[1], x.shape[2])
        guard batch > 0 && stepLength > 0 else { return }
        let half = dimension / 2
        // One (cos, sin) row per position of the span the rows cover: a prefill's entries share
        // their positions, so each is computed once per call rather than once per row.
        let first = positions.min()!
        let span = positions.max()! + stepLength - first
        let table = [Float](unsafeUninitializedCapacity: span * 2 * half) { buffer, count in
            for p in 0..<span {
                let row = buffer.baseAddress! + p * 2 * half
                angles(position: first + p, cosines: row, sines: row + half)
            }
            count = span * 2 * half
        }
        let rotated = heads.reduce(0) { $0 + $1.count } * dimension
        x.storage.withUnsafeMutableBufferPointer { px in
            table.withUnsafeBufferPointer { pt in
                let (base, angles) = (px.baseAddress!, pt.baseAddress!)
                RowSplit.run(batch * stepLength, columns: rotated) { start, count in
                    for r in start..<(start + count) {
                        let (b, t) = r.quotientAndRemainder(dividingBy: stepLength)
                        let cosines = angles + (positions[b] + t - first) * 2 * half
                        let row = base + r * width
                        for block in heads {
                            for h in 0..<block.count {
                                rotate(row + block.offset + h * dimension, cosines, cosines + half, half)
                            }
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private func rotate(
        _ v: UnsafeMutablePointer<Float>, _ cosines: UnsafePointer<Float>,
        _ sines: UnsafePointer<Float>, _ half: Int
    ) {
        for i in 0..<half {
            let (a, b) = (v[i], v[i + half])
            v[i] = a * cosines[i] - b * sines[i]
            v[i + half] = b * cosines[i] + a * sines[i]
        }
    }
}
