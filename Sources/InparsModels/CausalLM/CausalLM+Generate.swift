import Foundation
import InparsCore
import InparsTensor

/// A prompt prefix whose keys and values are computed once and forked into every prompt that
/// starts with it (the few-shot part of a static InPars prompt).
public struct SharedPrefix: Sendable {
    /// The prefix's token ids.
    public let ids: [Int32]
    /// Its cache: one entry holding `ids.count` positions, all shared
    /// (``CausalLMCache/sharingPositions()``), so every fork reads them in place.
    public let cache: CausalLMCache

    /// Whether `prompt` continues the prefix (starts with it and is longer).
    public func isPrefix(of prompt: [Int32]) -> Bool {
        prompt.count > ids.count && prompt.starts(with: ids)
    }
}

/// One prompt to continue.
public struct CausalLMRequest: Sendable, Equatable {
    /// The prompt's ids, special tokens included (at least one).
    public var ids: [Int32]
    public var sampling: Sampling
    /// The most tokens to generate, stop token included.
    public var maxNewTokens: Int

    public init(ids: [Int32], sampling: Sampling = .greedy, maxNewTokens: Int) {
        self.ids = ids
        self.sampling = sampling
        self.maxNewTokens = maxNewTokens
    }
}

extension CausalLM {
    /// Computes the cache of a prefix (batch 1), to pass to
    /// ``generate(_:batchSize:stopIDs:prefix:)``.
    public func sharedPrefix(_ ids: [Int32]) -> SharedPrefix {
        precondition(!ids.isEmpty, "empty prefix")
        var cache = makeCache(batch: 1, capacity: ids.count + 64)
        _ = forward(ids, stepLength: ids.count, cache: &cache)
        return SharedPrefix(ids: ids, cache: cache.sharingPositions())
    }

    /// Continues every prompt with continuous batching: up to `batchSize` sequences decode
    /// together, one token each per step; a sequence that stops leaves the batch and the next
    /// waiting prompt is prefilled and joins it, so the batch stays full.
    ///
    /// Prompts that extend `prefix` start from a fork of its cache and prefill only the rest;
    /// the others prefill from the start. Newly admitted prompts prefill together
    /// (right-padded). A sequence stops at EOS (`configuration.eosTokenIDs`), at one of
    /// `stopIDs`, or after its `maxNewTokens`. Each sequence draws from its own seeded stream,
    /// so its tokens do not depend on `batchSize` or on its neighbours.
    ///
    /// - Returns: one ``GeneratedSequence`` per request, in request order.
    public func generate(
        _ requests: [CausalLMRequest], batchSize: Int, stopIDs: Set<Int32> = [],
        prefix: SharedPrefix? = nil
    ) -> [GeneratedSequence] {
        precondition(batchSize >= 1, "batch size \(batchSize)")
        precondition(requests.allSatisfy { !$0.ids.isEmpty }, "empty prompt")
        var state = DecodingState(
            model: self, requests: requests, stopIDs: stopIDs.union(
                configuration.eosTokenIDs.map { Int32($0) }))
        var waiting = requests.indices.filter { requests[$0].maxNewTokens > 0 }[...]
        while !waiting.isEmpty || state.batch > 0 {
            let free = batchSize - state.batch
            if free > 0 && !waiting.isEmpty {
                let admitted = Array(waiting.prefix(free))
                waiting = waiting.dropFirst(admitted.count)
                let forked = admitted.filter { prefix?.isPrefix(of: requests[$0].ids) ?? false }
                let plain = admitted.filter { !forked.contains($0) }
                if let prefix, !forked.isEmpty { state.admit(forked, from: prefix) }
                if !plain.isEmpty { state.admit(plain, from: nil) }
                continue
            }
            state.step()
        }
        return state.results
    }
}

/// The running batch of ``CausalLM/generate(_:batchSize:stopIDs:prefix:)``.
private struct DecodingState {
    let model: CausalLM
    let requests: [CausalLMRequest]
    let stopIDs: Set<Int32>
    var results: [GeneratedSequence]
    var generators: [SeededGenerator]
    var picker = TokenPicker()
    /// Request index of each cache entry, and the token each will read next.
    var active: [Int] = []
    var next: [Int32] = []
    var cache: CausalLMCache

