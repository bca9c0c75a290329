import InparsTensor

/// The one list of T5's weights: building it yields the ``ParameterTable`` (checkpoint names,
/// shapes, slots, the tied embedding) and the layers that read those slots, in one pass in
/// Hugging Face's state-dict order.
///
/// Every checkpoint tensor is named here once (through ``T5WeightNames``); loading, checkpoint
/// writing, gradients, clipping and the optimizers all walk the resulting table.
struct T5Architecture {
    var table = ParameterTable()
    let c: T5Configuration
    var inner: Int { c.innerDimension }

    /// - Parameter tiedHead: the LM head is the shared embedding (`lm_head.weight` is then a
    ///   tied name, not a tensor of its own).
    static func build(_ c: T5Configuration, tiedHead: Bool) -> (
        table: ParameterTable, encoder: T5Encoder, decoder: T5Decoder, lmHead: Int
    ) {
        var builder = T5Architecture(c: c)
        let tied = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]
        let shared = builder.table.add(
            T5WeightNames.shared, shape: [c.vocabSize, c.dModel],
            tiedNames: tied + (tiedHead ? [T5WeightNames.lmHead] : []))
        let encoder = builder.encoder(embedding: shared)
        let decoder = builder.decoder(embedding: shared)
        let lmHead =
            tiedHead
            ? shared : builder.table.add(T5WeightNames.lmHead, shape: [c.vocabSize, c.dModel])
        return (builder.table, encoder, decoder, lmHead)
    }

    mutating func encoder(embedding: Int) -> T5Encoder {
        var bias = -1
        let layers = (0..<c.numLayers).map { block in
            let attention = selfAttention("encoder", block, bias: &bias)
            let attentionNorm = norm("encoder", block, 0)
            let fed = feedForward("encoder", block)
            return T5EncoderLayer(
                selfAttentionNorm: attentionNorm, selfAttention: attention,
                feedForwardNorm: norm("encoder", block, 1), feedForward: fed,
                epsilon: c.layerNormEpsilon)
        }
        return T5Encoder(
            stack: stack("encoder", embedding: embedding, bias: bias, bidirectional: true),
            layers: layers)
    }

    mutating func decoder(embedding: Int) -> T5Decoder {
        var bias = -1
        let layers = (0..<c.numDecoderLayers).map { block in
            let attention = selfAttention("decoder", block, bias: &bias)
            let attentionNorm = norm("decoder", block, 0)
            let cross = { T5WeightNames.crossAttention(block: block, $0) }
            let crossAttention = T5CrossAttention(
                query: table.add(cross("q"), shape: [inner, c.dModel]),
                keyValue: table.addFused(
                    "decoder.block.\(block).layer.1.EncDecAttention.kv",
                    parts: [(cross("k"), [inner, c.dModel]), (cross("v"), [inner, c.dModel])]),
                output: table.add(cross("o"), shape: [c.dModel, inner]), numHeads: c.numHeads,
                dKV: c.dKV)
            let crossNorm = norm("decoder", block, 1)
            let fed = feedForward("decoder", block)
            return T5DecoderLayer(
                selfAttentionNorm: attentionNorm, selfAttention: attention,
                crossAttentionNorm: crossNorm, crossAttention: crossAttention,
                feedForwardNorm: norm("decoder", block, 2), feedForward: fed,
                epsilon: c.layerNormEpsilon)
        }
        return T5Decoder(
            stack: stack("decoder", embedding: embedding, bias: bias, bidirectional: false),
            layers: layers)
    }

    /// A stack's shared ends: the embedding, its final norm (added after its blocks, in the
    /// checkpoint's order) and its relative-position bias table.
    mutating func stack(_ name: String, embedding: Int, bias: Int, bidirectional: Bool) -> T5Stack {
        T5Stack(
            embedding: embedding,
            finalNorm: table.add(T5WeightNames.finalNorm(name), shape: [c.dModel]),
            positionBias: positionBias(bias, bidirectional: bidirectional),
            epsilon: c.layerNormEpsilon)
    }

    /// q, k, v (one fused slot), o, and in block 0 the stack's relative bias table.
    mutating func selfAttention(_ stack: String, _ block: Int, bias: inout Int) -> T5SelfAttention {
        let name = { T5WeightNames.selfAttention(stack, block: block, $0) }
        let qkv = table.addFused(
            "\(stack).block.\(block).layer.0.SelfAttention.qkv",
            parts: ["q", "k", "v"].map { (name: name($0), shape: [inner, c.dModel]) })
        let output = table.add(name("o"), shape: [c.dModel, inner])
        if block == 0 {
            bias = table.add(
                T5WeightNames.relativeAttentionBias(stack),
                shape: [c.relativeAttentionNumBuckets, c.numHeads])
        }
        return T5SelfAttention(queryKeyValue: qkv, output: output, numHeads: c.numHeads, dKV: c.dKV)
    }

    /// `wi` (or `wi_0` and `wi_1` in one fused slot) and `wo`.
    mutating func feedForward(_ stack: String, _ block: Int) -> T5FeedForward {
        let name = { T5WeightNames.feedForward(stack, block: block, $0) }
        let shape = [c.dFF, c.dModel]
        let input =
            c.isGatedActivation
            ? table.addFused(
                String(name("wi").dropLast(".weight".count)) + "_0_1",
                parts: [(name("wi_0"), shape), (name("wi_1"), shape)])
            : table.add(name("wi"), shape: shape)
        return T5FeedForward(
            input: input, output: table.add(name("wo"), shape: [c.dModel, c.dFF]),
            activation: c.denseActivation!, isGated: c.isGatedActivation)
    }

    mutating func norm(_ stack: String, _ block: Int, _ layer: Int) -> Int {
        table.add(T5WeightNames.layerNorm(stack, block: block, layer: layer), shape: [c.dModel])
    }

    func positionBias(_ slot: Int, bidirectional: Bool) -> T5RelativePositionBias {
        T5RelativePositionBias(
            table: slot, bidirectional: bidirectional, numBuckets: c.relativeAttentionNumBuckets,
            numHeads: c.numHeads, maxDistance: c.relativeAttentionMaxDistance)
    }
}
