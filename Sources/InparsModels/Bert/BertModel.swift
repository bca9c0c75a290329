import Foundation
import InparsTensor

/// One encoder input: token ids and their token type ids (`[CLS] q [SEP] d [SEP]` with types
/// 0…0 1…1 for BERT; all 0 for RoBERTa).
public struct BertInput: Sendable, Equatable {
    public var ids: [Int32]
    public var typeIDs: [Int32]

    public init(ids: [Int32], typeIDs: [Int32]) {
        precondition(ids.count == typeIDs.count, "\(ids.count) ids with \(typeIDs.count) type ids")
        self.ids = ids
        self.typeIDs = typeIDs
    }
}

/// A BERT-style encoder with its sequence-classification head
/// (`BertForSequenceClassification`, `ElectraForSequenceClassification`,
/// `RobertaForSequenceClassification`, `XLMRobertaForSequenceClassification`): the
/// cross-encoder rerankers (MiniLM, ELECTRA, bge-reranker), for inference and training.
///
/// The weights live in one ``ParameterStore`` described by the table of
/// `BertModel+Parameters.swift`; each layer holds its slots. The same layers run inference and
/// training: given a training pass, each `forward` also returns what its `backward` needs
/// (`BertModel+Training.swift`).
public struct BertModel: Sendable {
    public let configuration: BertConfiguration
    /// The weights, one tensor per slot of ``parameterTable``; change them through
    /// ``updateParameters(_:)``.
    public private(set) var parameters: ParameterStore
    let embeddings: BertEmbeddings
    let layers: [BertLayer]
    let head: BertClassificationHead

    /// Maps a state dict onto the model.
    ///
    /// - Throws: ``ModelError/missingTensor(name:)``, ``ModelError/shapeMismatch(name:expected:actual:)``.
    public init(configuration: BertConfiguration, tensors: [String: Tensor]) throws {
        try self.init(
            configuration: configuration, precision: .fp32, shape: { tensors[$0]?.shape },
            tensor: { tensors[$0]! })
    }

    /// Builds the model one checkpoint tensor at a time, converting the encoder's linear
    /// layers (``convertibleSlots``) to `precision` as each loads, so the peak holds the
    /// converted model plus one fp32 tensor
    /// (``ParameterStore/init(table:precision:linearSlots:keepingFP32:loading:)``).
    ///
    /// - Parameters:
    ///   - shape: a tensor's shape in the checkpoint, `nil` when absent.
    ///   - tensor: a tensor the checkpoint has, converted to fp32.
    /// - Throws: ``ModelError/missingTensor(name:)``, ``ModelError/shapeMismatch(name:expected:actual:)``
    ///   for the first entry in table order, before anything loads; `tensor`'s errors.
    init(
        configuration: BertConfiguration, precision: Precision, shape: (String) -> [Int]?,
        tensor: (String) throws -> Tensor
    ) throws {
        let architecture = BertArchitecture.build(configuration)
        for entry in architecture.table.entries {
            guard let actual = shape(entry.name) else { throw ModelError.missingTensor(name: entry.name) }
            guard actual == entry.shape else {
                throw ModelError.shapeMismatch(name: entry.name, expected: entry.shape, actual: actual)
            }
        }
        parameters = try ParameterStore(
            table: architecture.table, precision: precision,
            linearSlots: Self.convertibleSlots(of: architecture.layers),
            loading: { try tensor($0.name) })
        self.configuration = configuration
        embeddings = architecture.embeddings
        layers = architecture.layers
        head = architecture.head
    }

    /// Loads `config.json` and the weights (safetensors, sharded or not, or `pytorch_model.bin`).
    /// LayerNorm parameters saved under their TensorFlow-era names (`LayerNorm.gamma`,
    /// `LayerNorm.beta`, in older BERT and ELECTRA checkpoints) are read as `weight` and `bias`,
    /// as transformers renames them on load.
    ///
    /// With a `precision` other than fp32 the encoder's linear layers are converted as each
    /// loads (``convertibleSlots``): the fp32 weights are never held whole.
    ///
    /// - Throws: ``ModelError/unsupportedPrecision(precision:isa:)`` when oneDNN has no kernel
    ///   for `precision` on this CPU; `ModelError` for the configuration,
    ///   ``ModelError/checkpointMismatch(weights:configuration:problem:)`` when the weights do
    ///   not fit it, `CheckpointError` for unreadable weight files.
    public static func load(directory: URL, precision: Precision = .fp32) throws -> BertModel {
        try ModelError.requireSupported(precision)
        let configuration = try BertConfiguration.load(directory: directory)
        let reader = try CheckpointReader(directory: directory)
        let name = { legacyName($0) { reader.shape(of: $0) != nil } }
        do {
            return try BertModel(
                configuration: configuration, precision: precision,
                shape: { reader.shape(of: name($0)) }, tensor: { try reader.tensor(named: name($0)) })
        } catch let error as ModelError {
            throw error.naming(directory: directory)
        }
    }

    /// The slots a bf16/int8 model converts: in every encoder layer the fused q/k/v
    /// projection, the attention output, the intermediate and the output projections.
    ///
    /// Kept in fp32: the embeddings (lookups) and ELECTRA's embedding projection, the biases
    /// and LayerNorms, and the classification head (pooler or dense plus the label layer,
    /// `[hidden, hidden]` and `[labels, hidden]` read once per pair, which decide the score).
    public var convertibleSlots: Set<Int> { Self.convertibleSlots(of: layers) }

