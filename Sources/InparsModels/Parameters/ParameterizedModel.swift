/// A model whose weights are one ``ParameterStore``: what training, gradient checks and
/// checkpoint writing need from any family (T5, the BERT-style cross-encoders).
public protocol ParameterizedModel: Sendable {
    /// The weights, one tensor per slot of ``parameterTable``.
    var parameters: ParameterStore { get }
    /// What each stored weight is: checkpoint names, shapes, slots.
    var parameterTable: ParameterTable { get }
    /// Changes the weights in place (an optimizer step, a test's perturbation); the table stays.
    mutating func updateParameters<R>(_ body: (inout ParameterStore) throws -> R) rethrows -> R
}

extension T5Model: ParameterizedModel {}
extension BertModel: ParameterizedModel {}
