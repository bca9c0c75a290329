import Foundation
import InparsModels
import InparsTensor
import InparsTestSupport
import Testing

@testable import InparsTraining

/// The strided, multi-worker attention core against the same function composed from plain
/// tensor ops (split heads, batched GEMMs, broadcast adds, softmax and their backwards), with
/// a size large enough that the core fans out over two workers.
@Suite(.serialized) struct T5AttentionCoreTests {
    static let (batch, heads, length, dKV) = (2, 2, 128, 4)

    struct Outputs {
        var context, probabilities, dqkv, dBias: [Float]
    }

    /// The core on a fused `[batch, length, 3·inner]` buffer.
    static func core(
        qkv: Tensor, bias: Tensor, mask: Tensor, dropout: DropoutMask, dContext: Tensor
    ) -> Outputs {
        let inner = heads * dKV
        func layout(_ part: Int) -> T5HeadLayout {
            T5HeadLayout(rowStride: 3 * inner, batchStride: length * 3 * inner, offset: part * inner)
        }
        let (core, context) = T5AttentionCore.forward(
            queries: qkv, queryLayout: layout(0), keys: qkv, keyLayout: layout(1), values: qkv,
            valueLayout: layout(2), batch: batch, numHeads: heads, dKV: dKV, queryLength: length,
            keyLength: length, bias: bias, mask: mask, dropout: dropout)
        var dBias = Tensor(zeros: bias.shape)
        var dqkv = Tensor(zeros: qkv.shape)
        dqkv.storage.withUnsafeMutableBufferPointer { pd in
            dBias.storage.withUnsafeMutableBufferPointer { pb in
                core.backward(
                    dContext, dQueries: pd.baseAddress!, dKeys: pd.baseAddress!,
                    dValues: pd.baseAddress!, biasGradient: pb.baseAddress!)
            }
        }
        return Outputs(
            context: context.storage, probabilities: core.probabilities.storage,
            dqkv: dqkv.storage, dBias: dBias.storage)
    }

    /// The same with contiguous heads and the generic ops.
    static func reference(
        qkv: Tensor, bias: Tensor, mask: Tensor, dropout: DropoutMask, dContext: Tensor
    ) -> Outputs {
        let inner = heads * dKV
        let q = qkv.slice(axis: 2, 0..<inner).splitHeads(heads)
        let k = qkv.slice(axis: 2, inner..<(2 * inner)).splitHeads(heads)
        let v = qkv.slice(axis: 2, (2 * inner)..<(3 * inner)).splitHeads(heads)
        let probabilities = (Tensor.batchedMatmul(q, k, transposeB: true) + bias + mask).softmax()
        let dropped = dropout.applied(to: probabilities)
        let context = Tensor.batchedMatmul(dropped, v).mergeHeads()
        var (dDropped, dv) = Tensor.batchedMatmulBackward(
            outputGradient: dContext.splitHeads(heads), dropped, v)
        dropout.apply(to: &dDropped)
        let dScores = Tensor.softmaxBackward(output: probabilities, outputGradient: dDropped)
        let (dq, dk) = Tensor.batchedMatmulBackward(
            outputGradient: dScores, q, k, transposeB: true)
        let dqkv = Tensor.concatenate(
            [dq.mergeHeads(), dk.mergeHeads(), dv.mergeHeads()], axis: 2)
        return Outputs(
            context: context.storage, probabilities: probabilities.storage,
            dqkv: dqkv.storage, dBias: dScores.summed(toShape: bias.shape).storage)
    }

    @Test(arguments: [Float(0), 0.2])
    func matchesTheComposedOpsOnOneAndTwoWorkers(dropoutRate: Float) {
        var random = TestRandom(seed: 11)
        let inner = Self.heads * Self.dKV
        let qkv = Tensor(
            shape: [Self.batch, Self.length, 3 * inner],
            storage: random.floats(Self.batch * Self.length * 3 * inner, in: -2...2))
        let bias = Tensor(
            shape: [1, Self.heads, Self.length, Self.length],
            storage: random.floats(Self.heads * Self.length * Self.length))
        // Entry 1 has 100 real tokens, the rest padding.
        let mask = AttentionMask.padding(lengths: [Self.length, 100], maxLength: Self.length)
        let dContext = Tensor(
            shape: [Self.batch, Self.length, inner],
            storage: random.floats(Self.batch * Self.length * inner))
        let dropout = DropoutMask(rate: dropoutRate, seed: 99)

        let expected = Self.reference(
            qkv: qkv, bias: bias, mask: mask, dropout: dropout, dContext: dContext)
        let threads = BLAS.threads
        defer { BLAS.threads = threads }
        BLAS.threads = 2
        let parallel = Self.core(
            qkv: qkv, bias: bias, mask: mask, dropout: dropout, dContext: dContext)
        BLAS.threads = 1
        let serial = Self.core(
            qkv: qkv, bias: bias, mask: mask, dropout: dropout, dContext: dContext)

        let pairs: [(String, [Float], [Float])] = [
            ("context", parallel.context, expected.context),
            ("probabilities", parallel.probabilities, expected.probabilities),
            ("dqkv", parallel.dqkv, expected.dqkv),
            ("dBias", parallel.dBias, expected.dBias),
        ]
        for (name, actual, reference) in pairs {
            let result = compare(actual, reference, rtol: 1e-4, atol: 1e-5)
            #expect(result?.passes == true, "\(name): \(String(describing: result?.worst))")
        }
        // Padded keys get no probability.
        #expect(parallel.probabilities[Self.heads * Self.length * Self.length + 100] == 0)
        // Each head is handled by one worker in a fixed order: thread count changes nothing.
        #expect(parallel.context == serial.context)
        #expect(parallel.dqkv == serial.dqkv)
        #expect(parallel.dBias == serial.dBias)
    }
}
