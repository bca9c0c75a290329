import InparsModels
import InparsTensor

extension T5Model {
    /// One checkpoint tensor as the optimizer sees it: its Hugging Face name and shape, and
    /// where its rows live in the model's (possibly fused) storage.
    ///
    /// Adafactor's statistics are per checkpoint tensor (column means, RMS), so the fused
    /// q/k/v, k/v and `wi_0`/`wi_1` weights are updated as their separate checkpoint parts, as
    /// PyTorch updates them.
    public struct CheckpointParameter: @unchecked Sendable {
        /// The checkpoint key, e.g. `encoder.block.0.layer.0.SelfAttention.k.weight`.
        public var name: String
        /// The checkpoint shape, e.g. `[inner, dModel]`.
        public var shape: [Int]
        /// The stored tensor holding it; every other path in `copies` holds the same values
        /// (the tied embedding).
        public var path: WritableKeyPath<T5Model, Tensor>
        /// Offset of its first element inside the stored tensor.
        public var offset: Int
        public var copies: [WritableKeyPath<T5Model, Tensor>]

        public var count: Int { shape.reduce(1, *) }
    }

    /// Every trainable checkpoint tensor once, in a fixed order (state-dict names).
    public var checkpointParameters: [CheckpointParameter] {
        let c = configuration
        let inner = c.innerDimension
        let d = c.dModel
        var result = [CheckpointParameter]()
        func add(
            _ name: String, _ shape: [Int], _ path: WritableKeyPath<T5Model, Tensor>,
            offsetRows: Int = 0, copies: [WritableKeyPath<T5Model, Tensor>] = []
        ) {
            let rowWidth = shape.dropFirst().reduce(1, *)
            result.append(
                CheckpointParameter(
                    name: name, shape: shape, path: path, offset: offsetRows * rowWidth,
                    copies: copies))
        }
        /// q, k, v (rows of the fused weight), o, the relative bias (block 0) and the
        /// sublayer's norm: the same for the encoder and the decoder.
        func addSelfAttention(
            _ stack: String, _ i: Int, _ attention: WritableKeyPath<T5Model, T5SelfAttention>,
            norm: WritableKeyPath<T5Model, Tensor>, bias: WritableKeyPath<T5Model, Tensor>
        ) {
            for (part, name) in ["q", "k", "v"].enumerated() {
                add(
                    T5WeightNames.selfAttention(stack, block: i, name), [inner, d],
                    attention.appending(path: \.queryKeyValue), offsetRows: part * inner)
            }
            add(
                T5WeightNames.selfAttention(stack, block: i, "o"), [d, inner],
                attention.appending(path: \.output))
            if i == 0 {
                add(
                    T5WeightNames.relativeAttentionBias(stack),
                    [c.relativeAttentionNumBuckets, c.numHeads], bias)
            }
            add(T5WeightNames.layerNorm(stack, block: i, layer: 0), [d], norm)
        }
        let tied = hasTiedHead
        add(
            T5WeightNames.shared, [c.vocabSize, d], \.encoder.embedding,
            copies: tied ? [\.decoder.embedding, \.lmHead] : [\.decoder.embedding])
        for i in encoder.layers.indices {
            let layer: WritableKeyPath<T5Model, T5EncoderLayer> = \.encoder.layers[i]
            addSelfAttention(
                "encoder", i, layer.appending(path: \.selfAttention),
                norm: layer.appending(path: \.selfAttentionNorm), bias: \.encoder.positionBias.table)
            addFeedForward("encoder", i, layer.appending(path: \.feedForward), &result)
            add(
                T5WeightNames.layerNorm("encoder", block: i, layer: 1), [d],
                layer.appending(path: \.feedForwardNorm))
        }
        add(T5WeightNames.finalNorm("encoder"), [d], \.encoder.finalNorm)
        for i in decoder.layers.indices {
            let layer: WritableKeyPath<T5Model, T5DecoderLayer> = \.decoder.layers[i]
            addSelfAttention(
                "decoder", i, layer.appending(path: \.selfAttention),
                norm: layer.appending(path: \.selfAttentionNorm), bias: \.decoder.positionBias.table)
            add(
                T5WeightNames.crossAttention(block: i, "q"), [inner, d],
                layer.appending(path: \.crossAttention.query))
            add(
                T5WeightNames.crossAttention(block: i, "k"), [inner, d],
                layer.appending(path: \.crossAttention.keyValue))
            add(
                T5WeightNames.crossAttention(block: i, "v"), [inner, d],
                layer.appending(path: \.crossAttention.keyValue), offsetRows: inner)
            add(
                T5WeightNames.crossAttention(block: i, "o"), [d, inner],
                layer.appending(path: \.crossAttention.output))
            add(
                T5WeightNames.layerNorm("decoder", block: i, layer: 1), [d],
                layer.appending(path: \.crossAttentionNorm))
            addFeedForward("decoder", i, layer.appending(path: \.feedForward), &result)
            add(
                T5WeightNames.layerNorm("decoder", block: i, layer: 2), [d],
                layer.appending(path: \.feedForwardNorm))
        }
        add(T5WeightNames.finalNorm("decoder"), [d], \.decoder.finalNorm)
        if !tied { add(T5WeightNames.lmHead, [c.vocabSize, d], \.lmHead) }
        return result
    }

