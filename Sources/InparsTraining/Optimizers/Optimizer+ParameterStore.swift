import InparsModels
import InparsTensor

extension ParameterTable {
    /// The optimizers' view of a model: its checkpoint tensors' names and shapes, in table
    /// order (fused weights as their separate checkpoint parts).
    public var optimizerParameters: [ParameterSpec] {
        entries.map { ParameterSpec(name: $0.name, shape: $0.shape) }
    }
}

extension Optimizer {
    /// One update of a model's weights from gradients of the same table, entry by entry in
    /// place: Adafactor's statistics are per checkpoint tensor (column means, RMS), so a fused
    /// q/k/v weight is updated as its three checkpoint tensors, as PyTorch updates them.
    ///
    /// - Precondition: the optimizer was built with `parameters.table.optimizerParameters`.
    public mutating func step(_ parameters: inout ParameterStore, gradients: ParameterStore) {
        precondition(
            self.parameters.map(\.name) == parameters.table.entries.map(\.name)
                && gradients.table == parameters.table,
            "optimizer and gradients were built for other parameters")
        beginStep()
        for index in parameters.table.entries.indices {
            gradients.withEntry(index) { g in
                parameters.withMutableEntry(index) { p in update(p, gradient: g, index: index) }
            }
        }
    }
}
