/// The number format of a model's linear-layer weights at inference (`--precision`).
///
/// Everything outside the linear layers (embeddings, norms, softmax, attention products,
/// residuals, the LM head) stays fp32 whatever the precision; training is fp32 only.
public enum Precision: String, Sendable, CaseIterable, Codable {
    /// fp32 weights and products through OpenBLAS (`cblas_sgemm`), bit-identical to training.
    case fp32
    /// bf16 weights (rounded once at load), activations rounded to bf16 at each product, f32
    /// accumulation and output, through oneDNN. Half the weight memory.
    case bf16
    /// int8 weights quantized per output row (symmetric, `scale = max|w| / 127`), activations
    /// quantized per row at each product, s32 accumulation rescaled to f32, through oneDNN
    /// (VNNI where the CPU has it). About a quarter of the weight memory.
    case int8

    /// Bytes per stored weight element.
    public var bytesPerWeight: Int {
        switch self {
        case .fp32: 4
        case .bf16: 2
        case .int8: 1
        }
    }
}