    static func convertibleSlots(of layers: [BertLayer]) -> Set<Int> {
        var slots = Set<Int>()
        for layer in layers {
            slots.formUnion([layer.queryKeyValue.weight, layer.attentionOutput.weight])
            slots.formUnion([layer.intermediate.weight, layer.output.weight])
        }
        return slots
    }

    /// The number format of the linear layers (``Precision``); `.fp32` unless converted.
    public var precision: Precision { parameters.precision }

    /// The model for inference at `precision`: its encoder's linear layers converted once
    /// (``convertibleSlots``); fp32 returns the model itself. A converted model cannot be
    /// trained or converted again.
    public func converted(to precision: Precision) -> BertModel {
        var result = self
        result.parameters = parameters.converting(linearSlots: convertibleSlots, to: precision)
        return result
    }

    /// The checkpoint's name for the table's `name`: `…LayerNorm.weight` / `…LayerNorm.bias`
    /// stored as `…LayerNorm.gamma` / `…LayerNorm.beta` (the name itself wins when present).
    static func legacyName(_ name: String, present: (String) -> Bool) -> String {
        if present(name) { return name }
        for (new, old) in [(".weight", ".gamma"), (".bias", ".beta")] where name.hasSuffix("LayerNorm" + new) {
            let legacy = String(name.dropLast(new.count)) + old
            if present(legacy) { return legacy }
        }
        return name
    }

    /// What each stored weight is: checkpoint names, shapes, slots.
    public var parameterTable: ParameterTable { parameters.table }

    /// The table a configuration implies (the checkpoint names and shapes it needs), e.g. to
    /// build a model with random weights of a published shape for a benchmark.
    public static func parameterTable(for configuration: BertConfiguration) -> ParameterTable {
        BertArchitecture.build(configuration).table
    }

    /// Changes the weights in place (an optimizer step, a test's perturbation); the table stays.
    public mutating func updateParameters<R>(_ body: (inout ParameterStore) throws -> R) rethrows
        -> R
    {
        try parameters.updateValues(body)
    }

    /// Dropout sites of a training pass.
    var dropoutSites: Int {
        BertEmbeddings.dropoutSites + BertLayer.dropoutSites * layers.count + head.dropoutSites
    }

    /// The classification logits of a batch of inputs of unequal lengths (right-padded and
    /// masked internally).
    ///
    /// - Parameter inputs: each non-empty, at most ``BertConfiguration/maxSequenceLength``
    ///   tokens, ids below the vocabulary size and type ids below `type_vocab_size`.
    /// - Returns: `[batch, numLabels]`.
    public func logits(_ inputs: [BertInput]) -> Tensor {
        forward(inputs, training: nil).logits
    }

    /// The relevance score of each row of ``logits(_:)``: the logit for one label, the
    /// log-softmax of the positive (second) label for two (sentence-transformers' CrossEncoder).
    ///
    /// - Parameter logits: `[batch, numLabels]`.
    public func relevanceScores(_ logits: Tensor) -> [Float] {
        let labels = configuration.numLabels
        return (0..<logits.shape[0]).map { b in
            let row = logits.storage[(b * labels)..<((b + 1) * labels)]
            guard labels == 2 else { return row[row.startIndex] }
            let (negative, positive) = (row[row.startIndex], row[row.startIndex + 1])
            let maximum = max(negative, positive)
            return positive - maximum - logf(expf(negative - maximum) + expf(positive - maximum))
        }
    }

    /// What a training forward keeps for the backward pass.
    struct Record {
        var embeddings: BertEmbeddings.Record
        var layers: [BertLayer.Record]
        var head: BertClassificationHead.Record
        var length: Int
    }

    /// Embeddings, blocks, head; with a training pass, every layer's record.
    func forward(_ inputs: [BertInput], training: TrainingPass?) -> (
        logits: Tensor, record: Record?
    ) {
        let c = configuration
        precondition(!inputs.isEmpty, "an empty batch")
        let lengths = inputs.map(\.ids.count)
        let length = lengths.max()!
        precondition(
            lengths.allSatisfy { $0 > 0 } && length <= c.maxSequenceLength,
            "input lengths \(lengths) outside 1...\(c.maxSequenceLength)")
        var ids = [Int32]()
        var typeIDs = [Int32]()
        ids.reserveCapacity(inputs.count * length)
        typeIDs.reserveCapacity(inputs.count * length)
        for input in inputs {
            precondition(
                input.typeIDs.allSatisfy { $0 >= 0 && Int($0) < c.typeVocabSize },
                "token type ids outside 0..<\(c.typeVocabSize)")
            ids += input.ids
            ids += repeatElement(Int32(c.padTokenID), count: length - input.ids.count)
            typeIDs += input.typeIDs
            typeIDs += repeatElement(0, count: length - input.ids.count)
        }
        var (hidden, embeddingRecord) = embeddings.forward(
            ids: ids, typeIDs: typeIDs, batch: inputs.count, length: length,
            weights: parameters, training: training)
        var layerRecords = [BertLayer.Record]()
        for layer in layers {
            if let record = layer.forward(
                &hidden, lengths: lengths, weights: parameters, training: training)
            {
                layerRecords.append(record)
            }
        }
        let (logits, headRecord) = head.forward(hidden, weights: parameters, training: training)
        guard let embeddingRecord, let headRecord else { return (logits, nil) }
        return (
            logits,
            Record(
                embeddings: embeddingRecord, layers: layerRecords, head: headRecord,
                length: length)
        )
    }
}
