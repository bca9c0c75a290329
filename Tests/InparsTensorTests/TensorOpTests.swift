import Foundation
import InparsTensor
import InparsTestSupport
import Testing

/// Extents that exercise vector remainders and degenerate cases.
let oddExtents = [1, 3, 7, 513]

/// Checks `actual` against `expected` within `atol + rtol·|expected|`, reporting the worst element.
func expectClose(
    _ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let result = compare(actual, expected, rtol: rtol, atol: atol) else {
        Issue.record("\(label): \(actual.count) elements, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    #expect(result.passes, "\(label): \(result.worst)", sourceLocation: sourceLocation)
}

@Suite struct GEMMTests {
    @Test(arguments: [(1, 1, 1), (3, 7, 5), (7, 3, 513), (513, 7, 3), (16, 33, 64)])
    func matmulMatchesReferenceForEveryTransposeCombination(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var random = TestRandom(seed: UInt64(m * 1000 + n * 10 + k))
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                let a = random.floats(m * k)
                let b = random.floats(k * n)
                let alpha: Float = transposeA ? 0.5 : 1
                var c = [Float](repeating: .nan, count: m * n)
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            BLAS.sgemm(
                                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                alpha: alpha, a: pa.baseAddress!, lda: transposeA ? m : k,
                                b: pb.baseAddress!, ldb: transposeB ? k : n, c: pc.baseAddress!, ldc: n)
                        }
                    }
                }
                let expected = Reference.matmul(
                    a, b, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, alpha: alpha)
                expectClose(c, expected, atol: 1e-4 * Float(k).squareRoot(), "sgemm \(m)x\(n)x\(k) tA=\(transposeA) tB=\(transposeB)")
            }
        }
    }

    /// OpenBLAS's threads parked (as `inpars` does at start) come back for the next threaded
    /// GEMM: a product big enough to be split over threads is still right, and parking does
    /// not add threads to the process.
    @Test func gemmIsRightAfterParkingOpenBLASThreads() throws {
        func threadCount() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
        }
        let before = try threadCount()
        BLAS.parkThreads()
        #expect(try threadCount() <= before)
        let saved = BLAS.threads
        defer { BLAS.threads = saved }
        BLAS.threads = 2
        let (m, n, k) = (256, 192, 160)
        var random = TestRandom(seed: 18)
        let a = random.floats(m * k)
        let b = random.floats(k * n)
        var c = [Float](repeating: .nan, count: m * n)
        for _ in 0..<2 {
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        BLAS.sgemm(
                            transposeA: false, transposeB: false, m: m, n: n, k: k,
                            a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                            c: pc.baseAddress!, ldc: n)
                    }
                }
            }
            expectClose(c, Reference.matmul(a, b, m: m, n: n, k: k), atol: 1e-3, "parked sgemm")
            BLAS.parkThreads()
        }
    }

    @Test func linearUsesPyTorchWeightLayout() {
        var random = TestRandom(seed: 11)
        let x = Tensor(shape: [2, 3, 7], storage: random.floats(42))
        let weight = Tensor(shape: [5, 7], storage: random.floats(35))  // [out, in]
        let y = Tensor.linear(x, weight: weight)
        #expect(y.shape == [2, 3, 5])
        let expected = Reference.matmul(x.storage, weight.storage, m: 6, n: 5, k: 7, transposeB: true)
        expectClose(y.storage, expected, atol: 1e-5, "linear")
        let plain = Tensor.matmul(x, Tensor(shape: [7, 5], storage: Reference.permute(weight.storage, shape: [5, 7], order: [1, 0])))
        expectClose(plain.storage, expected, atol: 1e-5, "matmul without transpose")
    }

    @Test func intoVariantsReuseTheBufferAndMatchTheAllocatingOnes() {
        var random = TestRandom(seed: 12)
        let x = Tensor(shape: [3, 7], storage: random.floats(21))
        let weight = Tensor(shape: [5, 7], storage: random.floats(35))
        var output = Tensor(shape: [15], repeating: .nan)
        Tensor.matmul(x, weight, transposeB: true, into: &output)
        #expect(output.shape == [3, 5])
        #expect(output == Tensor.linear(x, weight: weight))
        let a = Tensor(shape: [2, 3, 4], storage: random.floats(24))
        var scores = Tensor(shape: [2, 3, 3], repeating: .nan)
        Tensor.batchedMatmul(a, a, transposeB: true, into: &scores)
        #expect(scores == Tensor.batchedMatmul(a, a, transposeB: true))
        #expect(abs(scores[1, 2, 2] - a.slice(outer: 1..<2).storage[8..<12].map { $0 * $0 }.reduce(0, +)) < 1e-5)
    }

    @Test(arguments: [false, true])
    func batchedMatmulMatchesPerBatchReference(transposeB: Bool) {
        var random = TestRandom(seed: 5)
        let (batch, m, n, k) = (6, 7, 3, 5)
        let a = Tensor(shape: [2, 3, m, k], storage: random.floats(batch * m * k))
        let b = Tensor(shape: transposeB ? [2, 3, n, k] : [2, 3, k, n], storage: random.floats(batch * n * k))
        let c = Tensor.batchedMatmul(a, b, transposeB: transposeB, alpha: 0.25)
        #expect(c.shape == [2, 3, m, n])
        for index in 0..<batch {
            let expected = Reference.matmul(
                Array(a.storage[(index * m * k)..<((index + 1) * m * k)]),
                Array(b.storage[(index * n * k)..<((index + 1) * n * k)]),
                m: m, n: n, k: k, transposeB: transposeB, alpha: 0.25)
            expectClose(Array(c.storage[(index * m * n)..<((index + 1) * m * n)]), expected, atol: 1e-5, "batch \(index)")
        }
        let transposedA = Tensor.batchedMatmul(a.permuted([0, 1, 3, 2]), b, transposeA: true, transposeB: transposeB, alpha: 0.25)
        expectClose(transposedA.storage, c.storage, atol: 1e-5, "transposeA flag")
    }
}

