import Foundation
internal import CKernels

/// Element-wise activation functions, as the transformer feed-forward layers name them.
public enum Activation: String, Sendable, CaseIterable {
    /// `max(0, x)`.
    case relu
    /// Exact GELU, `x · Φ(x) = 0.5 x (1 + erf(x / √2))` (PyTorch `gelu`, transformers'
    /// `"gelu"`), with `erf` evaluated eight lanes at a time (``Activation/gelu8(_:)``: absolute
    /// error below 2e-7, the order of a float ulp of `erf`).
    case gelu
    /// The tanh approximation, `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))` (HF `gelu_new`,
    /// used by T5 v1.1's `gated-gelu`).
    case geluTanh = "gelu_new"
    /// `x · σ(x)` (Llama's MLP).
    case silu
    /// `tanh(x)` (BERT's pooler, the RoBERTa classification head).
    case tanh

    /// Applies the activation to one value.
    @inlinable
    public func callAsFunction(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? x : 0
        case .gelu: return Activation.gelu8(SIMD8(repeating: x))[0]
        case .geluTanh:
            let inner: Float = 0.79788456080286535588 * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + tanhf(inner))
        case .silu: return x / (1 + expf(-x))
        case .tanh: return tanhf(x)
        }
    }

    /// Looks up an activation by its Hugging Face name (`relu`, `gelu`, `gelu_new`,
    /// `gelu_pytorch_tanh`, `silu`, `swish`, `tanh`).
    public init?(huggingFaceName name: String) {
        switch name {
        case "relu": self = .relu
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "silu", "swish": self = .silu
        case "tanh": self = .tanh
        default: return nil
        }
    }
}

extension Tensor {
    /// The activation applied element-wise.
    public func activated(_ activation: Activation) -> Tensor {
        var result = self
        result.activate(activation)
        return result
    }

    /// Applies the activation in place.
    public mutating func activate(_ activation: Activation) {
        storage.withUnsafeMutableBufferPointer { px in
            switch activation {
            case .relu: for i in 0..<px.count { px[i] = px[i] > 0 ? px[i] : 0 }
            case .gelu:
                // C (`CKernels`), AVX-512 where the CPU has it; the same operations as
                // ``Activation/gelu8(_:)``, so the same bits.
                if let base = px.baseAddress { inpars_gelu(base, px.count) }
            case .geluTanh:
                for i in 0..<px.count {
                    let x = px[i]
                    px[i] = 0.5 * x * (1 + tanhf(0.79788456080286535588 * (x + 0.044715 * x * x * x)))
                }
            case .silu: for i in 0..<px.count { px[i] = px[i] / (1 + expf(-px[i])) }
            case .tanh: for i in 0..<px.count { px[i] = tanhf(px[i]) }
            }
        }
    }
}

extension Activation {
    /// Exact GELU of eight values, `0.5·x·(1 + erf(x/√2))`, with `erf(z) = 1 − (a₁t + a₂t² +
    /// a₃t³ + a₄t⁴ + a₅t⁵)·e^{−z²}`, `t = 1/(1 + p·|z|)` (Abramowitz & Stegun 7.1.26, absolute
    /// error ≤ 1.5e-7) on the vectorised `exp`; odd in `z`. `erff` per element was a fifth of a
    /// MiniLM forward.
    @inline(__always)
    public static func gelu8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let z = x * 0.70710678118654752440
        let a = z.replacing(with: -z, where: z .< 0)
        let t = 1 / (1 + 0.3275911 * a)
        var poly = SIMD8<Float>(repeating: 1.061405429)
        poly = poly * t - 1.453152027
        poly = poly * t + 1.421413741
        poly = poly * t - 0.284496736
        poly = poly * t + 0.254829592
        poly = poly * t
        let magnitude = 1 - poly * Softmax.exp8(-(a * a))
        let erf = magnitude.replacing(with: -magnitude, where: z .< 0)
        return 0.5 * x * (1 + erf)
    }

    /// `out[j] = gelu_new(gate[j]) · linear[j]` for `j < count`, with `gelu_new(x) =
    /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` and `tanh(u) = 1 − 2 / (exp(2u) + 1)` on the
    /// vectorised `exp` (|u| clamped at 10, where tanh is ±1 in float). Absolute error ≈ 1e-7
    /// against `tanhf`; the gated feed-forward of T5 v1.1 / FLAN-T5 calls it per row.
    static func gatedGELUTanh(
        gate: UnsafePointer<Float>, linear: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, count: Int
    ) {
        let g = UnsafeRawPointer(gate)
        let l = UnsafeRawPointer(linear)
        let o = UnsafeMutableRawPointer(output)
        var j = 0
        while j + 8 <= count {
            let x = g.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            var u = 0.79788456080286535588 * (x + 0.044715 * x * x * x)
            u.clamp(lowerBound: SIMD8(repeating: -10), upperBound: SIMD8(repeating: 10))
            let tanh = 1 - 2 / (Softmax.exp8(2 * u) + 1)
            let value =
                0.5 * x * (1 + tanh) * l.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            o.storeBytes(of: value, toByteOffset: j * 4, as: SIMD8<Float>.self)
            j += 8
        }
        while j < count {
            output[j] = Activation.geluTanh(gate[j]) * linear[j]
            j += 1
        }
    }
}
