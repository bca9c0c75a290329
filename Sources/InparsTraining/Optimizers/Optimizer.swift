import InparsTensor

/// The name and shape of one trainable parameter, in the order an optimizer sees them.
public struct ParameterSpec: Sendable, Equatable {
    /// The checkpoint name, e.g. `encoder.block.0.layer.0.SelfAttention.q.weight`.
    public var name: String
    /// The parameter's shape, e.g. `[out, in]`.
    public var shape: [Int]

    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

/// An optimizer's state as named tensors plus the step count, for `--resume`.
///
/// Tensor names are `<parameter name>.<slot>` with PyTorch's slot names (`exp_avg`,
/// `exp_avg_sq`, `exp_avg_sq_row`, `exp_avg_sq_col`), so the file reads like a PyTorch state
/// dict. The trainer stores `tensors` in a safetensors file and `kind`/`step` in its metadata.
public struct OptimizerState: Sendable, Equatable {
    /// Which optimizer wrote the state (`adamw`, `adafactor`).
    public var kind: String
    /// The number of updates taken.
    public var step: Int
    /// The per-parameter slots.
    public var tensors: [String: Tensor]

    public init(kind: String, step: Int, tensors: [String: Tensor]) {
        self.kind = kind
        self.step = step
        self.tensors = tensors
    }
}

/// A first-order optimizer over a fixed list of parameters.
///
/// One update is ``beginStep()`` followed by ``update(_:gradient:index:)`` for every parameter
/// index in order (or ``step(parameters:gradients:)`` for an array), so a model that keeps its
/// weights in fields can update them in place without collecting them.
public protocol Optimizer: Sendable {
    /// The parameters, in update order.
    var parameters: [ParameterSpec] { get }
    /// The number of updates begun so far.
    var stepCount: Int { get }
    /// The learning rate of the next update; a ``LearningRateSchedule`` sets it before each
    /// step (the multiplier after ``stepCount`` completed updates times the base rate).
    var learningRate: Double { get set }
    /// Starts update number `stepCount + 1`.
    mutating func beginStep()
    /// Updates parameter `index` in place from its gradient: the elements of the parameter
    /// (row-major, `parameters[index].shape`) may be a row block of a larger stored tensor
    /// (a fused q/k/v weight), so the update works on buffers.
    mutating func update(
        _ values: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
        index: Int)
    /// The state to save.
    func exportState() -> OptimizerState
    /// Restores saved state.
    ///
    /// - Throws: ``TrainingError`` when the state belongs to another optimizer or model.
    mutating func importState(_ state: OptimizerState) throws
}

extension Optimizer {
    /// Updates parameter `index` (a whole tensor of shape `parameters[index].shape`) in place.
    public mutating func update(_ parameter: inout Tensor, gradient: Tensor, index: Int) {
        precondition(
            parameter.shape == parameters[index].shape && gradient.shape == parameter.shape,
            "\(parameters[index].name): parameter \(parameter.shape), gradient \(gradient.shape), expected \(parameters[index].shape)"
        )
        parameter.storage.withUnsafeMutableBufferPointer { p in
            gradient.storage.withUnsafeBufferPointer { g in update(p, gradient: g, index: index) }
        }
    }

    /// One update of every parameter.
    ///
    /// - Parameters:
    ///   - parameters: one tensor per ``parameters`` entry, updated in place.
    ///   - gradients: the matching gradients.
    public mutating func step(parameters values: inout [Tensor], gradients: [Tensor]) {
        precondition(
            values.count == parameters.count && gradients.count == parameters.count,
            "optimizer has \(parameters.count) parameters, got \(values.count) values and \(gradients.count) gradients"
        )
        beginStep()
        for index in values.indices {
            update(&values[index], gradient: gradients[index], index: index)
        }
    }

    /// Copies the slot tensors named `<parameter>.<slot>` out of `state`, checking their shapes.
    func slots(
        _ slot: String, shapes: [[Int]], from state: OptimizerState
    ) throws -> [[Float]] {
        try parameters.indices.map { index in
            let name = "\(parameters[index].name).\(slot)"
            guard let tensor = state.tensors[name] else {
                throw TrainingError.missingOptimizerTensor(name: name)
            }
            guard tensor.shape == shapes[index] else {
                throw TrainingError.optimizerTensorShape(
                    name: name, expected: shapes[index], found: tensor.shape)
            }
            return tensor.storage
        }
    }

    /// Checks the kind and step of saved state.
    func validate(_ state: OptimizerState, kind: String) throws {
        guard state.kind == kind else {
            throw TrainingError.optimizerKindMismatch(expected: kind, found: state.kind)
        }
        guard state.step >= 0 else { throw TrainingError.invalidStep(state.step) }
    }
}
