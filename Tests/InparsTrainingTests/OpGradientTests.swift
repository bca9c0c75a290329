import Foundation
import InparsTensor
import InparsTestSupport
import Testing

@testable import InparsModels

/// Finite-difference checks of every backward op the T5 forward pass uses (see GradientCheck).
@Suite struct OpGradientTests {
    @Test func linearGradientsMatchFiniteDifferencesAndAccumulate() {
        var random = TestRandom(seed: 1)
        let x = random.tensor([2, 3, 7])
        let w = random.tensor([5, 7])
        let r = random.tensor([2, 3, 5])
        let earlier = random.tensor([5, 7])
        var dW = earlier
        let dx = Tensor.linearBackward(outputGradient: r, input: x, weight: w, weightGradient: &dW)
        let objective = { (xs: [Double], ws: [Double]) in
            DoubleOps.project(
                DoubleOps.matmul(xs, ws, m: 6, n: 5, k: 7, transposeB: true), r.storage)
        }
        let wd = w.storage.map(Double.init)
        let xd = x.storage.map(Double.init)
        let vx = GradientCheck.check(dx.storage, at: x.storage) { objective($0, wd) }
        #expect(vx.passes, "\(vx)")
        // beta = 1: the weight gradient is added to what the buffer held.
        let added = (0..<dW.count).map { dW.storage[$0] - earlier.storage[$0] }
        let vw = GradientCheck.check(added, at: w.storage) { objective(xd, $0) }
        #expect(vw.passes, "\(vw)")
    }

    @Test(arguments: [false, true])
    func matmulGradientsMatchFiniteDifferences(transposeB: Bool) {
        var random = TestRandom(seed: 2)
        let x = random.tensor([5, 3])
        let w = random.tensor(transposeB ? [4, 3] : [3, 4])
        let r = random.tensor([5, 4])
        var dW = Tensor(zeros: w.shape)
        let dx = Tensor.matmulBackward(
            outputGradient: r, input: x, weight: w, transposeB: transposeB, alpha: 0.75,
            weightGradient: &dW)
        let objective = { (xs: [Double], ws: [Double]) in
            DoubleOps.project(
                DoubleOps.matmul(xs, ws, m: 5, n: 4, k: 3, transposeB: transposeB, alpha: 0.75),
                r.storage)
        }
        let vx = GradientCheck.check(dx.storage, at: x.storage) {
            objective($0, w.storage.map(Double.init))
        }
        let vw = GradientCheck.check(dW.storage, at: w.storage) {
            objective(x.storage.map(Double.init), $0)
        }
        #expect(vx.passes, "\(vx)")
        #expect(vw.passes, "\(vw)")
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func batchedMatmulGradientsMatchFiniteDifferences(transposeA: Bool, transposeB: Bool) {
        var random = TestRandom(seed: 3)
        let (batch, m, k, n) = (3, 5, 3, 4)
        let a = random.tensor(transposeA ? [batch, k, m] : [batch, m, k])
        let b = random.tensor(transposeB ? [batch, n, k] : [batch, k, n])
        let r = random.tensor([batch, m, n])
        let grads = Tensor.batchedMatmulBackward(
            outputGradient: r, a, b, transposeA: transposeA, transposeB: transposeB, alpha: 1.5)
        // The forward itself must agree with the Double reference the objective uses.
        let forward = Tensor.batchedMatmul(
            a, b, transposeA: transposeA, transposeB: transposeB, alpha: 1.5)
        let objective = { (as_: [Double], bs: [Double]) -> Double in
            var y = [Double]()
            for i in 0..<batch {
                y += DoubleOps.matmul(
                    Array(as_[(i * m * k)..<((i + 1) * m * k)]),
                    Array(bs[(i * k * n)..<((i + 1) * k * n)]), m: m, n: n, k: k,
                    transposeA: transposeA, transposeB: transposeB, alpha: 1.5)
            }
            return DoubleOps.project(y, r.storage)
        }
        let ad = a.storage.map(Double.init)
        let bd = b.storage.map(Double.init)
        #expect(
            abs(
                Double(DoubleOps.project(forward.storage.map(Double.init), r.storage))
                    - objective(ad, bd)) < 1e-4)
        let va = GradientCheck.check(grads.a.storage, at: a.storage) { objective($0, bd) }
        let vb = GradientCheck.check(grads.b.storage, at: b.storage) { objective(ad, $0) }
        #expect(va.passes, "\(va)")
        #expect(vb.passes, "\(vb)")
    }

