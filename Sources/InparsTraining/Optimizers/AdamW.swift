import Foundation
import InparsTensor

/// AdamW with decoupled weight decay, step for step as `torch.optim.AdamW`
/// (single-tensor path, `amsgrad=False`, `maximize=False`).
///
/// For step `t` with learning rate `lr`:
/// `p ← p·(1 − lr·λ)`; `m ← m + (1 − β1)(g − m)` (PyTorch's `lerp`);
/// `v ← β2·v + (1 − β2)·g²`; `p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)`.
/// Scalars are computed in `Double` (as Python floats), tensor arithmetic in `Float`.
public struct AdamW: Optimizer {
    public let parameters: [ParameterSpec]
    public private(set) var stepCount = 0
    /// The learning rate of the next update; a schedule sets it before each step.
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    /// Decoupled weight decay λ.
    public var weightDecay: Double
    /// Parameter names that get no weight decay (Hugging Face Trainer exempts biases and norm
    /// weights).
    public var noDecay: Set<String>

    private var firstMoment: [[Float]]
    private var secondMoment: [[Float]]

    /// - Parameters:
    ///   - parameters: names and shapes, in update order.
    ///   - learningRate: PyTorch's `lr` (1e-3 default there; `inpars train` passes `--lr`).
    public init(
        parameters: [ParameterSpec], learningRate: Double, beta1: Double = 0.9,
        beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0.01,
        noDecay: Set<String> = []
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.noDecay = noDecay
        firstMoment = parameters.map { [Float](repeating: 0, count: $0.shape.reduce(1, *)) }
        secondMoment = firstMoment
    }

    public mutating func beginStep() { stepCount += 1 }

    public mutating func update(
        _ p: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>, index: Int
    ) {
        precondition(stepCount > 0, "call beginStep() before update")
        precondition(
            p.count == firstMoment[index].count && g.count == p.count,
            "AdamW: \(parameters[index].name) has \(firstMoment[index].count) elements, got \(p.count) values and \(g.count) gradients"
        )
        let t = Double(stepCount)
        let lr = learningRate
        let decay = noDecay.contains(parameters[index].name) ? 0 : weightDecay
        let keep = Float(1 - lr * decay)
        let lerpWeight = Float(1 - beta1)
        let b2 = Float(beta2)
        let oneMinusB2 = Float(1 - beta2)
        let stepSize = Float(lr / (1 - pow(beta1, t)))
        let correction2 = Float((1 - pow(beta2, t)).squareRoot())
        let eps = Float(epsilon)
        firstMoment[index].withUnsafeMutableBufferPointer { m in
            secondMoment[index].withUnsafeMutableBufferPointer { v in
                for i in 0..<p.count {
                    if decay != 0 { p[i] *= keep }
                    m[i] += lerpWeight * (g[i] - m[i])
                    v[i] = v[i] * b2 + oneMinusB2 * g[i] * g[i]
                    let denominator = v[i].squareRoot() / correction2 + eps
                    p[i] += -stepSize * m[i] / denominator
                }
            }
        }
    }

    public func exportState() -> OptimizerState {
        var tensors = [String: Tensor]()
        for (index, spec) in parameters.enumerated() {
            tensors["\(spec.name).exp_avg"] = Tensor(shape: spec.shape, storage: firstMoment[index])
            tensors["\(spec.name).exp_avg_sq"] = Tensor(
                shape: spec.shape, storage: secondMoment[index])
        }
        return OptimizerState(kind: "adamw", step: stepCount, tensors: tensors)
    }

    public mutating func importState(_ state: OptimizerState) throws {
        try validate(state, kind: "adamw")
        let shapes = parameters.map(\.shape)
        let m = try slots("exp_avg", shapes: shapes, from: state)
        let v = try slots("exp_avg_sq", shapes: shapes, from: state)
        firstMoment = m
        secondMoment = v
        stepCount = state.step
    }
}
