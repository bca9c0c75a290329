import Foundation
import InparsTensor

/// Adafactor (Shazeer & Stern 2018) exactly as `transformers.optimization.Adafactor`, the
/// optimizer T5 and monoT5 were trained with.
///
/// Parameters of rank ≥ 2 keep factored second moments: a row statistic `[..., rows]` and a
/// column statistic `[..., columns]` over the last two axes; others keep a full one. With
/// `beta1 == nil` (the default) there is no first moment. Each step, for parameter `p` and
/// gradient `g` (step `t`):
///
/// - `ρ = min(1e-2 or 1e-6·t with warmupInit, 1/√t)` when `relativeStep`, else `learningRate`;
///   `lr = ρ · max(ε2, RMS(p))` when `scaleParameter`, else `ρ`;
/// - `β2t = 1 − t^decayRate`; `u = g² + ε1`;
///   `row ← β2t·row + (1 − β2t)·mean_columns(u)`, `col ← β2t·col + (1 − β2t)·mean_rows(u)`;
///   `u = g / √(row/mean(row) ⊗ col)` (or `g / √v` unfactored);
/// - `u ← u / max(1, RMS(u)/clipThreshold)`; `u ← lr·u`;
///   with `beta1`: `m ← β1·m + (1 − β1)·u`, `u = m`;
/// - `p ← p − λ·lr·p` when `weightDecay ≠ 0`; `p ← p − u`.
///
/// The RMS of the parameter is taken before the update, as in Hugging Face. Reductions are
/// accumulated in `Double`; element arithmetic is `Float`.
public struct Adafactor: Optimizer {
    public let parameters: [ParameterSpec]
    public private(set) var stepCount = 0
    /// The explicit learning rate (`lr`); a schedule sets it before each step. Unused (0) with
    /// ``relativeStep``, where the step size is computed from the step count (HF `lr=None`).
    public var learningRate: Double
    public var epsilon1: Double
    public var epsilon2: Double
    public var clipThreshold: Double
    public var decayRate: Double
    public var beta1: Double?
    public var weightDecay: Double
    public var scaleParameter: Bool
    public var relativeStep: Bool
    public var warmupInit: Bool

    private var firstMoment: [[Float]]
    private var rowMoment: [[Float]]
    private var columnMoment: [[Float]]
    private var fullMoment: [[Float]]

    /// The configuration T5 fine-tuning recipes use: `lr=1e-3, scale_parameter=False,
    /// relative_step=False, warmup_init=False`.
    public static func fineTuning(parameters: [ParameterSpec], learningRate: Double = 1e-3)
        -> Adafactor
    {
        Adafactor(
            parameters: parameters, learningRate: learningRate, scaleParameter: false,
            relativeStep: false)
    }

    /// Hugging Face's defaults: `lr=None, eps=(1e-30, 1e-3), clip_threshold=1.0,
    /// decay_rate=-0.8, beta1=None, weight_decay=0.0, scale_parameter=True,
    /// relative_step=True, warmup_init=False`.
    ///
    /// - Precondition: as in Hugging Face, an explicit `learningRate` excludes `relativeStep`,
    ///   and `warmupInit` needs `relativeStep`.
    public init(
        parameters: [ParameterSpec], learningRate: Double? = nil, epsilon1: Double = 1e-30,
        epsilon2: Double = 1e-3, clipThreshold: Double = 1, decayRate: Double = -0.8,
        beta1: Double? = nil, weightDecay: Double = 0, scaleParameter: Bool = true,
        relativeStep: Bool = true, warmupInit: Bool = false
    ) {
        precondition(
            !(learningRate != nil && relativeStep),
            "Adafactor: an explicit learning rate needs relativeStep = false")
        precondition(!(warmupInit && !relativeStep), "Adafactor: warmupInit needs relativeStep")
        precondition(
            learningRate != nil || relativeStep,
            "Adafactor: give a learning rate or use relativeStep")
        self.parameters = parameters
        self.learningRate = learningRate ?? 0
        self.epsilon1 = epsilon1
        self.epsilon2 = epsilon2
        self.clipThreshold = clipThreshold
        self.decayRate = decayRate
        self.beta1 = beta1
        self.weightDecay = weightDecay
        self.scaleParameter = scaleParameter
        self.relativeStep = relativeStep
        self.warmupInit = warmupInit
        let empty = [Float]()
        firstMoment = parameters.map {
            beta1 == nil ? empty : [Float](repeating: 0, count: $0.shape.reduce(1, *))
        }
        rowMoment = parameters.map {
            Adafactor.isFactored($0.shape)
                ? [Float](repeating: 0, count: $0.shape.dropLast().reduce(1, *)) : empty
        }
        columnMoment = parameters.map {
            Adafactor.isFactored($0.shape)
                ? [Float](repeating: 0, count: Adafactor.columnShape($0.shape).reduce(1, *)) : empty
        }
        fullMoment = parameters.map {
            Adafactor.isFactored($0.shape)
                ? empty : [Float](repeating: 0, count: $0.shape.reduce(1, *))
        }
    }

