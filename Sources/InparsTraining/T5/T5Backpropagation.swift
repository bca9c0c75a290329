import InparsModels
import InparsTensor

/// Loss and gradients of a whole ``T5Model`` on one batch: the T5 forward pass with its
/// activations saved, then the layer-level backward passes in reverse.
///
/// Gradients are returned as a model-shaped value (``T5Model`` whose tensors hold gradients),
/// so the fused layouts match (`[3·inner, dModel]` q/k/v, stacked `wi_0`/`wi_1`). Tied tensors:
/// `encoder.embedding`, `decoder.embedding` and (when tied) `lmHead` are one weight, `shared`;
/// each of them holds that weight's full gradient. The relative-position tables get the sum
/// over all layers of their stack.
///
/// Dropout follows Hugging Face T5 in training mode: after the embeddings, on the attention
/// probabilities, on each sublayer's output before the residual add, between the feed-forward
/// activation and `wo`, and after each stack's final norm, all with `rate`; masks come from
/// `generator` (one seed per site, see ``DropoutMask``). With `rate == 0` nothing is drawn.
public enum T5Backpropagation {
    /// - Returns: the mean cross-entropy over non-ignored label tokens, the number of those
    ///   tokens, and the gradients.
    public static func lossAndGradients(
        model: T5Model, batch: T5TrainingBatch, dropoutRate: Float = 0,
        crossAttention: T5CrossAttentionStrategy = .automatic,
        using generator: inout some RandomNumberGenerator
    ) -> (loss: Float, tokens: Int, gradients: T5Model) {
        var graph = T5ForwardGraph(
            model: model, batch: batch, dropoutRate: dropoutRate, crossAttention: crossAttention,
            generator: &generator)
        var gradients = model.zeroGradients()
        let result = graph.run(gradientScale: 1, into: &gradients)
        return (result.loss, result.tokens, gradients)
    }

    /// Adds `gradientScale ×` this batch's gradients into `gradients` (gradient accumulation
    /// over micro-batches: pass `1 / accumulationSteps`, or a token-count ratio).
    ///
    /// - Parameter gradients: model-shaped accumulators (``T5Model/zeroGradients()`` at the
    ///   start of an optimizer step); tied copies must be equal on entry and stay equal.
    /// - Returns: the batch's unscaled mean loss and its number of target tokens.
    public static func accumulateGradients(
        model: T5Model, batch: T5TrainingBatch, dropoutRate: Float = 0,
        crossAttention: T5CrossAttentionStrategy = .automatic, gradientScale: Float = 1,
        into gradients: inout T5Model, using generator: inout some RandomNumberGenerator
    ) -> (loss: Float, tokens: Int) {
        var graph = T5ForwardGraph(
            model: model, batch: batch, dropoutRate: dropoutRate, crossAttention: crossAttention,
            generator: &generator)
        return graph.run(gradientScale: gradientScale, into: &gradients)
    }

    /// The loss alone, through the same training forward (for checks and evaluation).
    public static func loss(
        model: T5Model, batch: T5TrainingBatch, dropoutRate: Float = 0,
        crossAttention: T5CrossAttentionStrategy = .automatic,
        using generator: inout some RandomNumberGenerator
    ) -> Float {
        var graph = T5ForwardGraph(
            model: model, batch: batch, dropoutRate: dropoutRate, crossAttention: crossAttention,
            generator: &generator)
        return Tensor.crossEntropy(logits: graph.forward(), targets: graph.targets).loss
    }
}

extension T5Model {
    /// A model-shaped value with every tensor zero: the gradient accumulator.
    public func zeroGradients() -> T5Model {
        var g = self
        func zero(_ t: inout Tensor) { t = Tensor(zeros: t.shape) }
        zero(&g.encoder.embedding)
        zero(&g.decoder.embedding)
        zero(&g.lmHead)
        zero(&g.encoder.finalNorm)
        zero(&g.decoder.finalNorm)
        zero(&g.encoder.positionBias.table)
        zero(&g.decoder.positionBias.table)
        for i in g.encoder.layers.indices {
            zero(&g.encoder.layers[i].selfAttentionNorm)
            zero(&g.encoder.layers[i].selfAttention.queryKeyValue)
            zero(&g.encoder.layers[i].selfAttention.output)
            zero(&g.encoder.layers[i].feedForwardNorm)
            zero(&g.encoder.layers[i].feedForward.inputWeight)
            zero(&g.encoder.layers[i].feedForward.outputWeight)
        }
        for i in g.decoder.layers.indices {
            zero(&g.decoder.layers[i].selfAttentionNorm)
            zero(&g.decoder.layers[i].selfAttention.queryKeyValue)
            zero(&g.decoder.layers[i].selfAttention.output)
            zero(&g.decoder.layers[i].crossAttentionNorm)
            zero(&g.decoder.layers[i].crossAttention.query)
            zero(&g.decoder.layers[i].crossAttention.keyValue)
            zero(&g.decoder.layers[i].crossAttention.output)
            zero(&g.decoder.layers[i].feedForwardNorm)
            zero(&g.decoder.layers[i].feedForward.inputWeight)
            zero(&g.decoder.layers[i].feedForward.outputWeight)
        }
        return g
    }

