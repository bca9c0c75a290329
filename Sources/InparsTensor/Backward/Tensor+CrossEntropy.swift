import Foundation

extension Tensor {
    /// Target value that contributes neither loss nor gradient (PyTorch's default
    /// `ignore_index`, used by Hugging Face T5 for padded labels).
    public static let ignoreIndex: Int32 = -100

    /// Mean cross-entropy of `logits` against `targets` and its gradient, in one pass, as
    /// `torch.nn.CrossEntropyLoss(ignore_index=-100)` (reduction `mean` over the non-ignored
    /// targets, which is what Hugging Face T5 computes from `labels`).
    ///
    /// The loss is accumulated in `Double`. The gradient of row `r` with a kept target `t` is
    /// `(softmax(logits_r) − onehot(t)) / count`; ignored rows get zero gradient. With no kept
    /// target the loss is NaN (as PyTorch's `0/0`) and the gradient is zero.
    ///
    /// - Parameters:
    ///   - logits: `[..., vocab]`, one row per target.
    ///   - targets: `logits.rowCount` ids in `0..<vocab`, or `ignoreIndex`.
    /// - Returns: the mean loss, the number of kept targets, and `dlogits` shaped like `logits`.
    public static func crossEntropy(
        logits: Tensor, targets: [Int32], ignoreIndex: Int32 = Tensor.ignoreIndex
    ) -> (loss: Float, count: Int, gradient: Tensor) {
        let vocab = logits.lastDimension
        let rows = logits.rowCount
        precondition(
            targets.count == rows, "crossEntropy: \(targets.count) targets for \(rows) rows")
        let count = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
        let inverseCount = count == 0 ? 0 : 1 / Float(count)
        var total = 0.0
        let gradient = Tensor(shape: logits.shape) { pg in
            logits.storage.withUnsafeBufferPointer { pl in
                for row in 0..<rows {
                    let base = row * vocab
                    let target = targets[row]
                    if target == ignoreIndex {
                        for j in 0..<vocab { pg[base + j] = 0 }
                        continue
                    }
                    precondition(
                        target >= 0 && Int(target) < vocab,
                        "target \(target) outside vocabulary of \(vocab)")
                    var maximum = -Float.infinity
                    for j in 0..<vocab where pl[base + j] > maximum { maximum = pl[base + j] }
                    var sum = 0.0
                    for j in 0..<vocab {
                        let e = expf(pl[base + j] - maximum)
                        pg[base + j] = e
                        sum += Double(e)
                    }
                    total += Double(maximum) + log(sum) - Double(pl[base + Int(target)])
                    let factor = Float(1 / sum) * inverseCount
                    for j in 0..<vocab { pg[base + j] *= factor }
                    pg[base + Int(target)] -= inverseCount
                }
            }
        }
        let loss = count == 0 ? Float.nan : Float(total / Double(count))
        return (loss, count, gradient)
    }
}

extension Tensor {
    /// Mean binary cross-entropy of logits against 0/1 (or soft) targets and its gradient, as
    /// `torch.nn.BCEWithLogitsLoss()` (reduction `mean`): per element
    /// `max(x, 0) − x·y + log(1 + e^{−|x|})`, gradient `(σ(x) − y) / n`. The loss is
    /// accumulated in `Double`.
    ///
    /// - Parameters:
    ///   - logits: any shape, `n` elements.
    ///   - targets: `n` values in `[0, 1]`.
    /// - Returns: the mean loss and `dlogits` shaped like `logits`.
    public static func binaryCrossEntropy(logits: Tensor, targets: [Float]) -> (
        loss: Float, gradient: Tensor
    ) {
        precondition(
            targets.count == logits.count && !targets.isEmpty,
            "binaryCrossEntropy: \(targets.count) targets for \(logits.count) logits")
        let inverseCount = 1 / Float(targets.count)
        var total = 0.0
        let gradient = Tensor(shape: logits.shape) { pg in
            logits.storage.withUnsafeBufferPointer { pl in
                for i in 0..<targets.count {
                    let (x, y) = (pl[i], targets[i])
                    total += Double(max(x, 0) - x * y) + Double(log1pf(expf(-abs(x))))
                    pg[i] = (1 / (1 + expf(-x)) - y) * inverseCount
                }
            }
        }
        return (Float(total / Double(targets.count)), gradient)
    }
}
