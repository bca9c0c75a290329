import InparsTensor

/// A model's weights, or their gradients: one fp32 tensor per slot of a ``ParameterTable``.
///
/// Layers hold slot numbers and read their weights from the store they are given, so the store
/// is the only place weights live. Outside the model module it can be read, written as a
/// checkpoint, and changed element-wise through the table's entries
/// (``withMutableEntry(_:_:)``, ``scale(by:)``), but never reshaped or replaced: the shapes are
/// the table's. Gradients are a second store of the same table (``zeros()``).
///
/// For inference, a model family converts its linear slots to bf16 or int8 (``Precision``)
/// with ``converting(linearSlots:to:refiningActivations:)``, or while loading (``init(table:precision:linearSlots:loading:)``,
/// which drops each fp32 slot as soon as it is converted, so peak memory stays near the
/// converted model's). A converted slot is read only through ``linear(_:)``; its fp32 values
/// are gone, and a converted store cannot be trained, written as a checkpoint or changed.
public struct ParameterStore: Sendable, Equatable {
    /// What each stored tensor is.
    public let table: ParameterTable
    /// One tensor per slot, shaped as ``ParameterSlot/shape`` (empty for a converted slot).
    var tensors: [Tensor]
    /// The linear slots converted to ``precision``, by slot.
    private var converted: [Int: LinearWeight] = [:]
    /// Converted slots whose fp32 tensor is kept as well (a tied embedding that is also the LM
    /// head: looked up in fp32, multiplied converted).
    private var keptFP32: Set<Int> = []
    /// Linear slots converted to int8 with refined activations
    /// (``InparsTensor/LinearWeight/converted(to:refiningActivations:)``).
    private var refined: Set<Int> = []
    /// The number format of the converted linear slots; `.fp32` when none is converted.
    public private(set) var precision: Precision = .fp32

    /// What can be wrong with a checkpoint for a table (the model family turns it into its own
    /// error, naming the tensor).
    public enum LoadError: Error, Equatable {
        case missing(name: String)
        case shape(name: String, expected: [Int], actual: [Int])
    }

    /// Every slot zero: the gradient accumulator of a model with this table.
    public init(zerosFor table: ParameterTable) {
        self.table = table
        tensors = table.slots.map { Tensor(zeros: $0.shape) }
    }

    /// The weights of a checkpoint: every entry of `table` is looked up by name, checked for
    /// shape and placed in its slot (a tensor that fills its slot alone is used as is, without
    /// a copy; fused parts are copied into place). Names the table does not list, such as tied
    /// names, are ignored.
    ///
    /// - Throws: ``LoadError`` for the first entry missing or mis-shaped, in table order.
    public init(table: ParameterTable, checkpoint: [String: Tensor]) throws(LoadError) {
        for entry in table.entries {
            guard let tensor = checkpoint[entry.name] else { throw .missing(name: entry.name) }
            guard tensor.shape == entry.shape else {
                throw .shape(name: entry.name, expected: entry.shape, actual: tensor.shape)
            }
        }
        self.init(table: table, loading: { checkpoint[$0.name]! })
    }

    /// Loads the weights one checkpoint tensor at a time, converting the linear slots
    /// `linearSlots` to `precision` as soon as each is complete and dropping its fp32 values
    /// (peak memory: the converted model plus one fp32 slot).
    ///
    /// - Parameters:
    ///   - linearSlots: slots that are linear weights `[out, in]` read only through
    ///     ``linear(_:)``; ignored for `.fp32`.
    ///   - keepingFP32: slots converted like `linearSlots` whose fp32 tensor stays readable
    ///     too (through the subscript): a tied embedding whose head is converted to bf16/int8.
    ///     Packed at fp32 they keep no copy: the packed weight holds the same values, and
    ///     ``rows(_:ids:idShape:)`` reads them out of it.
    ///   - packingFP32: with `.fp32`, pack `linearSlots` for oneDNN's fp32 matmul
    ///     (``InparsTensor/LinearWeight/packedForInference()``) instead of keeping them for
    ///     BLAS; the store is then for inference only, like a converted one.
    ///   - refiningActivations: slots of `linearSlots` whose int8 products refine their
    ///     activations (``InparsTensor/LinearWeight/converted(to:refiningActivations:)``).
    ///   - load: the tensor of an entry, shaped ``ParameterEntry/shape`` (it throws the
    ///     family's own error for a missing or mis-shaped tensor), called in table order.
    public init(
        table: ParameterTable, precision: Precision = .fp32, linearSlots: Set<Int> = [],
        keepingFP32: Set<Int> = [], packingFP32: Bool = false, refiningActivations: Set<Int> = [],
        loading load: (ParameterEntry) throws -> Tensor
    ) rethrows {
        self.table = table
        refined = refiningActivations
        tensors = table.slots.map { _ in Tensor(zeros: [0]) }
        let linearSlots = linearSlots.union(keepingFP32)
        self.precision = linearSlots.isEmpty ? .fp32 : precision
        let converting = self.precision != .fp32 || (packingFP32 && !linearSlots.isEmpty)
        if converting && self.precision != .fp32 { keptFP32 = keepingFP32 }
        for (index, entry) in table.entries.enumerated() {
            let tensor = try load(entry)
            precondition(tensor.shape == entry.shape, "\(entry.name): \(tensor.shape), expected \(entry.shape)")
            if entry.offset == 0 && entry.shape == table.slots[entry.slot].shape {
                tensors[entry.slot] = tensor
            } else {
                if tensors[entry.slot].count == 0 {
                    tensors[entry.slot] = Tensor(zeros: table.slots[entry.slot].shape)
                }
                tensors[entry.slot].storage.replaceSubrange(entry.range, with: tensor.storage)
            }
            let slotComplete =
                index + 1 == table.entries.count || table.entries[index + 1].slot != entry.slot
            if slotComplete && converting && linearSlots.contains(entry.slot) {
                convert(entry.slot)
            }
        }
    }

