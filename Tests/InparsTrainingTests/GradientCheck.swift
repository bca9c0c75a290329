import Foundation
import InparsTensor
import InparsTestSupport

/// Finite-difference gradient checking against `Double` re-implementations of the forward ops.
///
/// The reference gradient is the central difference `(f(θ + h) − f(θ − h)) / 2h` of a scalar
/// objective computed entirely in `Double` (naive loops, `h = 1e-5`), so its own error is about
/// `1e-9`; the analytic gradient under test is our `Float` backward. An element passes when
/// `|analytic − numeric| ≤ atol + rtol·|numeric|` with `atol = 1e-4`, `rtol = 1e-3` unless a
/// test states otherwise (Float rounding in the backward of these small shapes stays below
/// `1e-5`).
enum GradientCheck {
    static let step = 1e-5

    /// The central-difference gradient of `f` at `x`.
    static func numerical(at x: [Float], _ f: ([Double]) -> Double) -> [Double] {
        var point = x.map(Double.init)
        var gradient = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let saved = point[i]
            point[i] = saved + step
            let plus = f(point)
            point[i] = saved - step
            let minus = f(point)
            point[i] = saved
            gradient[i] = (plus - minus) / (2 * step)
        }
        return gradient
    }

    struct Verdict: CustomStringConvertible {
        var passes: Bool
        var worstIndex: Int
        var analytic: Float
        var numeric: Double

        var description: String {
            "\(passes ? "ok" : "MISMATCH"): worst at \(worstIndex): analytic \(analytic), numeric \(numeric)"
        }
    }

    /// Compares an analytic gradient with a numerical one; reports the worst element.
    static func compare(
        _ analytic: [Float], _ numeric: [Double], rtol: Double = 1e-3, atol: Double = 1e-4
    ) -> Verdict {
        precondition(analytic.count == numeric.count, "\(analytic.count) vs \(numeric.count)")
        var verdict = Verdict(passes: true, worstIndex: -1, analytic: 0, numeric: 0)
        var worstExcess = -Double.infinity
        for i in 0..<analytic.count {
            let difference = abs(Double(analytic[i]) - numeric[i])
            let excess = difference - (atol + rtol * abs(numeric[i]))
            if !(excess <= 0) { verdict.passes = false }
            if !(excess <= worstExcess) {
                worstExcess = excess.isNaN ? .infinity : excess
                verdict.worstIndex = i
                verdict.analytic = analytic[i]
                verdict.numeric = numeric[i]
            }
        }
        if analytic.isEmpty { verdict.passes = false }
        return verdict
    }

    /// Checks `analytic` against the central difference of `f` at `x`.
    static func check(
        _ analytic: [Float], at x: [Float], rtol: Double = 1e-3, atol: Double = 1e-4,
        _ f: ([Double]) -> Double
    ) -> Verdict {
        compare(analytic, numerical(at: x, f), rtol: rtol, atol: atol)
    }
}

/// Plain `Double` forward ops for the objectives (row-major, naive loops).
enum DoubleOps {
    /// `Σ r_i · y_i`: the scalar objective whose output gradient is `r`.
    static func project(_ y: [Double], _ r: [Float]) -> Double {
        precondition(y.count == r.count)
        var sum = 0.0
        for i in 0..<y.count { sum += y[i] * Double(r[i]) }
        return sum
    }

    /// `[m, k] · op(B)` with `B` stored `[k, n]`, or `[n, k]` when `transposeB`.
    static func matmul(
        _ a: [Double], _ b: [Double], m: Int, n: Int, k: Int, transposeA: Bool = false,
        transposeB: Bool = false, alpha: Double = 1
    ) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let x = transposeA ? a[p * m + i] : a[i * k + p]
                    let y = transposeB ? b[j * k + p] : b[p * n + j]
                    sum += x * y
                }
                c[i * n + j] = alpha * sum
            }
        }
        return c
    }

    static func rmsNorm(_ x: [Double], weight: [Double], epsilon: Double) -> [Double] {
        let d = weight.count
        var y = x
        for row in 0..<(x.count / d) {
            var sumSquares = 0.0
            for i in 0..<d { sumSquares += x[row * d + i] * x[row * d + i] }
            let r = 1 / (sumSquares / Double(d) + epsilon).squareRoot()
            for i in 0..<d { y[row * d + i] = x[row * d + i] * r * weight[i] }
        }
        return y
    }

    static func softmaxRows(_ x: [Double], width: Int) -> [Double] {
        var y = x
        for row in 0..<(x.count / width) {
            let slice = x[(row * width)..<((row + 1) * width)]
            let maximum = slice.max()!
            let exps = slice.map { exp($0 - maximum) }
            let sum = exps.reduce(0, +)
            for j in 0..<width { y[row * width + j] = exps[j] / sum }
        }
        return y
    }

    static func activation(_ kind: Activation, _ x: Double) -> Double {
        switch kind {
        case .relu: return max(0, x)
        case .gelu: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .geluTanh:
            return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        case .silu: return x / (1 + exp(-x))
        case .tanh: return Foundation.tanh(x)
        }
    }

    /// Mean cross-entropy over the rows whose target is not -100.
    static func crossEntropy(_ logits: [Double], targets: [Int32], vocab: Int) -> Double {
        var total = 0.0
        var count = 0
        for (row, target) in targets.enumerated() where target != -100 {
            let slice = logits[(row * vocab)..<((row + 1) * vocab)]
            let maximum = slice.max()!
            let logSum = log(slice.map { exp($0 - maximum) }.reduce(0, +)) + maximum
            total += logSum - logits[row * vocab + Int(target)]
            count += 1
        }
        return total / Double(count)
    }

    /// Broadcasting `a op b` for `b` broadcast to `shape` from `bShape` (NumPy rules).
    static func broadcast(_ b: [Double], from bShape: [Int], to shape: [Int]) -> [Double] {
        let count = shape.reduce(1, *)
        let rank = shape.count
        let bStrides = Tensor.strides(for: bShape)
        var out = [Double](repeating: 0, count: count)
        for flat in 0..<count {
            var rest = flat
            var offset = 0
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                let index = rest % shape[axis]
                rest /= shape[axis]
                let local = axis - (rank - bShape.count)
                if local >= 0 && bShape[local] != 1 { offset += index * bStrides[local] }
            }
            out[flat] = b[offset]
        }
        return out
    }
}

extension TestRandom {
    /// A tensor of `shape` with entries uniform in `range`.
    mutating func tensor(_ shape: [Int], in range: ClosedRange<Float> = -1...1) -> Tensor {
        Tensor(shape: shape, storage: floats(shape.reduce(1, *), in: range))
    }
}
