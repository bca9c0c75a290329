import Foundation
import InparsTensor

/// A T5 encoder-decoder with its language-model head (`T5ForConditionalGeneration`).
///
/// Built from a Hugging Face state dict (`[String: Tensor]`, keys as in ``T5WeightNames``),
/// checked against the configuration: a missing or mis-shaped tensor is a ``ModelError``.
/// Inference only; the layers keep their checkpoint structure (one type per block kind, fused
/// projections documented) so a backward pass can be added beside each `forward`.
public struct T5Model: Sendable {
    public let configuration: T5Configuration
    public var encoder: T5Encoder
    public var decoder: T5Decoder
    /// `[vocab, dModel]`: `lm_head.weight`, or `shared.weight` when tied.
    public var lmHead: Tensor

    /// Maps a state dict onto the model.
    ///
    /// - Throws: ``ModelError/missingTensor(name:)``, ``ModelError/shapeMismatch(name:expected:actual:)``.
    public init(configuration: T5Configuration, tensors: [String: Tensor]) throws {
        try configuration.validate(path: "config.json")
        let c = configuration
        let inner = c.innerDimension
        let activation = c.denseActivation!
        func take(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard let tensor = tensors[name] else { throw ModelError.missingTensor(name: name) }
            guard tensor.shape == shape else {
                throw ModelError.shapeMismatch(name: name, expected: shape, actual: tensor.shape)
            }
            return tensor
        }
        let shared = try take(T5WeightNames.shared, [c.vocabSize, c.dModel])
        func feedForward(_ stack: String, _ block: Int) throws -> T5FeedForward {
            let name = { T5WeightNames.feedForward(stack, block: block, $0) }
            let wo = try take(name("wo"), [c.dModel, c.dFF])
            if c.isGatedActivation {
                return T5FeedForward(
                    wi: try take(name("wi_0"), [c.dFF, c.dModel]),
                    gate: try take(name("wi_1"), [c.dFF, c.dModel]), wo: wo, activation: activation)
            }
            return T5FeedForward(
                wi: try take(name("wi"), [c.dFF, c.dModel]), gate: nil, wo: wo,
                activation: activation)
        }
        func selfAttention(_ stack: String, _ block: Int) throws -> T5SelfAttention {
            let name = { T5WeightNames.selfAttention(stack, block: block, $0) }
            return T5SelfAttention(
                query: try take(name("q"), [inner, c.dModel]),
                key: try take(name("k"), [inner, c.dModel]),
                value: try take(name("v"), [inner, c.dModel]),
                output: try take(name("o"), [c.dModel, inner]),
                numHeads: c.numHeads, dKV: c.dKV)
        }
        func norm(_ stack: String, _ block: Int, _ layer: Int) throws -> Tensor {
            try take(T5WeightNames.layerNorm(stack, block: block, layer: layer), [c.dModel])
        }
        let biasShape = [c.relativeAttentionNumBuckets, c.numHeads]

        var encoderLayers = [T5EncoderLayer]()
        for block in 0..<c.numLayers {
            encoderLayers.append(
                T5EncoderLayer(
                    selfAttentionNorm: try norm("encoder", block, 0),
                    selfAttention: try selfAttention("encoder", block),
                    feedForwardNorm: try norm("encoder", block, 1),
                    feedForward: try feedForward("encoder", block), epsilon: c.layerNormEpsilon))
        }
        encoder = T5Encoder(
            embedding: shared, layers: encoderLayers,
            finalNorm: try take(T5WeightNames.finalNorm("encoder"), [c.dModel]),
            positionBias: T5RelativePositionBias(
                table: try take(T5WeightNames.relativeAttentionBias("encoder"), biasShape),
                bidirectional: true, maxDistance: c.relativeAttentionMaxDistance),
            epsilon: c.layerNormEpsilon)

        var decoderLayers = [T5DecoderLayer]()
        for block in 0..<c.numDecoderLayers {
            let cross = { T5WeightNames.crossAttention(block: block, $0) }
            decoderLayers.append(
                T5DecoderLayer(
                    selfAttentionNorm: try norm("decoder", block, 0),
                    selfAttention: try selfAttention("decoder", block),
                    crossAttentionNorm: try norm("decoder", block, 1),
                    crossAttention: T5CrossAttention(
                        query: try take(cross("q"), [inner, c.dModel]),
                        key: try take(cross("k"), [inner, c.dModel]),
                        value: try take(cross("v"), [inner, c.dModel]),
                        output: try take(cross("o"), [c.dModel, inner]),
                        numHeads: c.numHeads, dKV: c.dKV),
                    feedForwardNorm: try norm("decoder", block, 2),
                    feedForward: try feedForward("decoder", block), epsilon: c.layerNormEpsilon))
        }
        decoder = T5Decoder(
            embedding: shared, layers: decoderLayers,
            finalNorm: try take(T5WeightNames.finalNorm("decoder"), [c.dModel]),
            positionBias: T5RelativePositionBias(
                table: try take(T5WeightNames.relativeAttentionBias("decoder"), biasShape),
                bidirectional: false, maxDistance: c.relativeAttentionMaxDistance),
            epsilon: c.layerNormEpsilon)

        // An untied head is stored as `lm_head.weight`; a tied one may be absent or a copy.
        if tensors[T5WeightNames.lmHead] != nil || !c.tieWordEmbeddings {
            lmHead = try take(T5WeightNames.lmHead, [c.vocabSize, c.dModel])
        } else {
            lmHead = shared
        }
        self.configuration = configuration
    }