    /// Whether the LM head is the shared embedding (T5 v1.0) rather than its own weight.
    public var hasTiedHead: Bool { lmHead == encoder.embedding }
}

/// The dense relative position bias `[1, numHeads, length, length]` of a stack and the bucket
/// of each `(query, key)` pair (for the table's backward).
func denseRelativeBias(_ bias: T5RelativePositionBias, length: Int) -> (
    bias: Tensor, buckets: [Int32]
) {
    var buckets = [Int32](repeating: 0, count: length * length)
    for i in 0..<length {
        for j in 0..<length {
            buckets[i * length + j] = Int32(
                T5RelativePositionBias.bucket(
                    relativePosition: j - i, bidirectional: bias.bidirectional,
                    numBuckets: bias.numBuckets, maxDistance: bias.maxDistance))
        }
    }
    let heads = bias.numHeads
    var dense = Tensor(zeros: [1, heads, length, length])
    for h in 0..<heads {
        for p in 0..<(length * length) {
            dense.storage[h * length * length + p] = bias.table.storage[Int(buckets[p]) * heads + h]
        }
    }
    return (dense, buckets)
}

/// The saved activations of one training forward pass.
struct T5ForwardGraph {
    struct EncoderLayerState {
        var attentionInput: Tensor
        var attention: T5SelfAttentionGraph
        var attentionDropout: DropoutMask
        var feedForwardInput: Tensor
        var feedForward: T5FeedForwardGraph
        var feedForwardDropout: DropoutMask
    }

    struct DecoderLayerState {
        var attentionInput: Tensor
        var attention: T5SelfAttentionGraph
        var attentionDropout: DropoutMask
        var crossInput: Tensor
        var cross: CrossState
        var crossDropout: DropoutMask
        var feedForwardInput: Tensor
        var feedForward: T5FeedForwardGraph
        var feedForwardDropout: DropoutMask
    }

    let model: T5Model
    let batchSize: Int
    let encoderIDs: [Int32]
    let encoderLength: Int
    let encoderMask: Tensor
    let encoderBias: Tensor
    let encoderBuckets: [Int32]
    let decoderIDs: [Int32]
    let decoderLength: Int
    let decoderMask: Tensor
    let decoderBias: Tensor
    let decoderBuckets: [Int32]
    let targets: [Int32]
    let dropoutRate: Float
    let absorbCrossAttention: Bool
    var seeds: [UInt64] = []
    var nextSeed = 0

    var encoderEmbeddingDropout = DropoutMask(rate: 0, seed: 0)
    var encoderLayers: [EncoderLayerState] = []
    var encoderFinalInput = Tensor(zeros: [0])
    var encoderFinalDropout = DropoutMask(rate: 0, seed: 0)
    var encoderOutput = Tensor(zeros: [0])
    var decoderEmbeddingDropout = DropoutMask(rate: 0, seed: 0)
    var decoderLayers: [DecoderLayerState] = []
    var decoderFinalInput = Tensor(zeros: [0])
    var decoderFinalDropout = DropoutMask(rate: 0, seed: 0)
    var decoderOutput = Tensor(zeros: [0])

    enum CrossState {
        case projected(T5CrossAttentionGraph)
        case absorbed(T5AbsorbedCrossAttentionGraph)
    }

