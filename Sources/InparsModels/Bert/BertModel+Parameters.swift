import InparsTensor

/// The one list of a BERT-style cross-encoder's weights, in Hugging Face's state-dict order:
/// building it yields the ``ParameterTable`` and the layers that read its slots.
///
/// q, k and v are one fused slot (weights `[3·hidden, hidden]`, biases `[3·hidden]`), so one
/// GEMM projects all three. Names carry the variant's prefix (`bert.`, `electra.`, `roberta.`
/// for RoBERTa and XLM-R); the head's names are the variant's (see ``BertClassificationHead``).
struct BertArchitecture {
    var table = ParameterTable()
    let c: BertConfiguration

    static func build(_ c: BertConfiguration) -> (
        table: ParameterTable, embeddings: BertEmbeddings, layers: [BertLayer],
        head: BertClassificationHead
    ) {
        var builder = BertArchitecture(c: c)
        let embeddings = builder.embeddings()
        let layers = (0..<c.numLayers).map { builder.layer($0) }
        let head = builder.head()
        return (builder.table, embeddings, layers, head)
    }

    var prefix: String { c.variant.prefix }

    mutating func affine(_ name: String, out: Int, in inFeatures: Int) -> AffineLayer {
        AffineLayer(
            weight: table.add("\(name).weight", shape: [out, inFeatures]),
            bias: table.add("\(name).bias", shape: [out]))
    }

    mutating func layerNorm(_ name: String, width: Int) -> LayerNormLayer {
        LayerNormLayer(
            weight: table.add("\(name).weight", shape: [width]),
            bias: table.add("\(name).bias", shape: [width]), epsilon: c.layerNormEpsilon)
    }

    mutating func embeddings() -> BertEmbeddings {
        let name = "\(prefix).embeddings"
        let e = c.embeddingSize
        let word = table.add("\(name).word_embeddings.weight", shape: [c.vocabSize, e])
        let position = table.add(
            "\(name).position_embeddings.weight", shape: [c.maxPositionEmbeddings, e])
        let tokenType = table.add(
            "\(name).token_type_embeddings.weight", shape: [c.typeVocabSize, e])
        let norm = layerNorm("\(name).LayerNorm", width: e)
        let project =
            e == c.hiddenSize
            ? nil : affine("\(prefix).embeddings_project", out: c.hiddenSize, in: e)
        return BertEmbeddings(
            word: word, position: position, tokenType: tokenType, norm: norm, project: project,
            positionOffset: c.positionOffset)
    }

    mutating func layer(_ index: Int) -> BertLayer {
        let name = "\(prefix).encoder.layer.\(index)"
        let h = c.hiddenSize
        let parts = ["query", "key", "value"].map { "\(name).attention.self.\($0)" }
        let qkv = AffineLayer(
            weight: table.addFused(
                "\(name).attention.self.qkv.weight",
                parts: parts.map { (name: "\($0).weight", shape: [h, h]) }),
            bias: table.addFused(
                "\(name).attention.self.qkv.bias",
                parts: parts.map { (name: "\($0).bias", shape: [h]) }))
        let attentionOutput = affine("\(name).attention.output.dense", out: h, in: h)
        let attentionNorm = layerNorm("\(name).attention.output.LayerNorm", width: h)
        let intermediate = affine("\(name).intermediate.dense", out: c.intermediateSize, in: h)
        let output = affine("\(name).output.dense", out: h, in: c.intermediateSize)
        let outputNorm = layerNorm("\(name).output.LayerNorm", width: h)
        return BertLayer(
            queryKeyValue: qkv, attentionOutput: attentionOutput, attentionNorm: attentionNorm,
            intermediate: intermediate, output: output, outputNorm: outputNorm,
            numHeads: c.numHeads, activation: c.activation)
    }

    mutating func head() -> BertClassificationHead {
        let h = c.hiddenSize
        switch c.variant {
        case .bert:
            return BertClassificationHead(
                dense: affine("bert.pooler.dense", out: h, in: h),
                out: affine("classifier", out: c.numLabels, in: h), activation: .tanh,
                dropsInput: false)
        case .electra, .roberta:
            return BertClassificationHead(
                dense: affine("classifier.dense", out: h, in: h),
                out: affine("classifier.out_proj", out: c.numLabels, in: h),
                activation: c.variant == .electra ? .gelu : .tanh, dropsInput: true)
        }
    }
}