    @Test func embeddingGradientScatterAddsRepeatedIds() {
        var random = TestRandom(seed: 4)
        let table = random.tensor([11, 5])
        let ids: [Int32] = [3, 0, 3, 10, 7, 3, 0]
        let r = random.tensor([7, 5])
        var dTable = Tensor(zeros: [11, 5])
        Tensor.embeddingBackward(outputGradient: r, ids: ids, tableGradient: &dTable)
        let v = GradientCheck.check(dTable.storage, at: table.storage) { t in
            var y = [Double]()
            for id in ids { y += t[(Int(id) * 5)..<(Int(id) * 5 + 5)] }
            return DoubleOps.project(y, r.storage)
        }
        #expect(v.passes, "\(v)")
    }

    @Test func rmsNormGradientsMatchFiniteDifferences() {
        var random = TestRandom(seed: 5)
        let x = random.tensor([3, 2, 7], in: -2...2)
        let w = random.tensor([7], in: 0.5...1.5)
        let r = random.tensor([3, 2, 7])
        var dW = Tensor(zeros: [7])
        let dx = Tensor.rmsNormBackward(
            outputGradient: r, input: x, weight: w, epsilon: 1e-6, weightGradient: &dW)
        let vx = GradientCheck.check(dx.storage, at: x.storage) {
            DoubleOps.project(
                DoubleOps.rmsNorm($0, weight: w.storage.map(Double.init), epsilon: 1e-6), r.storage)
        }
        let vw = GradientCheck.check(dW.storage, at: w.storage) {
            DoubleOps.project(
                DoubleOps.rmsNorm(x.storage.map(Double.init), weight: $0, epsilon: 1e-6), r.storage)
        }
        #expect(vx.passes, "\(vx)")
        #expect(vw.passes, "\(vw)")
    }

    @Test func layerNormGradientsMatchFiniteDifferences() {
        var random = TestRandom(seed: 6)
        let x = random.tensor([3, 2, 11], in: -2...2)
        let w = random.tensor([11], in: 0.5...1.5)
        let b = random.tensor([11])
        let r = random.tensor([3, 2, 11])
        var dW = Tensor(zeros: [11])
        var dB = Tensor(zeros: [11])
        let dx = Tensor.layerNormBackward(
            outputGradient: r, input: x, weight: w, epsilon: 1e-5, weightGradient: &dW,
            biasGradient: &dB)
        func layerNorm(_ x: [Double], _ w: [Double], _ b: [Double]) -> [Double] {
            stride(from: 0, to: x.count, by: 11).flatMap { start -> [Double] in
                let row = x[start..<(start + 11)]
                let mean = row.reduce(0, +) / 11
                let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 11
                return row.enumerated().map { i, v in
                    (v - mean) / (variance + 1e-5).squareRoot() * w[i] + b[i]
                }
            }
        }
        let (xd, wd, bd) = (x.storage.map(Double.init), w.storage.map(Double.init), b.storage.map(Double.init))
        let vx = GradientCheck.check(dx.storage, at: x.storage) {
            DoubleOps.project(layerNorm($0, wd, bd), r.storage)
        }
        let vw = GradientCheck.check(dW.storage, at: w.storage) {
            DoubleOps.project(layerNorm(xd, $0, bd), r.storage)
        }
        let vb = GradientCheck.check(dB.storage, at: b.storage) {
            DoubleOps.project(layerNorm(xd, wd, $0), r.storage)
        }
        #expect(vx.passes, "\(vx)")
        #expect(vw.passes, "\(vw)")
        #expect(vb.passes, "\(vb)")
    }