@Suite struct ElementwiseTests {
    @Test(arguments: oddExtents)
    func broadcastingAddMulSubMatchNumPyRules(extent: Int) {
        var random = TestRandom(seed: UInt64(extent))
        let a = Tensor(shape: [2, 3, extent], storage: random.floats(6 * extent))
        let row = Tensor(shape: [extent], storage: random.floats(extent))
        let column = Tensor(shape: [2, 1, 1], storage: random.floats(2))
        let sum = a + row
        let product = a * column
        let difference = a - a
        for i in 0..<2 {
            for j in 0..<3 {
                for l in 0..<extent {
                    let flat = (i * 3 + j) * extent + l
                    #expect(sum.storage[flat] == a.storage[flat] + row.storage[l])
                    #expect(product.storage[flat] == a.storage[flat] * column.storage[i])
                    #expect(difference.storage[flat] == 0)
                }
            }
        }
        var inPlace = a
        inPlace.add(row)
        #expect(inPlace == sum)
        #expect(Tensor.broadcastShape([2, 1, 4], [3, 1]) == [2, 3, 4])
        #expect(Tensor.broadcastShape([2, 3], [4]) == nil)
    }

    @Test func generalBroadcastCoversBothSidesStretching() {
        var random = TestRandom(seed: 3)
        let a = Tensor(shape: [3, 1, 5], storage: random.floats(15))
        let b = Tensor(shape: [1, 4, 1], storage: random.floats(4))
        let c = a + b
        #expect(c.shape == [3, 4, 5])
        for i in 0..<3 { for j in 0..<4 { for l in 0..<5 {
            #expect(c[i, j, l] == a[i, 0, l] + b[0, j, 0])
        } } }
    }

