import InparsModels
import InparsTensor

extension T5Model {
    /// One trainable weight of the model as stored (fused layouts included) and every place it
    /// is held: the shared embedding lives in `encoder.embedding`, `decoder.embedding` and, when
    /// tied, `lmHead`.
    public struct ParameterPath: @unchecked Sendable {
        /// A readable name (checkpoint names where unfused; `qkv`, `kv`, `wi` for fused ones).
        public var name: String
        /// Every copy of the weight; the first is canonical.
        public var paths: [WritableKeyPath<T5Model, Tensor>]
    }

    /// All trainable weights, each once.
    public var parameterPaths: [ParameterPath] {
        var result = [ParameterPath]()
        var shared: [WritableKeyPath<T5Model, Tensor>] = [\.encoder.embedding, \.decoder.embedding]
        if hasTiedHead { shared.append(\.lmHead) }
        result.append(ParameterPath(name: "shared.weight", paths: shared))
        if !hasTiedHead { result.append(ParameterPath(name: "lm_head.weight", paths: [\.lmHead])) }
        for stack in ["encoder", "decoder"] {
            let root: WritableKeyPath<T5Model, T5RelativePositionBias> =
                stack == "encoder" ? \.encoder.positionBias : \.decoder.positionBias
            result.append(
                ParameterPath(
                    name: "\(stack).relative_attention_bias", paths: [root.appending(path: \.table)]
                ))
            let norm: WritableKeyPath<T5Model, Tensor> =
                stack == "encoder" ? \.encoder.finalNorm : \.decoder.finalNorm
            result.append(ParameterPath(name: "\(stack).final_layer_norm.weight", paths: [norm]))
        }
        for i in encoder.layers.indices {
            let p = "encoder.block.\(i)"
            result += [
                ParameterPath(
                    name: "\(p).layer.0.layer_norm.weight",
                    paths: [\.encoder.layers[i].selfAttentionNorm]),
                ParameterPath(
                    name: "\(p).layer.0.SelfAttention.qkv",
                    paths: [\.encoder.layers[i].selfAttention.queryKeyValue]),
                ParameterPath(
                    name: "\(p).layer.0.SelfAttention.o",
                    paths: [\.encoder.layers[i].selfAttention.output]),
                ParameterPath(
                    name: "\(p).layer.1.layer_norm.weight",
                    paths: [\.encoder.layers[i].feedForwardNorm]),
                ParameterPath(
                    name: "\(p).layer.1.DenseReluDense.wi",
                    paths: [\.encoder.layers[i].feedForward.inputWeight]),
                ParameterPath(
                    name: "\(p).layer.1.DenseReluDense.wo",
                    paths: [\.encoder.layers[i].feedForward.outputWeight]),
            ]
        }
        for i in decoder.layers.indices {
            let p = "decoder.block.\(i)"
            result += [
                ParameterPath(
                    name: "\(p).layer.0.layer_norm.weight",
                    paths: [\.decoder.layers[i].selfAttentionNorm]),
                ParameterPath(
                    name: "\(p).layer.0.SelfAttention.qkv",
                    paths: [\.decoder.layers[i].selfAttention.queryKeyValue]),
                ParameterPath(
                    name: "\(p).layer.0.SelfAttention.o",
                    paths: [\.decoder.layers[i].selfAttention.output]),
                ParameterPath(
                    name: "\(p).layer.1.layer_norm.weight",
                    paths: [\.decoder.layers[i].crossAttentionNorm]),
                ParameterPath(
                    name: "\(p).layer.1.EncDecAttention.q",
                    paths: [\.decoder.layers[i].crossAttention.query]),
                ParameterPath(
                    name: "\(p).layer.1.EncDecAttention.kv",
                    paths: [\.decoder.layers[i].crossAttention.keyValue]),
                ParameterPath(
                    name: "\(p).layer.1.EncDecAttention.o",
                    paths: [\.decoder.layers[i].crossAttention.output]),
                ParameterPath(
                    name: "\(p).layer.2.layer_norm.weight",
                    paths: [\.decoder.layers[i].feedForwardNorm]),
                ParameterPath(
                    name: "\(p).layer.2.DenseReluDense.wi",
                    paths: [\.decoder.layers[i].feedForward.inputWeight]),
                ParameterPath(
                    name: "\(p).layer.2.DenseReluDense.wo",
                    paths: [\.decoder.layers[i].feedForward.outputWeight]),
            ]
        }
        return result
    }
}