    static func isFactored(_ shape: [Int]) -> Bool { shape.count >= 2 }

    /// `shape[:-2] + shape[-1:]`.
    static func columnShape(_ shape: [Int]) -> [Int] {
        Array(shape.dropLast(2)) + [shape[shape.count - 1]]
    }

    public mutating func beginStep() { stepCount += 1 }

    /// The step size for a parameter whose RMS is `rms` (Hugging Face `_get_lr`).
    public func stepSize(parameterRMS rms: Double) -> Double {
        let t = Double(stepCount)
        var relative = learningRate
        if relativeStep {
            let minimum = warmupInit ? 1e-6 * t : 1e-2
            relative = min(minimum, 1 / t.squareRoot())
        }
        let scale = scaleParameter ? max(epsilon2, rms) : 1
        return scale * relative
    }

    public mutating func update(
        _ p: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>, index: Int
    ) {
        precondition(stepCount > 0, "call beginStep() before update")
        let shape = parameters[index].shape
        let count = shape.reduce(1, *)
        precondition(
            p.count == count && g.count == count,
            "Adafactor: \(parameters[index].name) \(shape) has \(count) elements, got \(p.count) values and \(g.count) gradients"
        )
        let lr = Float(stepSize(parameterRMS: Double(Adafactor.rms(UnsafeBufferPointer(p)))))
        let beta2t = 1 - pow(Double(stepCount), decayRate)
        let decay = Float(beta2t)
        let mix = Float(1 - beta2t)
        let eps1 = Float(epsilon1)
        var step = [Float](repeating: 0, count: count)
        step.withUnsafeMutableBufferPointer { u in
            if Adafactor.isFactored(shape) {
                factoredStep(index: index, shape: shape, gradient: g, into: u, decay: decay, mix: mix)
            } else {
                fullMoment[index].withUnsafeMutableBufferPointer { v in
                    for i in 0..<count {
                        v[i] = v[i] * decay + mix * (g[i] * g[i] + eps1)
                        u[i] = 1 / v[i].squareRoot() * g[i]
                    }
                }
            }
        }
        let clip = Float(
            max(Double(step.withUnsafeBufferPointer { Adafactor.rms($0) }) / clipThreshold, 1))
        let weightDecayFactor = Float(-weightDecay) * lr
        let b1 = beta1.map(Float.init)
        step.withUnsafeMutableBufferPointer { u in
            firstMoment[index].withUnsafeMutableBufferPointer { m in
                for i in 0..<count {
                    var value = u[i] / clip * lr
                    if let b1 {
                        m[i] = m[i] * b1 + (1 - b1) * value
                        value = m[i]
                    }
                    if weightDecay != 0 { p[i] += p[i] * weightDecayFactor }
                    p[i] -= value
                }
            }
        }
    }