    @Test(arguments: Activation.allCases)
    func activationsMatchReferenceFormulas(activation: Activation) {
        var random = TestRandom(seed: 17)
        let values = random.floats(513, in: -6...6) + [0, -0.0, 1e-8, -20, 20]
        let x = Tensor(shape: [values.count], storage: values)
        let y = x.activated(activation)
        let expected: [Float] = values.map { v in
            switch activation {
            case .relu: return max(v, 0)
            case .gelu: return Reference.gelu(v)
            case .geluTanh: return Reference.geluTanh(v)
            case .silu: return Reference.silu(v)
            case .tanh: return Float(Foundation.tanh(Double(v)))
            }
        }
        expectClose(y.storage, expected, rtol: 1e-5, atol: 1e-6, "\(activation)")
        for (i, v) in values.enumerated() { #expect(activation(v) == y.storage[i]) }
    }

    @Test func geluVariantsDifferWhereTheyShould() {
        // Exact GELU(1) = 0.8413447, tanh approximation gives 0.8411920: a swapped
        // implementation fails here even though both are "GELU".
        let x = Tensor(shape: [1], storage: [1])
        #expect(abs(x.activated(.gelu).storage[0] - 0.8413447) < 1e-6)
        #expect(abs(x.activated(.geluTanh).storage[0] - 0.8411920) < 1e-6)
        #expect(Activation(huggingFaceName: "gelu_new") == .geluTanh)
        #expect(Activation(huggingFaceName: "swish") == .silu)
    }
}

@Suite struct NormalizationAndSoftmaxTests {
    @Test(arguments: oddExtents)
    func softmaxAndLogSoftmaxMatchReferenceOnEveryRow(extent: Int) {
        var random = TestRandom(seed: UInt64(extent) + 100)
        let x = Tensor(shape: [3, extent], storage: random.floats(3 * extent, in: -30...30))
        let s = x.softmax()
        let l = x.logSoftmax()
        for row in 0..<3 {
            let slice = Array(x.storage[(row * extent)..<((row + 1) * extent)])
            expectClose(Array(s.storage[(row * extent)..<((row + 1) * extent)]), Reference.softmax(slice), atol: 1e-6, "softmax row \(row)")
            expectClose(Array(l.storage[(row * extent)..<((row + 1) * extent)]), Reference.logSoftmax(slice), rtol: 1e-6, atol: 1e-5, "logSoftmax row \(row)")
        }
    }

    @Test func softmaxIsStableForHugeLogitsAndMaskedRows() {
        let x = Tensor(shape: [3, 3], storage: [1000, 1001, 1002, -.infinity, -.infinity, -.infinity, -Float.greatestFiniteMagnitude, 0, -Float.greatestFiniteMagnitude])
        let s = x.softmax()
        expectClose(Array(s.storage[0..<3]), Reference.softmax([0, 1, 2]), atol: 1e-6, "shifted row")
        #expect(Array(s.storage[3..<6]) == [0, 0, 0])
        #expect(Array(s.storage[6..<9]) == [0, 1, 0])
        let l = x.logSoftmax()
        expectClose(Array(l.storage[0..<3]), Reference.logSoftmax([0, 1, 2]), atol: 1e-5, "log row")
    }

    @Test(arguments: oddExtents)
    func rmsNormHasNoMeanSubtractionAndNoBias(extent: Int) {
        var random = TestRandom(seed: UInt64(extent) + 7)
        let x = Tensor(shape: [2, 3, extent], storage: random.floats(6 * extent, in: 0...3))
        let weight = Tensor(shape: [extent], storage: random.floats(extent))
        let y = x.rmsNormalized(weight: weight, epsilon: 1e-6)
        for row in 0..<6 {
            let slice = Array(x.storage[(row * extent)..<((row + 1) * extent)])
            expectClose(Array(y.storage[(row * extent)..<((row + 1) * extent)]), Reference.rmsNorm(slice, weight: weight.storage, epsilon: 1e-6), rtol: 1e-5, atol: 1e-6, "rms row \(row)")
        }
    }