    /// Attention probabilities `softmax(scores + bias + mask)` with T5's relative position bias
    /// looked up from its bucket table and a padding mask: gradients of the scores, of the bias
    /// (summed over the batch, per key − query offset) and of the bucket table.
    @Test func maskedSoftmaxWithPositionBiasGradientsMatchFiniteDifferences() {
        var random = TestRandom(seed: 6)
        let (batch, heads, q, k, numBuckets) = (2, 3, 4, 5, 6)
        let scores = random.tensor([batch, heads, q, k], in: -3...3)
        var table = ParameterTable()
        let slot = table.add("relative_attention_bias", shape: [numBuckets, heads])
        let weights = try! ParameterStore(
            table: table, checkpoint: ["relative_attention_bias": random.tensor([numBuckets, heads])])
        let positionBias = T5RelativePositionBias(
            table: slot, bidirectional: true, numBuckets: numBuckets, numHeads: heads,
            maxDistance: 8)
        let offsets = positionBias.offsets(weights, queryLength: q, keyLength: k)
        let lengths = [5, 3]
        let r = random.tensor([batch, heads, q, k])
        // Forward in Float, as the model does it (a dense bias and mask only in this test).
        var bias = Tensor(zeros: [1, heads, q, k])
        var mask = Tensor(zeros: [batch, 1, 1, k])
        for h in 0..<heads {
            for i in 0..<q {
                for j in 0..<k {
                    bias.storage[(h * q + i) * k + j] =
                        offsets.values[offsets.rowStart(head: h, row: i) + j]
                }
            }
        }
        for b in 0..<batch {
            for j in lengths[b]..<k { mask.storage[b * k + j] = -Float.greatestFiniteMagnitude }
        }
        let probabilities = (scores + bias + mask).softmax()
        let dScores = Tensor.softmaxBackward(output: probabilities, outputGradient: r)
        let dBias = dScores.summed(toShape: [1, heads, q, k])
        var offsetGradient = [Float](repeating: 0, count: heads * offsets.width)
        for h in 0..<heads {
            for i in 0..<q {
                for j in 0..<k {
                    offsetGradient[offsets.rowStart(head: h, row: i) + j] +=
                        dBias.storage[(h * q + i) * k + j]
                }
            }
        }
        var gradients = weights.zeros()
        positionBias.backward(offsetGradient: offsetGradient, bias: offsets, gradients: &gradients)
        let dTable = gradients[slot]
        #expect(dScores.storage[1 * heads * q * k + 4] == 0, "a masked key gets no gradient")

        let maskD = mask.storage.map { $0 < 0 ? -Double.infinity : 0 }
        func bucket(_ i: Int, _ j: Int) -> Int {
            T5RelativePositionBias.bucket(
                relativePosition: j - i, bidirectional: true, numBuckets: numBuckets,
                maxDistance: 8)
        }
        func objective(_ s: [Double], _ t: [Double]) -> Double {
            var x = s
            for b in 0..<batch {
                for h in 0..<heads {
                    for i in 0..<q {
                        for j in 0..<k {
                            let flat = ((b * heads + h) * q + i) * k + j
                            x[flat] += t[bucket(i, j) * heads + h] + maskD[b * k + j]
                        }
                    }
                }
            }
            return DoubleOps.project(DoubleOps.softmaxRows(x, width: k), r.storage)
        }
        let sd = scores.storage.map(Double.init)
        let td = weights[slot].storage.map(Double.init)
        let vs = GradientCheck.check(dScores.storage, at: scores.storage) { objective($0, td) }
        let vt = GradientCheck.check(dTable.storage, at: weights[slot].storage) {
            objective(sd, $0)
        }
        #expect(vs.passes, "\(vs)")
        #expect(vt.passes, "\(vt)")
        // The offset gradient itself, against differences in the per-offset bias vectors.
        let vb = GradientCheck.check(offsetGradient, at: offsets.values) { o in
            var x = sd
            for n in 0..<batch {
                for h in 0..<heads {
                    for i in 0..<q {
                        for j in 0..<k {
                            x[((n * heads + h) * q + i) * k + j] +=
                                o[offsets.rowStart(head: h, row: i) + j] + maskD[n * k + j]
                        }
                    }
                }
            }
            return DoubleOps.project(DoubleOps.softmaxRows(x, width: k), r.storage)
        }
        #expect(vb.passes, "\(vb)")
    }

    @Test(arguments: Activation.allCases)
    func activationGradientMatchesFiniteDifferences(_ activation: Activation) {
        var random = TestRandom(seed: 7)
        let x = random.tensor([3, 11], in: -3...3)
        let r = random.tensor([3, 11])
        let dx = Tensor.activationBackward(activation, outputGradient: r, input: x)
        let v = GradientCheck.check(dx.storage, at: x.storage) {
            DoubleOps.project($0.map { DoubleOps.activation(activation, $0) }, r.storage)
        }
        #expect(v.passes, "\(v)")
    }

