/// One generated sequence (T5 and the causal LMs).
public struct GeneratedSequence: Sendable, Equatable {
    /// Why generation stopped.
    public enum Stop: String, Sendable, Equatable {
        /// The model produced EOS.
        case eos
        /// The model produced one of the caller's stop tokens (e.g. a piece with a newline).
        case stopToken
        /// `maxNewTokens` tokens were generated.
        case length
    }

    /// Generated ids, without the decoder start token and without the EOS / stop token.
    public var ids: [Int32]
    /// `log softmax` of the raw logits (before temperature, top-k and top-p) at each id in
    /// ``ids``: the model's log-probability of the token, whatever the decoding settings.
    public var logProbs: [Float]
    public var stop: Stop
    /// The EOS or stop token that ended the sequence, and its log-probability.
    public var stopID: Int32?
    public var stopLogProb: Float?
}