    @Test(arguments: oddExtents)
    func layerNormMatchesReference(extent: Int) {
        var random = TestRandom(seed: UInt64(extent) + 9)
        let x = Tensor(shape: [4, extent], storage: random.floats(4 * extent, in: -2...5))
        let weight = Tensor(shape: [extent], storage: random.floats(extent))
        let bias = Tensor(shape: [extent], storage: random.floats(extent))
        let y = x.layerNormalized(weight: weight, bias: bias, epsilon: 1e-5)
        for row in 0..<4 {
            let slice = Array(x.storage[(row * extent)..<((row + 1) * extent)])
            expectClose(Array(y.storage[(row * extent)..<((row + 1) * extent)]), Reference.layerNorm(slice, weight: weight.storage, bias: bias.storage, epsilon: 1e-5), rtol: 1e-4, atol: 1e-4, "layerNorm row \(row)")
        }
    }
}

@Suite struct ShapeTests {
    @Test(arguments: [[0, 1, 2], [2, 0, 1], [1, 2, 0], [0, 2, 1], [2, 1, 0]])
    func permuteMatchesIndexArithmetic(order: [Int]) {
        var random = TestRandom(seed: 21)
        let shape = [3, 7, 5]
        let x = Tensor(shape: shape, storage: random.floats(105))
        let y = x.permuted(order)
        #expect(y.shape == order.map { shape[$0] })
        #expect(y.storage == Reference.permute(x.storage, shape: shape, order: order))
    }

    @Test func splitAndMergeHeadsAreInverseAndPlaceHeadsCorrectly() {
        var random = TestRandom(seed: 4)
        let (batch, seqLen, heads, dim) = (2, 7, 3, 4)
        let x = Tensor(shape: [batch, seqLen, heads * dim], storage: random.floats(batch * seqLen * heads * dim))
        let split = x.splitHeads(heads)
        #expect(split.shape == [batch, heads, seqLen, dim])
        for b in 0..<batch { for h in 0..<heads { for s in 0..<seqLen { for d in 0..<dim {
            #expect(split[b, h, s, d] == x[b, s, h * dim + d])
        } } } }
        #expect(split.mergeHeads() == x)
    }

    @Test func concatenateSliceAndReshape() {
        let a = Tensor(shape: [2, 2], storage: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 1], storage: [5, 6])
        let c = Tensor.concatenate([a, b], axis: 1)
        #expect(c.shape == [2, 3])
        #expect(c.storage == [1, 2, 5, 3, 4, 6])
        #expect(Tensor.concatenate([a, a], axis: 0).storage == [1, 2, 3, 4, 1, 2, 3, 4])
        #expect(c.slice(axis: 1, 1..<3).storage == [2, 5, 4, 6])
        #expect(c.slice(outer: 1..<2).storage == [3, 4, 6])
        #expect(c.reshaped([-1]).shape == [6])
        #expect(c.reshaped([3, -1]).shape == [3, 2])
    }

    @Test func embeddingGathersRows() {
        let table = Tensor(shape: [4, 3], storage: (0..<12).map(Float.init))
        let y = Tensor.embedding(table, ids: [3, 0, 3, 1], idShape: [2, 2])
        #expect(y.shape == [2, 2, 3])
        #expect(y.storage == [9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5])
    }
}

@Suite struct ReductionTests {
    @Test(arguments: oddExtents)
    func argmaxAndTopKAgreeWithSorting(extent: Int) {
        var random = TestRandom(seed: UInt64(extent) + 33)
        var values = random.floats(2 * extent)
        if extent > 3 { values[2] = values[1] }  // a tie
        let x = Tensor(shape: [2, extent], storage: values)
        let argmax = x.argmax()
        let top = x.topK(5)
        for row in 0..<2 {
            let slice = Array(values[(row * extent)..<((row + 1) * extent)])
            let sorted = slice.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
            #expect(argmax[row] == sorted[0].offset)
            #expect(top[row].map(\.index) == sorted.prefix(5).map(\.offset))
            #expect(top[row].map(\.value) == sorted.prefix(5).map(\.element))
        }
    }
}