    /// The store with the linear slots `linearSlots` converted to `precision` (see
    /// ``init(table:precision:linearSlots:keepingFP32:packingFP32:refiningActivations:loading:)``). A store converts once.
    public func converting(
        linearSlots: Set<Int>, to precision: Precision, refiningActivations: Set<Int> = []
    ) -> ParameterStore {
        precondition(converted.isEmpty, "the store is already converted (\(self.precision))")
        var result = self
        result.refined = refiningActivations
        guard precision != .fp32, !linearSlots.isEmpty else { return result }
        result.precision = precision
        for slot in linearSlots.sorted() { result.convert(slot) }
        return result
    }

    /// Changes the values in place (an optimizer step, a test's perturbation) through `body`;
    /// the table must stay. Only an unconverted store changes: a converted or packed one is
    /// for inference.
    /// Models forward ``ParameterizedModel/updateParameters(_:)`` here.
    public mutating func updateValues<R>(_ body: (inout ParameterStore) throws -> R) rethrows -> R {
        precondition(converted.isEmpty, "a converted \(precision) model is for inference only")
        let table = self.table
        defer { precondition(self.table == table, "updateParameters replaced the model's table") }
        return try body(&self)
    }

    private mutating func convert(_ slot: Int) {
        let weight = LinearWeight(tensors[slot])
        converted[slot] =
            precision == .fp32
            ? weight.packedForInference()
            : weight.converted(to: precision, refiningActivations: refined.contains(slot))
        if !keptFP32.contains(slot) { tensors[slot] = Tensor(zeros: [0]) }
    }

    /// Bytes held by the weights: fp32 slots at 4 bytes an element, converted slots as packed.
    public var weightBytes: Int {
        tensors.reduce(0) { $0 + $1.count * MemoryLayout<Float>.size }
            + converted.values.reduce(0) { $0 + $1.byteCount }
    }

    public static func == (a: ParameterStore, b: ParameterStore) -> Bool {
        a.table == b.table && a.tensors == b.tensors && a.precision == b.precision
            && a.keptFP32 == b.keptFP32
            && a.converted.keys.sorted() == b.converted.keys.sorted()
            && a.converted.allSatisfy { slot, weight in LinearWeight.same(weight, b.converted[slot]!) }
    }

    /// Slot `slot`'s tensor (fp32; a converted linear slot has none unless kept: read it with
    /// ``linear(_:)``).
    public subscript(slot: Int) -> Tensor {
        precondition(
            converted[slot] == nil || keptFP32.contains(slot),
            "\(table.slots[slot].name) is stored as \(precision)")
        return tensors[slot]
    }

    /// Rows `ids` of slot `slot` (an embedding lookup): from its fp32 tensor, or, for a tied
    /// embedding packed at fp32 without one, out of the packed weight
    /// (``InparsTensor/LinearWeight/rows(_:idShape:)``).
    ///
    /// - Returns: `idShape + [width]`.
    public func rows(_ slot: Int, ids: [Int32], idShape: [Int]? = nil) -> Tensor {
        if let weight = converted[slot], !keptFP32.contains(slot) {
            return weight.rows(ids, idShape: idShape)
        }
        return Tensor.embedding(self[slot], ids: ids, idShape: idShape)
    }

    /// Slot `slot` as the weight of a linear layer (`[out, in]`), in its stored precision.
    public func linear(_ slot: Int) -> LinearWeight { converted[slot] ?? LinearWeight(tensors[slot]) }

    /// The state dict to save: one tensor per entry under its checkpoint name (fused slots
    /// split back into their parts, a tied tensor once), as `save_pretrained` writes them.
    public func checkpointTensors() -> [String: Tensor] {
        precondition(converted.isEmpty, "a converted \(precision) store is for inference only")
        var result = [String: Tensor]()
        for entry in table.entries {
            result[entry.name] = Tensor(
                shape: entry.shape, storage: Array(tensors[entry.slot].storage[entry.range]))
        }
        return result
    }

    /// A store of the same table with every element zero.
    public func zeros() -> ParameterStore { ParameterStore(zerosFor: table) }

    /// Reads entry `index`'s elements (row-major, ``ParameterEntry/shape``).
    public func withEntry<R>(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R)
        rethrows -> R
    {
        let entry = table.entries[index]
        precondition(
            converted[entry.slot] == nil || keptFP32.contains(entry.slot),
            "\(entry.name) is stored as \(precision)")
        return try tensors[entry.slot].storage.withUnsafeBufferPointer {
            try body(UnsafeBufferPointer(rebasing: $0[entry.range]))
        }
    }

    /// Changes entry `index`'s elements in place.
    public mutating func withMutableEntry<R>(
        _ index: Int, _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        precondition(converted.isEmpty, "a converted \(precision) store is for inference only")
        let entry = table.entries[index]
        return try tensors[entry.slot].storage.withUnsafeMutableBufferPointer {
            try body(UnsafeMutableBufferPointer(rebasing: $0[entry.range]))
        }
    }

    /// Changes slot `slot`'s elements in place (all entries it holds).
    public mutating func withMutableSlot<R>(
        _ slot: Int, _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        precondition(converted.isEmpty, "a converted \(precision) store is for inference only")
        return try tensors[slot].storage.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// Multiplies every element by `factor`.
    public mutating func scale(by factor: Float) {
        precondition(converted.isEmpty, "a converted \(precision) store is for inference only")
        for slot in tensors.indices { tensors[slot].scale(by: factor) }
    }
}
