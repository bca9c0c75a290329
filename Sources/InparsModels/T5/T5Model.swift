import Foundation
import InparsTensor

/// A T5 encoder-decoder with its language-model head (`T5ForConditionalGeneration`), for
/// inference and training.
///
/// Built from a Hugging Face state dict (`[String: Tensor]`, keys as in ``T5WeightNames``),
/// checked against the configuration: a missing or mis-shaped tensor is a ``ModelError``. The
/// weights live in one ``ParameterStore`` described by the model's ``ParameterTable``
/// (`T5Model+Parameters.swift`); each layer holds the slots it reads. The same layers run
/// inference and training: given a training pass, each `forward` also returns what its
/// `backward` needs (`T5Model+Training.swift`).
public struct T5Model: Sendable {
    public let configuration: T5Configuration
    /// The weights, one tensor per slot of ``parameterTable``. Read-only; change them through
    /// ``updateParameters(_:)``.
    public private(set) var parameters: ParameterStore
    let encoder: T5Encoder
    let decoder: T5Decoder
    /// Slot of the LM head `[vocab, dModel]`: `lm_head.weight`, or the shared embedding's slot
    /// when the head is tied.
    let lmHead: Int

    /// Maps a state dict onto the model.
    ///
    /// The LM head is tied to `shared.weight` when the state dict has no `lm_head.weight` (as
    /// `save_pretrained` writes a tied model) and the configuration allows it; an untied
    /// configuration without `lm_head.weight` is an error.
    ///
    /// - Throws: ``ModelError/missingTensor(name:)``, ``ModelError/shapeMismatch(name:expected:actual:)``.
    public init(configuration: T5Configuration, tensors: [String: Tensor]) throws {
        try self.init(configuration: configuration, tensors: tensors, headIsAlias: false)
    }

    /// - Parameter headIsAlias: the checkpoint stores `lm_head.weight` as a view of
    ///   `shared.weight`'s storage (a tied PyTorch `.bin`), so the head is tied although the
    ///   key is present.
    init(configuration: T5Configuration, tensors: [String: Tensor], headIsAlias: Bool) throws {
        try self.init(
            configuration: configuration, hasHead: tensors[T5WeightNames.lmHead] != nil,
            headIsAlias: headIsAlias, precision: .fp32, shape: { tensors[$0]?.shape },
            tensor: { tensors[$0]! })
    }

    /// Builds the model one checkpoint tensor at a time, converting the linear layers to
    /// `precision` as they load (``ParameterStore/init(table:precision:linearSlots:loading:)``).
    ///
    /// - Parameters:
    ///   - hasHead: the checkpoint has `lm_head.weight`.
    ///   - shape: a tensor's shape in the checkpoint, `nil` when absent.
    ///   - tensor: a tensor the checkpoint has, converted to fp32.
    public init(
        configuration: T5Configuration, hasHead: Bool, headIsAlias: Bool, precision: Precision,
        shape: (String) -> [Int]?, tensor: (String) throws -> Tensor
    ) throws {
        try configuration.validate(path: "config.json")
        let tiedHead = hasHead ? headIsAlias : configuration.tieWordEmbeddings
        guard hasHead || tiedHead else { throw ModelError.missingTensor(name: T5WeightNames.lmHead) }
        let architecture = T5Architecture.build(configuration, tiedHead: tiedHead)
        // Check every entry first, so the first missing or mis-shaped tensor in table order is
        // reported before anything is converted.
        for entry in architecture.table.entries {
            guard let actual = shape(entry.name) else {
                throw ModelError.missingTensor(name: entry.name)
            }
            guard actual == entry.shape else {
                throw ModelError.shapeMismatch(name: entry.name, expected: entry.shape, actual: actual)
            }
        }
        encoder = architecture.encoder
        decoder = architecture.decoder
        lmHead = architecture.lmHead
        self.configuration = configuration
        parameters = try ParameterStore(
            table: architecture.table, precision: precision,
            linearSlots: Self.convertibleSlots(encoder: encoder, decoder: decoder),
            refiningActivations: Self.refinedSlots(decoder: decoder),
            loading: { try tensor($0.name) })
    }

    /// The slots a bf16/int8 model converts: every self-attention q/k/v and output, the
    /// cross-attention query and output, and both feed-forward projections.
    ///
    /// Kept in fp32: the shared embedding (a lookup, and the LM head when tied), the LM head
    /// (monoT5 reads two of its rows; generation's logits decide greedy ties), norms, the
    /// relative position biases, and the cross-attention key/value weight, whose per-head rows
    /// the absorbed one-step decoder reads in place (``T5CrossAttention/forwardAbsorbed``);
    /// see `Docs/t5.md` for the measurements behind the choice.
    static func convertibleSlots(encoder: T5Encoder, decoder: T5Decoder) -> Set<Int> {
        var slots = Set<Int>()
        for layer in encoder.layers {
            slots.formUnion([layer.selfAttention.queryKeyValue, layer.selfAttention.output])
            slots.formUnion([layer.feedForward.input, layer.feedForward.output])
        }
        for layer in decoder.layers {
            slots.formUnion([layer.selfAttention.queryKeyValue, layer.selfAttention.output])
            slots.formUnion([layer.crossAttention.query, layer.crossAttention.output])
            slots.formUnion([layer.feedForward.input, layer.feedForward.output])
        }
        return slots
    }