/// The comparison helper must catch a deliberately broken op: a test that could never fail
/// would prove nothing.
@Suite struct BrokenOpDetectionTests {
    @Test func aPerturbedSoftmaxIsCaught() {
        var random = TestRandom(seed: 99)
        let x = Tensor(shape: [7], storage: random.floats(7))
        var broken = x.softmax().storage
        broken[3] += 1e-4
        let result = compare(broken, Reference.softmax(x.storage), atol: 1e-6)!
        #expect(!result.passes)
        #expect(result.worst.index == 3)
    }

    @Test func rmsNormWithMeanSubtractionIsCaught() {
        var random = TestRandom(seed: 98)
        let x = Tensor(shape: [1, 7], storage: random.floats(7, in: 1...2))
        let weight = Tensor(shape: [7], repeating: 1)
        // LayerNorm subtracts the mean; RMS norm must not.
        let wrong = x.layerNormalized(weight: weight, bias: nil, epsilon: 1e-6)
        let right = Reference.rmsNorm(x.storage, weight: weight.storage, epsilon: 1e-6)
        #expect(!(compare(wrong.storage, right, atol: 1e-3)!.passes))
        #expect(compare(x.rmsNormalized(weight: weight, epsilon: 1e-6).storage, right, atol: 1e-5)!.passes)
    }

    @Test func aTransposedGEMMIsCaught() {
        var random = TestRandom(seed: 97)
        let a = random.floats(9)
        let b = random.floats(9)
        let right = Reference.matmul(a, b, m: 3, n: 3, k: 3)
        let wrong = Tensor.matmul(Tensor(shape: [3, 3], storage: a), Tensor(shape: [3, 3], storage: b), transposeB: true)
        #expect(!(compare(wrong.storage, right, atol: 1e-3)!.passes))
    }
}

@Suite struct BLASThreadTests {
    @Test func singleThreadedScopesRestoreTheConfiguredCountEvenWhenTheyOverlap() async {
        let saved = BLAS.threads
        defer { BLAS.threads = saved }
        BLAS.threads = 2
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    BLAS.withSingleThreadedGEMM {
                        #expect(BLAS.activeThreads == 1)
                        #expect(BLAS.threads == 2)
                        usleep(2_000)
                    }
                }
            }
        }
        #expect(BLAS.activeThreads == 2)
        BLAS.withSingleThreadedGEMM { BLAS.threads = 3 }
        #expect(BLAS.activeThreads == 3)
    }
}

@Suite struct GEMVTests {
    @Test(arguments: [(1, 1), (7, 3), (40, 64), (3, 513)])
    func gemvMatchesTheReferenceProductInBothOrientations(shape: (Int, Int)) {
        let (rows, columns) = shape
        var random = TestRandom(seed: UInt64(rows * 100 + columns))
        let lda = columns + 5  // a strided matrix inside a wider buffer
        let a = random.floats(rows * lda)
        let x = random.floats(columns)
        let xt = random.floats(rows)
        var y = [Float](repeating: .nan, count: rows)
        var yt = [Float](repeating: .nan, count: columns)
        BLAS.sgemv(transposeA: false, rows: rows, columns: columns, a: a, lda: lda, x: x, y: &y)
        BLAS.sgemv(transposeA: true, rows: rows, columns: columns, a: a, lda: lda, x: xt, y: &yt)
        let dense = (0..<rows).flatMap { r in a[(r * lda)..<(r * lda + columns)] }
        expectClose(y, Reference.matmul(dense, x, m: rows, n: 1, k: columns), atol: 1e-5, "A·x")
        expectClose(yt, Reference.matmul(xt, dense, m: 1, n: columns, k: rows), atol: 1e-5, "Aᵀ·x")
    }
}