    init(
        model: T5Model, batch: T5TrainingBatch, dropoutRate: Float,
        crossAttention: T5CrossAttentionStrategy, generator: inout some RandomNumberGenerator
    ) {
        let c = model.configuration
        self.model = model
        batchSize = batch.size
        self.dropoutRate = dropoutRate
        let encoder = batch.paddedInputs(padID: Int32(c.padTokenID))
        encoderIDs = encoder.ids
        encoderLength = encoder.length
        encoderMask = AttentionMask.padding(lengths: encoder.lengths, maxLength: encoder.length)
        (encoderBias, encoderBuckets) = denseRelativeBias(
            model.encoder.positionBias, length: encoder.length)
        let decoder = batch.decoderSequences(
            startID: Int32(c.decoderStartTokenID), padID: Int32(c.padTokenID))
        decoderIDs = decoder.decoderInputs
        decoderLength = decoder.length
        targets = decoder.targets
        switch crossAttention {
        case .automatic: absorbCrossAttention = decoder.length <= c.dKV
        case .projected: absorbCrossAttention = false
        case .absorbed: absorbCrossAttention = true
        }
        decoderMask = AttentionMask.causal(queryLength: decoder.length).reshaped([
            1, 1, decoder.length, decoder.length,
        ])
        (decoderBias, decoderBuckets) = denseRelativeBias(
            model.decoder.positionBias, length: decoder.length)
        if dropoutRate > 0 {
            let sites = 3 + model.encoder.layers.count * 4 + model.decoder.layers.count * 6 + 1
            seeds = (0..<sites).map { _ in generator.next() }
        }
    }

    mutating func mask() -> DropoutMask {
        guard dropoutRate > 0 else { return DropoutMask(rate: 0, seed: 0) }
        defer { nextSeed += 1 }
        return DropoutMask(rate: dropoutRate, seed: seeds[nextSeed])
    }

    /// Forward, loss, and backward into `gradients`.
    mutating func run(gradientScale: Float, into gradients: inout T5Model) -> (
        loss: Float, tokens: Int
    ) {
        let logits = forward()
        var result = Tensor.crossEntropy(logits: logits, targets: targets)
        if gradientScale != 1 { result.gradient.scale(by: gradientScale) }
        backward(result.gradient, into: &gradients)
        return (result.loss, result.count)
    }

    /// Runs encoder, decoder and LM head; returns logits `[batch · decoderLength, vocab]`.
    mutating func forward() -> Tensor {
        let epsilon = model.encoder.epsilon
        // Encoder.
        encoderEmbeddingDropout = mask()
        var hidden = encoderEmbeddingDropout.applied(
            to: Tensor.embedding(
                model.encoder.embedding, ids: encoderIDs, idShape: [batchSize, encoderLength]))
        for layer in model.encoder.layers {
            let attentionInput = hidden
            let (attention, attended) = T5SelfAttentionGraph.forward(
                layer.selfAttention,
                input: attentionInput.rmsNormalized(
                    weight: layer.selfAttentionNorm, epsilon: epsilon),
                bias: encoderBias, mask: encoderMask, dropout: mask())
            let attentionDropout = mask()
            hidden = hidden + attentionDropout.applied(to: attended)
            let feedForwardInput = hidden
            let (feedForward, fed) = T5FeedForwardGraph.forward(
                layer.feedForward,
                input: feedForwardInput.rmsNormalized(
                    weight: layer.feedForwardNorm, epsilon: epsilon),
                dropout: mask())
            let feedForwardDropout = mask()
            hidden = hidden + feedForwardDropout.applied(to: fed)
            encoderLayers.append(
                EncoderLayerState(
                    attentionInput: attentionInput, attention: attention,
                    attentionDropout: attentionDropout,
                    feedForwardInput: feedForwardInput, feedForward: feedForward,
                    feedForwardDropout: feedForwardDropout))
        }
        encoderFinalInput = hidden
        encoderFinalDropout = mask()
        encoderOutput = encoderFinalDropout.applied(
            to: hidden.rmsNormalized(weight: model.encoder.finalNorm, epsilon: epsilon))

        // Decoder.
        decoderEmbeddingDropout = mask()
        hidden = decoderEmbeddingDropout.applied(
            to: Tensor.embedding(
                model.decoder.embedding, ids: decoderIDs, idShape: [batchSize, decoderLength]))
        for layer in model.decoder.layers {
            let attentionInput = hidden
            let (attention, attended) = T5SelfAttentionGraph.forward(
                layer.selfAttention,
                input: attentionInput.rmsNormalized(
                    weight: layer.selfAttentionNorm, epsilon: epsilon),
                bias: decoderBias, mask: decoderMask, dropout: mask())
            let attentionDropout = mask()
            hidden = hidden + attentionDropout.applied(to: attended)
            let crossInput = hidden
            let normedCross = crossInput.rmsNormalized(
                weight: layer.crossAttentionNorm, epsilon: epsilon)
            let cross: CrossState
            let crossed: Tensor
            if absorbCrossAttention {
                let (graph, output) = T5AbsorbedCrossAttentionGraph.forward(
                    layer.crossAttention, input: normedCross, encoderHidden: encoderOutput,
                    mask: encoderMask, dropout: mask())
                (cross, crossed) = (.absorbed(graph), output)
            } else {
                let (graph, output) = T5CrossAttentionGraph.forward(
                    layer.crossAttention, input: normedCross, encoderHidden: encoderOutput,
                    mask: encoderMask, dropout: mask())
                (cross, crossed) = (.projected(graph), output)
            }
            let crossDropout = mask()
            hidden = hidden + crossDropout.applied(to: crossed)
            let feedForwardInput = hidden
            let (feedForward, fed) = T5FeedForwardGraph.forward(
                layer.feedForward,
                input: feedForwardInput.rmsNormalized(
                    weight: layer.feedForwardNorm, epsilon: epsilon),
                dropout: mask())
            let feedForwardDropout = mask()
            hidden = hidden + feedForwardDropout.applied(to: fed)
            decoderLayers.append(
                DecoderLayerState(
                    attentionInput: attentionInput, attention: attention,
                    attentionDropout: attentionDropout,
                    crossInput: crossInput, cross: cross, crossDropout: crossDropout,
                    feedForwardInput: feedForwardInput, feedForward: feedForward,
                    feedForwardDropout: feedForwardDropout))
        }
        decoderFinalInput = hidden
        decoderFinalDropout = mask()
        decoderOutput = decoderFinalDropout.applied(
            to: hidden.rmsNormalized(weight: model.decoder.finalNorm, epsilon: epsilon))
        let rows = decoderOutput.reshaped([batchSize * decoderLength, model.configuration.dModel])
        return model.logits(rows)
    }

