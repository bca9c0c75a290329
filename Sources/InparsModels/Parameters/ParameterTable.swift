/// One checkpoint tensor of a model: its name and shape in the checkpoint, and where it lives
/// in the model's stored tensors.
public struct ParameterEntry: Sendable, Equatable {
    /// The checkpoint key, e.g. `encoder.block.0.layer.0.SelfAttention.k.weight`.
    public let name: String
    /// The checkpoint shape, e.g. `[inner, dModel]`.
    public let shape: [Int]
    /// The stored tensor (``ParameterTable/slots`` index) holding it. Entries share a slot when
    /// the model fuses them (q, k and v stacked into one `[3·inner, dModel]` weight).
    public let slot: Int
    /// The element offset of its first element inside the slot (a row block of a fused slot).
    public let offset: Int
    /// Other checkpoint keys of the same tensor (tied weights): they are neither read nor
    /// written (T5's `encoder.embed_tokens.weight`, and `lm_head.weight` when the head is tied).
    public let tiedNames: [String]

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// The element range inside the slot.
    public var range: Range<Int> { offset..<(offset + count) }
    /// Whether another checkpoint key names this tensor too.
    public var isShared: Bool { !tiedNames.isEmpty }
}

/// One stored tensor of a model: a checkpoint tensor, or several stacked along the first axis.
public struct ParameterSlot: Sendable, Equatable {
    /// The checkpoint key, or a readable name for a fused slot (`...SelfAttention.qkv`).
    public let name: String
    public let shape: [Int]

    public var count: Int { shape.reduce(1, *) }
}

/// The one list of a model's weights, built once per model at load time.
///
/// Each model family writes its table once (T5: `T5Model+Parameters.swift`), in the order of
/// its state dict, and gets from it everything that walks the weights: loading and checking a
/// checkpoint (``ParameterStore/init(table:checkpoint:)``), writing one
/// (``ParameterStore/checkpointTensors()``), gradient accumulators (``ParameterStore/zeros()``),
/// gradient clipping and optimizer updates (per entry, so a fused weight is updated as its
/// separate checkpoint tensors, as PyTorch updates them). A tied weight (one tensor known by
/// several keys) is one entry with ``ParameterEntry/tiedNames``; every layer that uses it reads
/// the same slot, so its gradient accumulates in one place and nothing has to be kept in sync.
public struct ParameterTable: Sendable, Equatable {
    /// Every checkpoint tensor once, in state-dict order (the optimizers' parameter order).
    public private(set) var entries: [ParameterEntry] = []
    /// The stored tensors.
    public private(set) var slots: [ParameterSlot] = []

    public init() {}

    /// Adds a checkpoint tensor stored on its own.
    ///
    /// - Parameter tiedNames: other checkpoint keys of the same tensor.
    /// - Returns: its slot.
    public mutating func add(_ name: String, shape: [Int], tiedNames: [String] = []) -> Int {
        let slot = slots.count
        slots.append(ParameterSlot(name: name, shape: shape))
        entries.append(
            ParameterEntry(name: name, shape: shape, slot: slot, offset: 0, tiedNames: tiedNames))
        return slot
    }

    /// Adds checkpoint tensors stacked along their first axis into one stored tensor (fused
    /// projections: one GEMM computes all of them).
    ///
    /// - Parameters:
    ///   - name: a readable name for the slot.
    ///   - parts: the checkpoint tensors in stacking order; all shapes agree past axis 0.
    /// - Returns: the slot, shaped `[Σ parts' first extents] + rest`.
    public mutating func addFused(_ name: String, parts: [(name: String, shape: [Int])]) -> Int {
        precondition(!parts.isEmpty, "a fused slot needs at least one part")
        let rest = Array(parts[0].shape.dropFirst())
        precondition(
            parts.allSatisfy { Array($0.shape.dropFirst()) == rest },
            "fused parts of \(name) disagree past axis 0: \(parts.map(\.shape))")
        let slot = slots.count
        slots.append(
            ParameterSlot(name: name, shape: [parts.map { $0.shape[0] }.reduce(0, +)] + rest))
        var offset = 0
        for part in parts {
            entries.append(
                ParameterEntry(
                    name: part.name, shape: part.shape, slot: slot, offset: offset, tiedNames: []))
            offset += part.shape.reduce(1, *)
        }
        return slot
    }

    /// The entry with checkpoint key `name` (not a tied name), or `nil`.
    public func entry(named name: String) -> ParameterEntry? {
        entries.first { $0.name == name }
    }
}