    @Test(arguments: [Activation.geluTanh, .gelu, .relu])
    func gatedActivationGradientsMatchFiniteDifferences(_ activation: Activation) {
        var random = TestRandom(seed: 8)
        let gate = random.tensor([3, 7], in: -3...3)
        let linear = random.tensor([3, 7], in: -2...2)
        let r = random.tensor([3, 7])
        // One fused projection: gate then linear in each row.
        let fused = Tensor.concatenate([gate, linear], axis: 1)
        let h = Tensor.gatedActivation(activation, fused: fused)
        let expected = (gate.activated(activation) * linear).storage
        #expect(compare(h.storage, expected, atol: 1e-6)!.passes)
        let dFused = Tensor.gatedActivationBackward(activation, outputGradient: r, fused: fused)
        let grads = (gate: dFused.slice(axis: 1, 0..<7), linear: dFused.slice(axis: 1, 7..<14))
        func objective(_ g: [Double], _ l: [Double]) -> Double {
            DoubleOps.project(
                (0..<g.count).map { DoubleOps.activation(activation, g[$0]) * l[$0] }, r.storage)
        }
        let vg = GradientCheck.check(grads.gate.storage, at: gate.storage) {
            objective($0, linear.storage.map(Double.init))
        }
        let vl = GradientCheck.check(grads.linear.storage, at: linear.storage) {
            objective(gate.storage.map(Double.init), $0)
        }
        #expect(vg.passes, "\(vg)")
        #expect(vl.passes, "\(vl)")
    }

    @Test func dropoutMaskIsSeededScaledAndItsOwnBackward() {
        var random = TestRandom(seed: 9)
        let x = random.tensor([40, 50], in: 0.5...1.5)
        let mask = DropoutMask(rate: 0.3, seed: 42)
        let y = mask.applied(to: x)
        // Every element is either dropped or scaled by exactly 1/(1 − p).
        var kept = 0
        for i in 0..<x.count where y.storage[i] != 0 {
            kept += 1
            #expect(abs(y.storage[i] - x.storage[i] / 0.7) <= 1e-6 * abs(y.storage[i]))
        }
        let fraction = Double(kept) / Double(x.count)
        #expect(abs(fraction - 0.7) < 0.03, "kept \(fraction)")
        #expect(DropoutMask(rate: 0.3, seed: 42).applied(to: x) == y, "same seed, same mask")
        #expect(DropoutMask(rate: 0.3, seed: 43).applied(to: x) != y, "another seed, another mask")
        // Backward: the same mask applied to the output gradient, checked by differences of the
        // (linear) masked objective; the mask is read off by applying it to ones.
        let small = random.tensor([7, 9])
        let keep = mask.applied(to: Tensor(shape: small.shape, repeating: 1)).storage.map(
            Double.init)
        let r = random.tensor(small.shape)
        let dx = mask.applied(to: r)
        let v = GradientCheck.check(dx.storage, at: small.storage) { xs in
            DoubleOps.project((0..<xs.count).map { xs[$0] * keep[$0] }, r.storage)
        }
        #expect(v.passes, "\(v)")
        #expect(DropoutMask(rate: 0, seed: 1).applied(to: x) == x)
    }

    @Test func broadcastAddMultiplyAndScaleGradientsMatchFiniteDifferences() {
        var random = TestRandom(seed: 10)
        let a = random.tensor([2, 3, 5])
        let b = random.tensor([3, 1])
        let r = random.tensor([2, 3, 5])
        let bd = b.storage.map(Double.init)
        let ad = a.storage.map(Double.init)
        let sum = Tensor.addBackward(outputGradient: r, aShape: a.shape, bShape: b.shape)
        let product = Tensor.multiplyBackward(outputGradient: r, a, b)
        func objective(_ x: [Double], _ y: [Double], multiply: Bool) -> Double {
            let yb = DoubleOps.broadcast(y, from: [3, 1], to: [2, 3, 5])
            return DoubleOps.project(
                (0..<x.count).map { multiply ? x[$0] * yb[$0] : x[$0] + yb[$0] }, r.storage)
        }
        for (grads, multiply) in [(sum, false), (product, true)] {
            let va = GradientCheck.check(grads.a.storage, at: a.storage) {
                objective($0, bd, multiply: multiply)
            }
            let vb = GradientCheck.check(grads.b.storage, at: b.storage) {
                objective(ad, $0, multiply: multiply)
            }
            #expect(va.passes, "\(va)")
            #expect(vb.passes, "\(vb)")
        }
        let scaled = r * Float(0.3)
        let vs = GradientCheck.check(scaled.storage, at: a.storage) {
            DoubleOps.project($0.map { $0 * Double(Float(0.3)) }, r.storage)
        }
        #expect(vs.passes, "\(vs)")
    }