    private func addFeedForward(
        _ stack: String, _ block: Int, _ path: WritableKeyPath<T5Model, T5FeedForward>,
        _ result: inout [CheckpointParameter]
    ) {
        let (d, dFF) = (configuration.dModel, configuration.dFF)
        let input = path.appending(path: \.inputWeight)
        if configuration.isGatedActivation {
            result.append(
                CheckpointParameter(
                    name: T5WeightNames.feedForward(stack, block: block, "wi_0"), shape: [dFF, d],
                    path: input, offset: 0, copies: []))
            result.append(
                CheckpointParameter(
                    name: T5WeightNames.feedForward(stack, block: block, "wi_1"), shape: [dFF, d],
                    path: input, offset: dFF * d, copies: []))
        } else {
            result.append(
                CheckpointParameter(
                    name: T5WeightNames.feedForward(stack, block: block, "wi"), shape: [dFF, d],
                    path: input, offset: 0, copies: []))
        }
        result.append(
            CheckpointParameter(
                name: T5WeightNames.feedForward(stack, block: block, "wo"), shape: [d, dFF],
                path: path.appending(path: \.outputWeight), offset: 0, copies: []))
    }

    /// The optimizer's view of the model: checkpoint names and shapes.
    public var optimizerParameters: [ParameterSpec] {
        checkpointParameters.map { ParameterSpec(name: $0.name, shape: $0.shape) }
    }

    /// One optimizer step over every checkpoint tensor, in place, from model-shaped gradients
    /// (``T5Backpropagation``); tied copies are refreshed afterwards.
    ///
    /// - Precondition: `optimizer` was built with ``optimizerParameters`` of this model.
    public mutating func apply(_ optimizer: inout some Optimizer, gradients: T5Model) {
        let parameters = checkpointParameters
        precondition(
            optimizer.parameters.map(\.name) == parameters.map(\.name),
            "optimizer was built for other parameters")
        optimizer.beginStep()
        for (index, parameter) in parameters.enumerated() {
            let range = parameter.offset..<(parameter.offset + parameter.count)
            gradients[keyPath: parameter.path].storage.withUnsafeBufferPointer { g in
                self[keyPath: parameter.path].storage.withUnsafeMutableBufferPointer { p in
                    optimizer.update(
                        UnsafeMutableBufferPointer(rebasing: p[range]),
                        gradient: UnsafeBufferPointer(rebasing: g[range]), index: index)
                }
            }
            for copy in parameter.copies { self[keyPath: copy] = self[keyPath: parameter.path] }
        }
    }

    /// Clips model-shaped gradients to global norm `maxNorm` (``GradientClipping``), counting
    /// each checkpoint tensor once.
    ///
    /// - Returns: the norm before clipping.
    @discardableResult
    public static func clipGradients(_ gradients: inout T5Model, maxNorm: Float) -> Float {
        // The norm of the per-tensor Float norms, as `clip_grad_norm_` (no copies).
        var total = 0.0
        for p in gradients.checkpointParameters {
            var sum = 0.0
            gradients[keyPath: p.path].storage.withUnsafeBufferPointer { g in
                for i in p.offset..<(p.offset + p.count) { sum += Double(g[i]) * Double(g[i]) }
            }
            let norm = Double(Float(sum.squareRoot()))
            total += norm * norm
        }
        let norm = Float(total.squareRoot())
        let coefficient = min(maxNorm / (norm + 1e-6), 1)
        if coefficient == 1 { return norm }
        for path in gradients.parameterPaths.flatMap(\.paths) {
            gradients[keyPath: path].scale(by: coefficient)
        }
        return norm
    }
}
