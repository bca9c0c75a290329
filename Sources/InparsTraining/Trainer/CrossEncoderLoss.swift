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
}
