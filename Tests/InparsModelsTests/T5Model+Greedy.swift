import InparsModels
import InparsTensor

/// Test support: greedy decoding as transformers' `generate` pads finished sequences, for the
/// golden comparison (the library's `T5Model.generate` drops finished sequences instead).
struct T5GreedyOutput: Sendable, Equatable {
    /// Generated ids per batch entry (the decoder start token excluded). After a sequence
    /// emits EOS it continues with the pad id, as transformers' `generate` does.
    var ids: [[Int32]]
    /// `log softmax(logits)` of each generated token, same layout as `ids`.
    var logProbs: [[Float]]
}

extension T5Model {
    /// Greedy decoding with the incremental (KV-cached) decoder.
    ///
    /// Stops after `maxNewTokens` steps, or earlier when every sequence has produced EOS.
    ///
    /// - Parameters:
    ///   - inputs: encoder token ids per batch entry (unequal lengths allowed).
    ///   - maxNewTokens: the most tokens to generate.
    func greedyDecode(_ inputs: [[Int32]], maxNewTokens: Int) -> T5GreedyOutput {
        let encoded = encode(inputs)
        let batch = inputs.count
        // The cache doubles as it fills; starting small keeps a huge maxNewTokens from
        // allocating its whole budget up front.
        var cache = makeDecoderCache(encoderOutput: encoded, capacity: min(maxNewTokens, 64))
        var next = [Int32](repeating: Int32(configuration.decoderStartTokenID), count: batch)
        var finished = [Bool](repeating: false, count: batch)
        var ids = [[Int32]](repeating: [], count: batch)
        var logProbs = [[Float]](repeating: [], count: batch)
        let pad = Int32(configuration.padTokenID)
        let eos = Int32(configuration.eosTokenID)
        for _ in 0..<maxNewTokens {
            let hidden = decoderStep(next, cache: &cache)
            var stepLogits = logits(hidden)  // [batch, 1, vocab]
            let best = stepLogits.argmax()
            stepLogits.applyLogSoftmax()
            let vocab = stepLogits.lastDimension
            for b in 0..<batch {
                let token = finished[b] ? pad : Int32(best[b])
                ids[b].append(token)
                logProbs[b].append(stepLogits.storage[b * vocab + Int(token)])
                if token == eos { finished[b] = true }
                next[b] = token
            }
            if finished.allSatisfy({ $0 }) { break }
        }
        return T5GreedyOutput(ids: ids, logProbs: logProbs)
    }
}
