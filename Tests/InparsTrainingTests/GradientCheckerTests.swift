import Foundation
import InparsTensor
import InparsTestSupport
import Testing

/// The checker itself must flag broken gradients, or the passing checks mean nothing.
@Suite struct GradientCheckerTests {
    @Test func oneWrongElementIsFlagged() {
        var random = TestRandom(seed: 20)
        let x = random.tensor([3, 5], in: -2...2)
        let r = random.tensor([3, 5])
        var dx = Tensor.softmaxBackward(output: x.softmax(), outputGradient: r)
        let objective = { (xs: [Double]) in
            DoubleOps.project(DoubleOps.softmaxRows(xs, width: 5), r.storage)
        }
        #expect(GradientCheck.check(dx.storage, at: x.storage, objective).passes)
        dx.storage[7] += 2e-3
        let verdict = GradientCheck.check(dx.storage, at: x.storage, objective)
        #expect(!verdict.passes)
        #expect(verdict.worstIndex == 7)
    }

    @Test func softmaxBackwardWithoutTheRowCorrectionIsFlagged() {
        var random = TestRandom(seed: 21)
        let x = random.tensor([3, 5], in: -2...2)
        let r = random.tensor([3, 5])
        let y = x.softmax()
        let broken = y * r  // forgets the − Σ y·dy term
        let verdict = GradientCheck.check(broken.storage, at: x.storage) {
            DoubleOps.project(DoubleOps.softmaxRows($0, width: 5), r.storage)
        }
        #expect(!verdict.passes)
    }

    @Test func rmsNormBackwardWithoutTheNormTermIsFlagged() {
        var random = TestRandom(seed: 22)
        let x = random.tensor([2, 7], in: -2...2)
        let w = random.tensor([7], in: 0.5...1.5)
        let r = random.tensor([2, 7])
        // Treats the normaliser as a constant: dx = r · w · dy only.
        var broken = [Float](repeating: 0, count: 14)
        for row in 0..<2 {
            let slice = x.storage[(row * 7)..<(row * 7 + 7)]
            let inverse = 1 / (slice.map { $0 * $0 }.reduce(0, +) / 7 + 1e-6).squareRoot()
            for i in 0..<7 { broken[row * 7 + i] = inverse * w.storage[i] * r.storage[row * 7 + i] }
        }
        let verdict = GradientCheck.check(broken, at: x.storage) {
            DoubleOps.project(
                DoubleOps.rmsNorm($0, weight: w.storage.map(Double.init), epsilon: 1e-6), r.storage)
        }
        #expect(!verdict.passes)
    }

    @Test func swappedGELUDerivativeIsFlagged() {
        var random = TestRandom(seed: 23)
        let x = random.tensor([2, 9], in: -3...3)
        let r = random.tensor([2, 9])
        // The exact-GELU derivative used for the tanh approximation differs by ~1e-3 somewhere.
        let wrong = Tensor.activationBackward(.gelu, outputGradient: r, input: x)
        let verdict = GradientCheck.check(wrong.storage, at: x.storage, rtol: 1e-4, atol: 1e-5) {
            DoubleOps.project($0.map { DoubleOps.activation(.geluTanh, $0) }, r.storage)
        }
        #expect(!verdict.passes)
    }
}
