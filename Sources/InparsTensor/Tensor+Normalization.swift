internal import CKernels
import Foundation

extension Tensor {
    /// Root-mean-square normalisation over the last axis, with T5LayerNorm / LlamaRMSNorm
    /// semantics: no mean subtraction and no bias, `y = x / √(mean(x²) + ε) · weight`.
    ///
    /// - Parameters:
    ///   - weight: `[d]`, the last extent of `self`.
    ///   - epsilon: added to the mean square (T5: 1e-6).
    /// - Returns: the same shape as `self`.
    public func rmsNormalized(weight: Tensor, epsilon: Float) -> Tensor {
        let d = lastDimension
        precondition(weight.shape == [d], "rmsNorm weight \(weight.shape) for input \(shape)")
        guard count > 0 else { return self }
        return Tensor(shape: shape) { out in
            storage.withUnsafeBufferPointer { px in
                weight.storage.withUnsafeBufferPointer { pw in
                    let (x, w, o) = (px.baseAddress!, pw.baseAddress!, out.baseAddress!)
                    RowSplit.run(rowCount, columns: d) { start, count in
                        inpars_rms_normalize_rows(
                            x + start * d, count, d, w, epsilon, o + start * d)
                    }
                }
            }
        }
    }

    /// One row of ``rmsNormalized(weight:epsilon:)``: `out[i] = x[i] / √(mean(x²) + ε) ·
    /// weight[i]` for `i < count`; `out` may be `x` (in place, e.g. Qwen3's per-head q/k norm
    /// inside a fused projection). Runs in C (`inpars_rms_normalize_rows`: the squares summed
    /// in 16 lanes, the same bits on every instruction set).
    public static func rmsNormalize(
        _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
        weight: UnsafePointer<Float>, count d: Int, epsilon: Float
    ) {
        inpars_rms_normalize_rows(x, 1, d, weight, epsilon, out)
    }

    /// Layer normalisation over the last axis: `y = (x − mean) / √(var + ε) · weight + bias`,
    /// with the biased (population) variance, as `torch.nn.LayerNorm`. Rows are reduced with
    /// eight-lane accumulators (STYLE §4); the variance is taken about the mean (two passes).
    ///
    /// - Parameters:
    ///   - weight: `[d]`.
    ///   - bias: `[d]`, or `nil` for none.
    public func layerNormalized(weight: Tensor, bias: Tensor?, epsilon: Float) -> Tensor {
        let d = lastDimension
        precondition(weight.shape == [d], "layerNorm weight \(weight.shape) for input \(shape)")
        if let bias { precondition(bias.shape == [d], "layerNorm bias \(bias.shape) for \(shape)") }
        let biasStorage = bias?.storage ?? [Float](repeating: 0, count: d)
        return Tensor(shape: shape) { out in
            storage.withUnsafeBufferPointer { px in
                weight.storage.withUnsafeBufferPointer { pw in
                    biasStorage.withUnsafeBufferPointer { pb in
                        for row in 0..<rowCount {
                            Self.layerNormRow(
                                px.baseAddress! + row * d, weight: pw.baseAddress!,
                                bias: pb.baseAddress!, output: out.baseAddress! + row * d,
                                count: d, epsilon: epsilon)
                        }
                    }
                }
            }
        }
    }

    /// One row of ``layerNormalized(weight:bias:epsilon:)``.
    @inline(__always)
    static func layerNormRow(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, count d: Int, epsilon: Float
    ) {
        let rx = UnsafeRawPointer(x)
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= d {
            lanes += rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var sum = lanes.sum()
        while i < d {
            sum += x[i]
            i += 1
        }
        let mean = sum / Float(d)
        lanes = SIMD8<Float>()
        i = 0
        while i + 8 <= d {
            let centered = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - mean
            lanes += centered * centered
            i += 8
        }
        var variance = lanes.sum()
        while i < d {
            variance += (x[i] - mean) * (x[i] - mean)
            i += 1
        }
        let inverse = 1 / (variance / Float(d) + epsilon).squareRoot()
        for j in 0..<d { output[j] = (x[j] - mean) * inverse * weight[j] + bias[j] }
    }
}