    /// The factored preconditioned step of a rank ≥ 2 parameter: updates the row and column
    /// second-moment statistics of every trailing `[rows, columns]` slice and writes
    /// `g / √(row · column / mean(row))` into `u`.
    private mutating func factoredStep(
        index: Int, shape: [Int], gradient g: UnsafeBufferPointer<Float>,
        into u: UnsafeMutableBufferPointer<Float>, decay: Float, mix: Float
    ) {
        let eps1 = Float(epsilon1)
        let count = shape.reduce(1, *)
        let columns = shape[shape.count - 1]
        let rows = shape[shape.count - 2]
        let slices = count / (rows * columns)
        var columnSums = [Double](repeating: 0, count: columns)
        rowMoment[index].withUnsafeMutableBufferPointer { row in
            columnMoment[index].withUnsafeMutableBufferPointer { column in
                for s in 0..<slices {
                    let base = s * rows * columns
                    // Row statistic: mean of g² + ε1 over the columns; column
                    // statistic: mean over the rows (summed in row-major order).
                    for c in 0..<columns { columnSums[c] = 0 }
                    for r in 0..<rows {
                        var sum = 0.0
                        for c in 0..<columns {
                            let v = g[base + r * columns + c]
                            let square = Double(v * v + eps1)
                            sum += square
                            columnSums[c] += square
                        }
                        let mean = Float(sum / Double(columns))
                        row[s * rows + r] = row[s * rows + r] * decay + mix * mean
                    }
                    for c in 0..<columns {
                        let mean = Float(columnSums[c] / Double(rows))
                        column[s * columns + c] =
                            column[s * columns + c] * decay + mix * mean
                    }
                    var rowSum = 0.0
                    for r in 0..<rows { rowSum += Double(row[s * rows + r]) }
                    let rowMean = Float(rowSum / Double(rows))
                    for r in 0..<rows {
                        let rowFactor = 1 / (row[s * rows + r] / rowMean).squareRoot()
                        for c in 0..<columns {
                            let columnFactor = 1 / column[s * columns + c].squareRoot()
                            let flat = base + r * columns + c
                            u[flat] = rowFactor * columnFactor * g[flat]
                        }
                    }
                }
            }
        }
    }

    /// `‖x‖₂ / √count`, accumulated in `Double`, rounded to `Float` (PyTorch's `_rms`).
    static func rms(_ x: UnsafeBufferPointer<Float>) -> Float {
        guard !x.isEmpty else { return 0 }
        var sum = 0.0
        for v in x { sum += Double(v) * Double(v) }
        return Float(sum.squareRoot()) / Float(Double(x.count).squareRoot())
    }

    public func exportState() -> OptimizerState {
        var tensors = [String: Tensor]()
        for (index, spec) in parameters.enumerated() {
            if beta1 != nil {
                tensors["\(spec.name).exp_avg"] = Tensor(
                    shape: spec.shape, storage: firstMoment[index])
            }
            if Adafactor.isFactored(spec.shape) {
                tensors["\(spec.name).exp_avg_sq_row"] = Tensor(
                    shape: Array(spec.shape.dropLast()), storage: rowMoment[index])
                tensors["\(spec.name).exp_avg_sq_col"] = Tensor(
                    shape: Adafactor.columnShape(spec.shape), storage: columnMoment[index])
            } else {
                tensors["\(spec.name).exp_avg_sq"] = Tensor(
                    shape: spec.shape, storage: fullMoment[index])
            }
        }
        return OptimizerState(kind: "adafactor", step: stepCount, tensors: tensors)
    }

    public mutating func importState(_ state: OptimizerState) throws {
        try validate(state, kind: "adafactor")
        var first = firstMoment
        var row = rowMoment
        var column = columnMoment
        var full = fullMoment
        if beta1 != nil {
            first = try slots("exp_avg", shapes: parameters.map(\.shape), from: state)
        }
        for (index, spec) in parameters.enumerated() {
            func load(_ slot: String, _ shape: [Int]) throws -> [Float] {
                let name = "\(spec.name).\(slot)"
                guard let tensor = state.tensors[name] else {
                    throw TrainingError.missingOptimizerTensor(name: name)
                }
                guard tensor.shape == shape else {
                    throw TrainingError.optimizerTensorShape(
                        name: name, expected: shape, found: tensor.shape)
                }
                return tensor.storage
            }
            if Adafactor.isFactored(spec.shape) {
                row[index] = try load("exp_avg_sq_row", Array(spec.shape.dropLast()))
                column[index] = try load("exp_avg_sq_col", Adafactor.columnShape(spec.shape))
            } else {
                full[index] = try load("exp_avg_sq", spec.shape)
            }
        }
        firstMoment = first
        rowMoment = row
        columnMoment = column
        fullMoment = full
        stepCount = state.step
    }
}
