/// Hugging Face checkpoint keys of `T5ForConditionalGeneration`.
///
/// `stack` is `encoder` or `decoder`; `relative_attention_bias` exists only in block 0 of each
/// stack; decoder blocks have `layer.1.EncDecAttention` and put the feed-forward in `layer.2`.
/// `encoder.embed_tokens.weight` / `decoder.embed_tokens.weight` are tied to `shared.weight`
/// and may be absent; `lm_head.weight` is present when the head is untied (T5 v1.1, FLAN-T5).
public enum T5WeightNames {
    public static let shared = "shared.weight"
    public static let lmHead = "lm_head.weight"

    public static func finalNorm(_ stack: String) -> String { "\(stack).final_layer_norm.weight" }

    public static func layerNorm(_ stack: String, block: Int, layer: Int) -> String {
        "\(stack).block.\(block).layer.\(layer).layer_norm.weight"
    }

    /// `q`, `k`, `v` or `o` of the self-attention (`layer.0`).
    public static func selfAttention(_ stack: String, block: Int, _ projection: String) -> String {
        "\(stack).block.\(block).layer.0.SelfAttention.\(projection).weight"
    }

    public static func relativeAttentionBias(_ stack: String) -> String {
        "\(stack).block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    }

    /// `q`, `k`, `v` or `o` of the decoder's cross-attention (`layer.1`).
    public static func crossAttention(block: Int, _ projection: String) -> String {
        "decoder.block.\(block).layer.1.EncDecAttention.\(projection).weight"
    }

    /// `wi`, `wi_0`, `wi_1` or `wo` of the feed-forward (`layer.1` encoder, `layer.2` decoder).
    public static func feedForward(_ stack: String, block: Int, _ projection: String) -> String {
        let layer = stack == "encoder" ? 1 : 2
        return "\(stack).block.\(block).layer.\(layer).DenseReluDense.\(projection).weight"
    }
}
