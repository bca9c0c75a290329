import InparsTensor

/// A model's weights, or their gradients: one fp32 tensor per slot of a ``ParameterTable``.
///
/// Layers hold slot numbers and read their weights from the store they are given, so the store
/// is the only place weights live. Outside the model module it can be read, written as a
/// checkpoint, and changed element-wise through the table's entries
/// (``withMutableEntry(_:_:)``, ``scale(by:)``), but never reshaped or replaced: the shapes are
/// the table's. Gradients are a second store of the same table (``zeros()``).
public struct ParameterStore: Sendable, Equatable {
    /// What each stored tensor is.
    public let table: ParameterTable
    /// One tensor per slot, shaped as ``ParameterSlot/shape``.
    var tensors: [Tensor]

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
        self.table = table
        tensors = table.slots.map { _ in Tensor(zeros: [0]) }
        for entry in table.entries {
            let tensor = checkpoint[entry.name]!
            if entry.offset == 0 && entry.shape == table.slots[entry.slot].shape {
                tensors[entry.slot] = tensor
                continue
            }
            if tensors[entry.slot].count == 0 {
                tensors[entry.slot] = Tensor(zeros: table.slots[entry.slot].shape)
            }
            tensors[entry.slot].storage.replaceSubrange(entry.range, with: tensor.storage)
        }
    }

    /// Slot `slot`'s tensor.
    public subscript(slot: Int) -> Tensor { tensors[slot] }

    /// Slot `slot` as the weight of a linear layer (`[out, in]`).
    public func linear(_ slot: Int) -> LinearWeight { LinearWeight(tensors[slot]) }

    /// The state dict to save: one tensor per entry under its checkpoint name (fused slots
    /// split back into their parts, a tied tensor once), as `save_pretrained` writes them.
    public func checkpointTensors() -> [String: Tensor] {
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
        return try tensors[entry.slot].storage.withUnsafeBufferPointer {
            try body(UnsafeBufferPointer(rebasing: $0[entry.range]))
        }
    }

    /// Changes entry `index`'s elements in place.
    public mutating func withMutableEntry<R>(
        _ index: Int, _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        let entry = table.entries[index]
        return try tensors[entry.slot].storage.withUnsafeMutableBufferPointer {
            try body(UnsafeMutableBufferPointer(rebasing: $0[entry.range]))
        }
    }

    /// Changes slot `slot`'s elements in place (all entries it holds).
    public mutating func withMutableSlot<R>(
        _ slot: Int, _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try tensors[slot].storage.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// Multiplies every element by `factor`.
    public mutating func scale(by factor: Float) {
        for slot in tensors.indices { tensors[slot].scale(by: factor) }
    }
}
