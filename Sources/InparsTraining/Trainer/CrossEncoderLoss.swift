import Foundation
import InparsTensor

/// The training losses of a cross-encoder, on its `[batch, numLabels]` logits.
public enum CrossEncoderLoss {
    /// Pointwise relevance classification (InPars-light, the InPars toolkit): binary
    /// cross-entropy on the logit for a 1-label head (`BCEWithLogitsLoss`, what
    /// sentence-transformers' `CrossEncoder` uses), cross-entropy over the two labels for a
    /// 2-label head (label 1 = relevant), each the mean over the batch.
    ///
    /// - Parameters:
    ///   - numLabels: 1 or 2.
    ///   - relevant: one flag per batch row.
    /// - Returns: the loss of the logits and its gradient.
    public static func pointwise(numLabels: Int, relevant: [Bool]) -> (Tensor) -> (
        loss: Float, gradient: Tensor
    ) {
        precondition(numLabels == 1 || numLabels == 2, "\(numLabels) labels")
        if numLabels == 1 {
            let targets = relevant.map { $0 ? Float(1) : 0 }
            return { Tensor.binaryCrossEntropy(logits: $0, targets: targets) }
        }
        let targets = relevant.map { Int32($0 ? 1 : 0) }
        return {
            let result = Tensor.crossEntropy(logits: $0, targets: targets)
            return (result.loss, result.gradient)
        }
    }

    /// Margin-MSE (Hofstätter et al. 2020, as GPL trains with it): the batch holds triples as
    /// consecutive rows (positive, then negative); with the student's relevance scores `s` (the
    /// logit, or `log_softmax(logits)[1]` for two labels: what the scorer reports) the loss is
    /// `mean_i ((s⁺ᵢ − s⁻ᵢ) − mᵢ)²` over the triples, `mᵢ` the teacher's margin `t⁺ᵢ − t⁻ᵢ`.
    ///
    /// - Parameter teacherMargins: one per triple (half the batch rows).
    public static func marginMSE(numLabels: Int, teacherMargins: [Float]) -> (Tensor) -> (
        loss: Float, gradient: Tensor
    ) {
        precondition(numLabels == 1 || numLabels == 2, "\(numLabels) labels")
        return { logits in
            let rows = logits.shape[0]
            precondition(
                rows == 2 * teacherMargins.count, "\(rows) rows for \(teacherMargins.count) triples")
            // The score of each row and its derivative with respect to the row's logits.
            var scores = [Float](repeating: 0, count: rows)
            var derivatives = [Float](repeating: 0, count: rows * numLabels)
            for row in 0..<rows {
                let z = Array(logits.storage[(row * numLabels)..<((row + 1) * numLabels)])
                if numLabels == 1 {
                    scores[row] = z[0]
                    derivatives[row] = 1
                } else {
                    let maximum = max(z[0], z[1])
                    let (e0, e1) = (expf(z[0] - maximum), expf(z[1] - maximum))
                    scores[row] = z[1] - maximum - logf(e0 + e1)
                    derivatives[2 * row] = -e0 / (e0 + e1)
                    derivatives[2 * row + 1] = e0 / (e0 + e1)
                }
            }
            var total = 0.0
            var gradient = Tensor(zeros: logits.shape)
            let scale = 2 / Float(teacherMargins.count)
            for (triple, margin) in teacherMargins.enumerated() {
                let difference = scores[2 * triple] - scores[2 * triple + 1] - margin
                total += Double(difference) * Double(difference)
                for label in 0..<numLabels {
                    gradient.storage[2 * triple * numLabels + label] =
                        scale * difference * derivatives[2 * triple * numLabels + label]
                    gradient.storage[(2 * triple + 1) * numLabels + label] =
                        -scale * difference * derivatives[(2 * triple + 1) * numLabels + label]
                }
            }
            return (Float(total / Double(teacherMargins.count)), gradient)
        }
    }
}