    /// The converted slots whose int8 products refine their activations
    /// (``InparsTensor/LinearWeight/converted(to:refiningActivations:)``): the decoder's. Its
    /// products run on a few rows (one per sequence and step), so the second product costs
    /// little, and its rounding reaches the logits without averaging: with one-pass int8
    /// activations there, the decoder alone brought monoT5's Spearman against fp32 from 0.9999
    /// down to 0.9986 (t5-small shape; `Docs/t5.md`).
    static func refinedSlots(decoder: T5Decoder) -> Set<Int> {
        var slots = Set<Int>()
        for layer in decoder.layers {
            slots.formUnion([layer.selfAttention.queryKeyValue, layer.selfAttention.output])
            slots.formUnion([layer.crossAttention.query, layer.crossAttention.output])
            slots.formUnion([layer.feedForward.input, layer.feedForward.output])
        }
        return slots
    }

    /// The slots ``converted(to:)`` converts (``convertibleSlots(encoder:decoder:)``).
    public var convertibleSlots: Set<Int> { Self.convertibleSlots(encoder: encoder, decoder: decoder) }

    /// The number format of the linear layers (``Precision``); `.fp32` unless converted.
    public var precision: Precision { parameters.precision }

    /// The model for inference at `precision`: its linear layers converted once (see
    /// ``convertibleSlots(encoder:decoder:)``); fp32 returns the model itself. A converted
    /// model cannot be trained or converted again.
    public func converted(to precision: Precision) -> T5Model {
        var result = self
        result.parameters = parameters.converting(
            linearSlots: convertibleSlots, to: precision, refiningActivations: Self.refinedSlots(decoder: decoder))
        return result
    }

    /// What each stored weight is: checkpoint names, shapes, slots, the tied embedding.
    public var parameterTable: ParameterTable { parameters.table }

    /// Whether the LM head is the shared embedding (T5 v1.0) rather than its own weight:
    /// decided at load from the checkpoint's keys, never from values.
    public var hasTiedHead: Bool { lmHead == encoder.stack.embedding }

    /// Changes the weights in place (an optimizer step, a test's perturbation). The store
    /// keeps its table: only values change.
    public mutating func updateParameters<R>(_ body: (inout ParameterStore) throws -> R) rethrows
        -> R
    {
        try parameters.updateValues(body)
    }

    /// Encodes token sequences of unequal lengths (right-padded and masked internally).
    ///
    /// - Parameter sequences: token ids per batch entry, each non-empty.
    /// - Returns: hidden states `[batch, maxLength, dModel]` and the lengths.
    public func encode(_ sequences: [[Int32]]) -> T5EncoderOutput {
        encoder.forward(
            sequences, padID: Int32(configuration.padTokenID), weights: parameters, training: nil
        ).0
    }

    /// A fresh decoder cache for `encoderOutput`.
    ///
    /// - Parameters:
    ///   - capacity: positions to reserve (the cache grows when needed).
    ///   - projectMemory: project the encoder output to cross-attention keys and values once
    ///     (best for generation); `false` absorbs the projections into each step instead, which
    ///     is cheaper when only one or a few steps are decoded (monoT5 scoring).
    public func makeDecoderCache(
        encoderOutput: T5EncoderOutput, capacity: Int = 16, projectMemory: Bool = true
    ) -> T5DecoderCache {
        decoder.makeCache(
            encoderOutput: encoderOutput, weights: parameters, capacity: capacity,
            projectMemory: projectMemory)
    }

    /// Decodes `stepLength` new positions per batch entry, appending them to `cache`.
    ///
    /// - Parameters:
    ///   - tokens: `[batch, stepLength]` token ids, row-major.
    ///   - lengths: real decoder length of each entry, counting cached positions, when the
    ///     decoder input is right-padded; `nil` if not.
    /// - Returns: final-normalised hidden states `[batch, stepLength, dModel]`.
    public func decode(
        _ tokens: [Int32], stepLength: Int, cache: inout T5DecoderCache, lengths: [Int]? = nil
    ) -> Tensor {
        decoder.forward(
            tokens, stepLength: stepLength, cache: &cache, lengths: lengths, weights: parameters,
            training: nil
        ).0
    }

    /// One generation step: one token per batch entry.
    ///
    /// - Returns: `[batch, 1, dModel]`.
    public func decoderStep(_ tokens: [Int32], cache: inout T5DecoderCache) -> Tensor {
        decode(tokens, stepLength: 1, cache: &cache)
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
        var result = parameters.linear(lmHead).matmul(hidden)
        if configuration.scaleDecoderOutputs { result.scale(by: outputScale) }
        return result
    }

    /// The LM-head rows of a few tokens, with the output scale folded in, so that
    /// `LinearWeight(rows).matmul(hidden)` gives exactly those logits (e.g. monoT5's true/false).
    ///
    /// - Returns: `[ids.count, dModel]`.
    public func lmHeadRows(_ ids: [Int]) -> Tensor {
        var rows = Tensor.embedding(parameters[lmHead], ids: ids.map { Int32($0) })
        rows.scale(by: outputScale)
        return rows
    }

    /// Teacher-forced decoder logits for right-padded decoder inputs (non-incremental use).
    ///
    /// - Parameters:
    ///   - decoderInputs: per batch entry, decoder input ids starting with the decoder start
    ///     token; unequal lengths are padded and masked.
    ///   - encoderOutput: from ``encode(_:)``, same batch size.
    ///   - projectMemory: see ``makeDecoderCache(encoderOutput:capacity:projectMemory:)``.
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
        var cache = makeDecoderCache(
            encoderOutput: encoderOutput, capacity: maxLength, projectMemory: projectMemory)
        let hidden = decode(
            ids, stepLength: maxLength, cache: &cache,
            lengths: lengths.allSatisfy { $0 == maxLength } ? nil : lengths)
        return logits(hidden)
    }
}
