import Foundation
import InparsCore
import InparsTensor

extension T5Model {
    /// Generates a continuation of each input with the KV-cached decoder: the encoder runs once
    /// for the batch, then one decoder step per new token for the sequences still running
    /// (finished ones are dropped from the batch and the cache).
    ///
    /// - Parameters:
    ///   - inputs: encoder token ids per batch entry (EOS included; unequal lengths are padded
    ///     and masked).
    ///   - sampling: one per input: greedy, or sampling with its own seed.
    ///   - maxNewTokens: the most tokens per sequence, stop token included.
    ///   - stopIDs: tokens that end a sequence like EOS does (not returned in ``GeneratedSequence/ids``).
    /// - Returns: one ``GeneratedSequence`` per input, in input order.
    public func generate(
        _ inputs: [[Int32]], sampling: [Sampling], maxNewTokens: Int,
        stopIDs: Set<Int32> = []
    ) -> [GeneratedSequence] {
        precondition(
            inputs.count == sampling.count, "\(inputs.count) inputs, \(sampling.count) samplings")
        precondition(inputs.allSatisfy { !$0.isEmpty }, "empty encoder input")
        var results = [GeneratedSequence](
            repeating: GeneratedSequence(ids: [], logProbs: [], stop: .length), count: inputs.count)
        guard !inputs.isEmpty, maxNewTokens > 0 else { return results }

        let encoded = encode(inputs)
        // The cache doubles as it fills; starting small keeps a huge maxNewTokens from
        // allocating its whole budget up front.
        var cache = makeDecoderCache(encoderOutput: encoded, capacity: min(maxNewTokens, 64))
        var active = Array(inputs.indices)  // cache row → input index
        var next = [Int32](repeating: Int32(configuration.decoderStartTokenID), count: inputs.count)
        var generators = sampling.map { SeededGenerator(seed: $0.seed) }
        var picker = TokenPicker()
        let eos = Int32(configuration.eosTokenID)

        for step in 0..<maxNewTokens {
            let hidden = decoderStep(next, cache: &cache)
            let stepLogits = logits(hidden)  // [rows, 1, vocab]
            let vocab = stepLogits.lastDimension
            var running: [Int] = []
            running.reserveCapacity(active.count)
            stepLogits.storage.withUnsafeBufferPointer { all in
                for (row, entry) in active.enumerated() {
                    let logitsRow = UnsafeBufferPointer(
                        rebasing: all[(row * vocab)..<((row + 1) * vocab)])
                    let (id, logProb) = picker.next(
                        logitsRow, sampling: sampling[entry], random: &generators[entry])
                    if id == eos || stopIDs.contains(id) {
                        results[entry].stop = id == eos ? .eos : .stopToken
                        results[entry].stopID = id
                        results[entry].stopLogProb = logProb
                    } else {
                        results[entry].ids.append(id)
                        results[entry].logProbs.append(logProb)
                        running.append(row)
                        next[row] = id
                    }
                }
            }
            if running.isEmpty || step == maxNewTokens - 1 { break }
            if running.count < active.count {
                cache = cache.selectingRows(running)
                next = running.map { next[$0] }
                active = running.map { active[$0] }
            }
        }
        return results
    }
}
