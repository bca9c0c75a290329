import Foundation

/// Element-wise activation functions, as the transformer feed-forward layers name them.
public enum Activation: String, Sendable, CaseIterable {
    /// `max(0, x)`.
    case relu
    /// Exact GELU, `x · Φ(x) = 0.5 x (1 + erf(x / √2))` (PyTorch `gelu`).
    case gelu
    /// The tanh approximation, `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))` (HF `gelu_new`,
    /// used by T5 v1.1's `gated-gelu`).
    case geluTanh = "gelu_new"
    /// `x · σ(x)` (Llama's MLP).
    case silu

    /// Applies the activation to one value.
    @inlinable
    public func callAsFunction(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? x : 0
        case .gelu: return 0.5 * x * (1 + erff(x * 0.70710678118654752440))
        case .geluTanh:
            let inner: Float = 0.79788456080286535588 * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + tanhf(inner))
        case .silu: return x / (1 + expf(-x))
        }
    }

    /// Looks up an activation by its Hugging Face name (`relu`, `gelu`, `gelu_new`,
    /// `gelu_pytorch_tanh`, `silu`, `swish`).
    public init?(huggingFaceName name: String) {
        switch name {
        case "relu": self = .relu
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "silu", "swish": self = .silu
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
                for i in 0..<px.count { px[i] = 0.5 * px[i] * (1 + erff(px[i] * 0.70710678118654752440)) }
            case .geluTanh:
                for i in 0..<px.count {
                    let x = px[i]
                    px[i] = 0.5 * x * (1 + tanhf(0.79788456080286535588 * (x + 0.044715 * x * x * x)))
                }
            case .silu: for i in 0..<px.count { px[i] = px[i] / (1 + expf(-px[i])) }
            }
        }
    }
}
