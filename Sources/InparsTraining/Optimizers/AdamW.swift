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
        let kernel = Kernel(
            keep: keep, lerpWeight: lerpWeight, b2: b2, oneMinusB2: oneMinusB2,
            stepSize: stepSize, correction2: correction2, eps: eps, decays: decay != 0)
        firstMoment[index].withUnsafeMutableBufferPointer { m in
            secondMoment[index].withUnsafeMutableBufferPointer { v in
                let addresses = (
                    Int(bitPattern: p.baseAddress), Int(bitPattern: g.baseAddress),
                    Int(bitPattern: m.baseAddress), Int(bitPattern: v.baseAddress)
                )
                let count = p.count
                // Memory-bound: two workers on disjoint halves when the tensor is large.
                let workers = count >= 1 << 18 ? 2 : 1
                let chunk = (count + workers - 1) / workers
                @Sendable func run(_ worker: Int) {
                    let start = worker * chunk
                    guard start < count else { return }
                    kernel.run(
                        p: UnsafeMutablePointer(bitPattern: addresses.0)! + start,
                        g: UnsafePointer(bitPattern: addresses.1)! + start,
                        m: UnsafeMutablePointer(bitPattern: addresses.2)! + start,
                        v: UnsafeMutablePointer(bitPattern: addresses.3)! + start,
                        count: min(chunk, count - start))
                }
                if workers > 1 {
                    DispatchQueue.concurrentPerform(iterations: workers, execute: run)
                } else {
                    run(0)
                }
            }
        }
    }

    /// The element-wise update with its step's scalars, eight lanes at a time; each lane does
    /// the scalar formula's operations in the same order, so results equal the scalar loop's.
    private struct Kernel: Sendable {
        var keep, lerpWeight, b2, oneMinusB2, stepSize, correction2, eps: Float
        var decays: Bool

        func run(
            p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>,
            m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int
        ) {
            typealias V = SIMD8<Float>
            let (rp, rg, rm, rv) = (
                UnsafeMutableRawPointer(p), UnsafeRawPointer(g), UnsafeMutableRawPointer(m),
                UnsafeMutableRawPointer(v)
            )
            var i = 0
            while i + 8 <= count {
                let o = i * 4
                var pi = rp.loadUnaligned(fromByteOffset: o, as: V.self)
                let gi = rg.loadUnaligned(fromByteOffset: o, as: V.self)
                var mi = rm.loadUnaligned(fromByteOffset: o, as: V.self)
                var vi = rv.loadUnaligned(fromByteOffset: o, as: V.self)
                if decays { pi *= keep }
                mi += lerpWeight * (gi - mi)
                vi = vi * b2 + oneMinusB2 * gi * gi
                let denominator = vi.squareRoot() / correction2 + eps
                pi += -stepSize * mi / denominator
                rp.storeBytes(of: pi, toByteOffset: o, as: V.self)
                rm.storeBytes(of: mi, toByteOffset: o, as: V.self)
                rv.storeBytes(of: vi, toByteOffset: o, as: V.self)
                i += 8
            }
            while i < count {
                if decays { p[i] *= keep }
                m[i] += lerpWeight * (g[i] - m[i])
                v[i] = v[i] * b2 + oneMinusB2 * g[i] * g[i]
                let denominator = v[i].squareRoot() / correction2 + eps
                p[i] += -stepSize * m[i] / denominator
                i += 1
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