    @Test func headSplitAndMergeBackwardsInvertThePermutation() {
        var random = TestRandom(seed: 11)
        // A permutation moves elements; its Double reference is the index map it applies
        // (indices are exact in Float).
        func indexMap(_ shape: [Int], _ op: (Tensor) -> Tensor) -> [Int] {
            let count = shape.reduce(1, *)
            return op(Tensor(shape: shape, storage: (0..<count).map(Float.init))).storage.map {
                Int($0)
            }
        }
        let x = random.tensor([2, 3, 6])
        let r = random.tensor([2, 2, 3, 3])
        // splitHeads is a permutation of a reshape: its backward is mergeHeads of the gradient.
        let dx = r.mergeHeads()
        let split = indexMap([2, 3, 6]) { $0.splitHeads(2) }
        let v = GradientCheck.check(dx.storage, at: x.storage) { xs in
            DoubleOps.project(split.map { xs[$0] }, r.storage)
        }
        #expect(v.passes, "\(v)")
        let order = [2, 0, 1]
        let p = random.tensor([3, 4, 5])
        let rp = random.tensor([5, 3, 4])
        let back = rp.unpermuted(order)
        let permutation = indexMap([3, 4, 5]) { $0.permuted(order) }
        let vp = GradientCheck.check(back.storage, at: p.storage) { xs in
            DoubleOps.project(permutation.map { xs[$0] }, rp.storage)
        }
        #expect(vp.passes, "\(vp)")
    }

    @Test func tiedLMHeadGradientsIncludeTheRescale() {
        var random = TestRandom(seed: 12)
        let hidden = random.tensor([4, 6])
        let embedding = random.tensor([9, 6])
        let r = random.tensor([4, 9])
        var dE = Tensor(zeros: [9, 6])
        // T5 v1.0's tied head: `logits = (h · dModel^-0.5) · Eᵀ`, the rescale as GEMM alpha.
        let dh = LinearWeight(embedding).backward(
            outputGradient: r, input: hidden, alpha: 1 / Float(6).squareRoot(),
            weightGradient: &dE)
        let scale = 1 / 6.0.squareRoot()
        func objective(_ h: [Double], _ e: [Double]) -> Double {
            DoubleOps.project(
                DoubleOps.matmul(h.map { $0 * scale }, e, m: 4, n: 9, k: 6, transposeB: true),
                r.storage)
        }
        let vh = GradientCheck.check(dh.storage, at: hidden.storage) {
            objective($0, embedding.storage.map(Double.init))
        }
        let ve = GradientCheck.check(dE.storage, at: embedding.storage) {
            objective(hidden.storage.map(Double.init), $0)
        }
        #expect(vh.passes, "\(vh)")
        #expect(ve.passes, "\(ve)")
    }

    @Test func crossEntropyIgnoresMinus100AndAveragesOverKeptTargets() {
        var random = TestRandom(seed: 13)
        let logits = random.tensor([2, 3, 7], in: -4...4)
        let targets: [Int32] = [3, -100, 0, 6, -100, 2]
        let result = Tensor.crossEntropy(logits: logits, targets: targets)
        #expect(result.count == 4)
        let reference = DoubleOps.crossEntropy(
            logits.storage.map(Double.init), targets: targets, vocab: 7)
        #expect(abs(Double(result.loss) - reference) <= 1e-6 * abs(reference))
        let v = GradientCheck.check(result.gradient.storage, at: logits.storage) {
            DoubleOps.crossEntropy($0, targets: targets, vocab: 7)
        }
        #expect(v.passes, "\(v)")
        #expect(
            result.gradient.storage[7..<14].allSatisfy { $0 == 0 }, "ignored row has no gradient")
        let none = Tensor.crossEntropy(logits: logits, targets: [Int32](repeating: -100, count: 6))
        #expect(none.loss.isNaN && none.count == 0 && none.gradient.storage.allSatisfy { $0 == 0 })
    }
}
