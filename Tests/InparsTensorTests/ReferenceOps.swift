import Foundation

/// Plain, obviously-correct reference implementations (Double accumulation, naive loops) that
/// the tensor module's ops are compared with.
enum Reference {
    /// `[m, k] · [k, n]` with optional transposes of the stored operands.
    static func matmul(
        _ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposeA: Bool = false,
        transposeB: Bool = false, alpha: Float = 1
    ) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let x = transposeA ? a[p * m + i] : a[i * k + p]
                    let y = transposeB ? b[j * k + p] : b[p * n + j]
                    sum += Double(x) * Double(y)
                }
                c[i * n + j] = Float(sum) * alpha
            }
        }
        return c
    }

    static func softmax(_ row: [Float]) -> [Float] {
        let maximum = row.max()!
        let exps = row.map { exp(Double($0 - maximum)) }
        let sum = exps.reduce(0, +)
        return exps.map { Float($0 / sum) }
    }

    static func logSoftmax(_ row: [Float]) -> [Float] {
        let maximum = Double(row.max()!)
        let logSum = log(row.map { exp(Double($0) - maximum) }.reduce(0, +)) + maximum
        return row.map { Float(Double($0) - logSum) }
    }

    static func rmsNorm(_ row: [Float], weight: [Float], epsilon: Double) -> [Float] {
        let meanSquare = row.map { Double($0) * Double($0) }.reduce(0, +) / Double(row.count)
        let inverse = 1 / (meanSquare + epsilon).squareRoot()
        return zip(row, weight).map { Float(Double($0) * inverse * Double($1)) }
    }

    static func layerNorm(_ row: [Float], weight: [Float], bias: [Float], epsilon: Double) -> [Float] {
        let mean = row.map(Double.init).reduce(0, +) / Double(row.count)
        let variance = row.map { (Double($0) - mean) * (Double($0) - mean) }.reduce(0, +) / Double(row.count)
        let inverse = 1 / (variance + epsilon).squareRoot()
        return (0..<row.count).map { Float((Double(row[$0]) - mean) * inverse * Double(weight[$0]) + Double(bias[$0])) }
    }

    static func gelu(_ x: Float) -> Float { Float(0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))) }

    static func geluTanh(_ x: Float) -> Float {
        let v = Double(x)
        return Float(0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))))
    }

    static func silu(_ x: Float) -> Float { Float(Double(x) / (1 + exp(-Double(x)))) }

    /// Permutes a row-major array by explicit multi-index arithmetic.
    static func permute(_ x: [Float], shape: [Int], order: [Int]) -> [Float] {
        let newShape = order.map { shape[$0] }
        var out = [Float](repeating: 0, count: x.count)
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        for flat in 0..<x.count {
            var rest = flat
            var newIndex = [Int](repeating: 0, count: shape.count)
            for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                newIndex[axis] = rest % newShape[axis]
                rest /= newShape[axis]
            }
            var source = 0
            for axis in 0..<shape.count { source += newIndex[axis] * strides[order[axis]] }
            out[flat] = x[source]
        }
        return out
    }
}