    init(model: CausalLM, requests: [CausalLMRequest], stopIDs: Set<Int32>) {
        self.model = model
        self.requests = requests
        self.stopIDs = stopIDs
        results = [GeneratedSequence](
            repeating: GeneratedSequence(ids: [], logProbs: [], stop: .length),
            count: requests.count)
        generators = requests.map { SeededGenerator(seed: $0.sampling.seed) }
        cache = model.makeCache(batch: 0)
    }

    var batch: Int { active.count }

    /// Prefills `indices` together (from a fork of `prefix`, or from nothing), picks each one's
    /// first token, and adds those still running to the batch.
    mutating func admit(_ indices: [Int], from prefix: SharedPrefix?) {
        let start = prefix?.ids.count ?? 0
        let suffixes = indices.map { requests[$0].ids[start...] }
        let width = suffixes.map(\.count).max()!
        // Room for the longest prompt and its new tokens, so the cache never regrows (the
        // prefix's positions are shared, not held by each entry).
        let capacity = width + indices.map { requests[$0].maxNewTokens }.max()!
        var group =
            prefix?.cache.selectingRows(
                [Int](repeating: 0, count: indices.count), capacity: capacity)
            ?? model.makeCache(batch: indices.count, capacity: capacity)
        let tokens = suffixes.flatMap { Array($0) + [Int32](repeating: 0, count: width - $0.count) }
        let real = suffixes.map(\.count)
        let hidden = model.forward(tokens, stepLength: width, real: real, cache: &group)
        let logits = model.logits(CausalLM.lastPositions(hidden, real: real))
        let running = choose(logits, for: indices)
        if active.isEmpty && running.count == indices.count {
            cache = group  // nothing to join: no copy
        } else {
            cache = CausalLMCache.joining([
                (cache, Array(0..<active.count)), (group, running.map(\.row)),
            ])
        }
        active += running.map { indices[$0.row] }
        next += running.map(\.token)
    }

    /// One decoding step of the whole batch; finished sequences leave it.
    mutating func step() {
        let hidden = StepProfile.measure("step forward") { model.forward(next, stepLength: 1, cache: &cache) }
        let logits = StepProfile.measure("step logits") { model.logits(hidden) }
        let running = StepProfile.measure("step choose") { choose(logits, for: active) }
        if running.count < active.count {
            StepProfile.measure("step select") { cache = cache.selectingRows(running.map(\.row)) }
            active = running.map { active[$0.row] }
        }
        next = running.map(\.token)
    }

    /// Picks the next token of each row of `logits` (`[rows, (1,) vocab]`, row `i` for request
    /// `indices[i]`) and records it; returns the rows that continue, with their tokens.
    private mutating func choose(_ logits: Tensor, for indices: [Int]) -> [(row: Int, token: Int32)] {
        let vocab = logits.lastDimension
        var running: [(row: Int, token: Int32)] = []
        logits.storage.withUnsafeBufferPointer { all in
            let statistics = TokenPicker.rowStatistics(all, rows: indices.count)
            for (row, index) in indices.enumerated() {
                let values = UnsafeBufferPointer(rebasing: all[(row * vocab)..<((row + 1) * vocab)])
                let (id, logProb) = picker.next(
                    values, statistics: statistics[row], sampling: requests[index].sampling,
                    random: &generators[index])
                if stopIDs.contains(id) {
                    let isEOS = model.configuration.eosTokenIDs.contains(Int(id))
                    results[index].stop = isEOS ? .eos : .stopToken
                    results[index].stopID = id
                    results[index].stopLogProb = logProb
                    continue
                }
                results[index].ids.append(id)
                results[index].logProbs.append(logProb)
                if results[index].ids.count < requests[index].maxNewTokens {
                    running.append((row, id))
                }
            }
        }
        return running
    }
}