    /// Encodes token sequences of unequal lengths (see ``T5Encoder/forward(_:padID:)``).
    public func encode(_ sequences: [[Int32]]) -> T5EncoderOutput {
        encoder.forward(sequences, padID: Int32(configuration.padTokenID))
    }

    /// The factor applied to decoder outputs before the LM head: `dModel^-0.5` for T5 v1.0
    /// (tied embeddings), 1 otherwise.
    public var outputScale: Float {
        configuration.scaleDecoderOutputs ? 1 / Float(configuration.dModel).squareRoot() : 1
    }

    /// Vocabulary logits of decoder hidden states.
    ///
    /// - Parameter hidden: `[..., dModel]` from the decoder.
    /// - Returns: `[..., vocab]`.
    public func logits(_ hidden: Tensor) -> Tensor {
        var result = Tensor.linear(hidden, weight: lmHead)
        if configuration.scaleDecoderOutputs { result.scale(by: outputScale) }
        return result
    }

    /// The LM-head rows of a few tokens, with the output scale folded in, so that
    /// `Tensor.linear(hidden, weight: rows)` gives exactly those logits (e.g. monoT5's true/false).
    ///
    /// - Returns: `[ids.count, dModel]`.
    public func lmHeadRows(_ ids: [Int]) -> Tensor {
        var rows = Tensor.embedding(lmHead, ids: ids.map { Int32($0) })
        rows.scale(by: outputScale)
        return rows
    }

    /// Teacher-forced decoder logits for right-padded decoder inputs (non-incremental use).
    ///
    /// - Parameters:
    ///   - decoderInputs: per batch entry, decoder input ids starting with the decoder start
    ///     token; unequal lengths are padded and masked.
    ///   - encoderOutput: from ``encode(_:)``, same batch size.
    ///   - projectMemory: see ``T5Decoder/makeCache(encoderOutput:capacity:projectMemory:)``.
    /// - Returns: `[batch, maxDecoderLength, vocab]`.
    public func decoderLogits(
        decoderInputs: [[Int32]], encoderOutput: T5EncoderOutput, projectMemory: Bool = true
    ) -> Tensor {
        precondition(
            decoderInputs.count == encoderOutput.batch,
            "decoder batch \(decoderInputs.count) vs encoder \(encoderOutput.batch)")
        let lengths = decoderInputs.map(\.count)
        let maxLength = lengths.max() ?? 0
        var ids = [Int32]()
        ids.reserveCapacity(decoderInputs.count * maxLength)
        for row in decoderInputs {
            ids.append(contentsOf: row)
            ids.append(
                contentsOf: repeatElement(
                    Int32(configuration.padTokenID), count: maxLength - row.count))
        }
        var cache = decoder.makeCache(
            encoderOutput: encoderOutput, capacity: maxLength, projectMemory: projectMemory)
        let hidden = decoder.forward(
            ids, stepLength: maxLength, cache: &cache,
            lengths: lengths.allSatisfy { $0 == maxLength } ? nil : lengths)
        return logits(hidden)
    }
}