    /// Back-propagates `dLogits` (`[batch · decoderLength, vocab]`) through everything.
    /// Adds the gradients of everything into `g` (model-shaped). The shared embedding's
    /// contributions (encoder, decoder, tied head) all go into `g.encoder.embedding`, which is
    /// then copied into the other copies.
    /// Backward through a self-attention sublayer `h + Dropout(Attention(RMSNorm(h)))`, the
    /// same in the encoder and the decoder: returns the gradient reaching `h` (residual
    /// included) and adds the attention, norm and relative-bias gradients into `g` at the
    /// given paths.
    private func selfAttentionSublayerBackward(
        _ dHidden: Tensor, dropout: DropoutMask, graph: T5SelfAttentionGraph, input: Tensor,
        attention: T5SelfAttention, normWeight: Tensor, buckets: [Int32], epsilon: Float,
        into g: inout T5Model, attentionGradient: WritableKeyPath<T5Model, T5SelfAttention>,
        normGradient: WritableKeyPath<T5Model, Tensor>,
        tableGradient: WritableKeyPath<T5Model, Tensor>
    ) -> Tensor {
        let branch = dropout.applied(to: dHidden)
        let result = graph.backward(
            branch, attention: attention, gradients: &g[keyPath: attentionGradient])
        Tensor.relativePositionBiasBackward(
            biasGradient: result.bias, buckets: buckets, tableGradient: &g[keyPath: tableGradient])
        return dHidden
            + Tensor.rmsNormBackward(
                outputGradient: result.input, input: input, weight: normWeight, epsilon: epsilon,
                weightGradient: &g[keyPath: normGradient])
    }

    func backward(_ dLogits: Tensor, into g: inout T5Model) {
        let tied = model.hasTiedHead
        let epsilon = model.encoder.epsilon
        let dModel = model.configuration.dModel
        let rows = decoderOutput.reshaped([batchSize * decoderLength, dModel])
        var dHidden: Tensor
        let headPath: WritableKeyPath<T5Model, Tensor> = tied ? \.encoder.embedding : \.lmHead
        dHidden = Tensor.linearBackward(
            outputGradient: dLogits, input: rows, weight: model.lmHead,
            alpha: model.configuration.scaleDecoderOutputs ? model.outputScale : 1,
            weightGradient: &g[keyPath: headPath])
        dHidden.reshape([batchSize, decoderLength, dModel])

        // Decoder, in reverse.
        decoderFinalDropout.apply(to: &dHidden)
        dHidden = Tensor.rmsNormBackward(
            outputGradient: dHidden, input: decoderFinalInput, weight: model.decoder.finalNorm,
            epsilon: epsilon,
            weightGradient: &g.decoder.finalNorm)
        var dEncoderOutput = Tensor(zeros: encoderOutput.shape)
        for index in model.decoder.layers.indices.reversed() {
            let layer = model.decoder.layers[index]
            let state = decoderLayers[index]
            // Feed-forward sublayer.
            var branch = state.feedForwardDropout.applied(to: dHidden)
            branch = state.feedForward.backward(
                branch, block: layer.feedForward, gradients: &g.decoder.layers[index].feedForward)
            dHidden =
                dHidden
                + Tensor.rmsNormBackward(
                    outputGradient: branch, input: state.feedForwardInput,
                    weight: layer.feedForwardNorm, epsilon: epsilon,
                    weightGradient: &g.decoder.layers[index].feedForwardNorm)
            // Cross-attention sublayer.
            branch = state.crossDropout.applied(to: dHidden)
            let cross: (input: Tensor, encoderHidden: Tensor)
            switch state.cross {
            case .projected(let graph):
                cross = graph.backward(
                    branch, attention: layer.crossAttention,
                    gradients: &g.decoder.layers[index].crossAttention)
            case .absorbed(let graph):
                cross = graph.backward(
                    branch, attention: layer.crossAttention,
                    gradients: &g.decoder.layers[index].crossAttention)
            }
            dEncoderOutput.add(cross.encoderHidden)
            dHidden =
                dHidden
                + Tensor.rmsNormBackward(
                    outputGradient: cross.input, input: state.crossInput,
                    weight: layer.crossAttentionNorm, epsilon: epsilon,
                    weightGradient: &g.decoder.layers[index].crossAttentionNorm)
            // Self-attention sublayer.
            dHidden = selfAttentionSublayerBackward(
                dHidden, dropout: state.attentionDropout, graph: state.attention,
                input: state.attentionInput, attention: layer.selfAttention,
                normWeight: layer.selfAttentionNorm, buckets: decoderBuckets, epsilon: epsilon,
                into: &g, attentionGradient: \.decoder.layers[index].selfAttention,
                normGradient: \.decoder.layers[index].selfAttentionNorm,
                tableGradient: \.decoder.positionBias.table)
        }
        decoderEmbeddingDropout.apply(to: &dHidden)
        Tensor.embeddingBackward(
            outputGradient: dHidden, ids: decoderIDs, tableGradient: &g.encoder.embedding)

        // Encoder, in reverse.
        encoderFinalDropout.apply(to: &dEncoderOutput)
        dHidden = Tensor.rmsNormBackward(
            outputGradient: dEncoderOutput, input: encoderFinalInput,
            weight: model.encoder.finalNorm, epsilon: epsilon,
            weightGradient: &g.encoder.finalNorm)
        for index in model.encoder.layers.indices.reversed() {
            let layer = model.encoder.layers[index]
            let state = encoderLayers[index]
            var branch = state.feedForwardDropout.applied(to: dHidden)
            branch = state.feedForward.backward(
                branch, block: layer.feedForward, gradients: &g.encoder.layers[index].feedForward)
            dHidden =
                dHidden
                + Tensor.rmsNormBackward(
                    outputGradient: branch, input: state.feedForwardInput,
                    weight: layer.feedForwardNorm, epsilon: epsilon,
                    weightGradient: &g.encoder.layers[index].feedForwardNorm)
            dHidden = selfAttentionSublayerBackward(
                dHidden, dropout: state.attentionDropout, graph: state.attention,
                input: state.attentionInput, attention: layer.selfAttention,
                normWeight: layer.selfAttentionNorm, buckets: encoderBuckets, epsilon: epsilon,
                into: &g, attentionGradient: \.encoder.layers[index].selfAttention,
                normGradient: \.encoder.layers[index].selfAttentionNorm,
                tableGradient: \.encoder.positionBias.table)
        }
        encoderEmbeddingDropout.apply(to: &dHidden)
        Tensor.embeddingBackward(
            outputGradient: dHidden, ids: encoderIDs, tableGradient: &g.encoder.embedding)

        // The shared embedding: every copy holds the full gradient.
        g.decoder.embedding = g.encoder.embedding
        if tied { g.lmHead = g.encoder.embedding }
    }
}
