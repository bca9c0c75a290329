import Foundation
import InparsCore
import InparsTensor

/// How one sequence picks its next token: greedy, or sampling with temperature, top-k and
/// top-p (applied in that order, as transformers' logits warpers are), from its own seeded
/// random stream.
///
/// The stream belongs to the sequence (one uniform draw per sampled step), so a sequence's
/// tokens do not depend on which other sequences share its batch or on threads.
public struct Sampling: Sendable, Equatable {
    /// 0 = greedy. Logits are divided by it before top-k / top-p.
    public var temperature: Float
    /// Keep only the `topK` most likely tokens (`nil` or 0 = off; 1 = greedy).
    public var topK: Int?
    /// Keep the smallest set of most likely tokens whose probability reaches `topP` (1 = off).
    public var topP: Float
    /// Seeds the sequence's random stream (``SeededGenerator``).
    public var seed: UInt64

    public init(temperature: Float = 0, topK: Int? = nil, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    /// Greedy decoding.
    public static let greedy = Sampling()

    /// Whether the choice is the arg-max (temperature 0 or top-k 1); no random draw is made.
    public var isGreedy: Bool { temperature <= 0 || topK == 1 }
}

/// Picks tokens from one row of logits; the scratch buffers are reused across calls.
struct TokenPicker {
    private var candidates: [(index: Int32, weight: Double)] = []

    /// Returns the chosen token of `logits` (one row of `[vocab]` raw logits).
    mutating func pick(
        _ logits: UnsafeBufferPointer<Float>, maximum: Float, argmax: Int,
        sampling: Sampling, random: inout SeededGenerator
    ) -> Int {
        if sampling.isGreedy { return argmax }
        let inverseTemperature = 1 / Double(sampling.temperature)
        let top = Double(maximum)
        candidates.removeAll(keepingCapacity: true)
        // exp((l − max)/T); entries that underflow to 0 can never be drawn and are dropped.
        for i in 0..<logits.count {
            let weight = Foundation.exp((Double(logits[i]) - top) * inverseTemperature)
            if weight > 0 { candidates.append((Int32(i), weight)) }
        }
        if candidates.isEmpty { return argmax }
        let byWeight: ((index: Int32, weight: Double), (index: Int32, weight: Double)) -> Bool = {
            $0.weight != $1.weight ? $0.weight > $1.weight : $0.index < $1.index
        }
        if let k = sampling.topK, k > 0, k < candidates.count {
            candidates.sort(by: byWeight)
            candidates.removeLast(candidates.count - k)
        }
        if sampling.topP < 1 {
            candidates.sort(by: byWeight)
            let total = candidates.reduce(0) { $0 + $1.weight }
            let target = Double(sampling.topP) * total
            // Keep each token while the mass of the tokens before it is below top-p.
            var mass = 0.0
            var keep = 0
            while keep < candidates.count && mass < target {
                mass += candidates[keep].weight
                keep += 1
            }
            candidates.removeLast(candidates.count - max(keep, 1))
        }
        let total = candidates.reduce(0) { $0 + $1.weight }
        let u = Double(random.next() >> 11) * 0x1p-53 * total
        var cumulative = 0.0
        for candidate in candidates {
            cumulative += candidate.weight
            if u < cumulative { return Int(candidate.index) }
        }
        return Int(candidates[candidates.count - 1].index)
    }

    /// The next token of one sequence and its model log-probability: `log softmax` of the raw
    /// logits at the chosen token (before temperature, top-k and top-p).
    ///
    /// - Parameter logits: one row of `[vocab]` raw logits.
    mutating func next(
        _ logits: UnsafeBufferPointer<Float>, sampling: Sampling, random: inout SeededGenerator
    ) -> (id: Int32, logProb: Float) {
        next(logits, statistics: Softmax.rowStatistics(logits), sampling: sampling, random: &random)
    }

    /// ``next(_:sampling:random:)`` with the row's statistics already computed
    /// (``InparsTensor/Softmax/rowStatistics(_:)`` of `logits`; a batch's rows computed over
    /// the threads, ``rowStatistics(_:rows:)``).
    mutating func next(
        _ logits: UnsafeBufferPointer<Float>, statistics: RowStatistics, sampling: Sampling,
        random: inout SeededGenerator
    ) -> (id: Int32, logProb: Float) {
        let token = pick(
            logits, maximum: statistics.maximum, argmax: statistics.argmax, sampling: sampling,
            random: &random)
        return (Int32(token), logits[token] - statistics.logNormaliser)
    }

    typealias RowStatistics = (argmax: Int, maximum: Float, logNormaliser: Float)

    /// ``InparsTensor/Softmax/rowStatistics(_:)`` of each of `rows` rows of `logits`
    /// (`[rows, vocab]`), the rows split over ``InparsTensor/BLAS/threads`` threads
    /// (``InparsTensor/RowSplit``): a decoding step's 32 rows of Qwen2.5's 151,936 logits are
    /// ~5 M exponentials, a few milliseconds on one core.
    static func rowStatistics(_ logits: UnsafeBufferPointer<Float>, rows: Int) -> [RowStatistics] {
        let vocab = rows > 0 ? logits.count / rows : 0
        var statistics = [RowStatistics](repeating: (0, 0, 0), count: rows)
        statistics.withUnsafeMutableBufferPointer { out in
            RowSplit.run(rows, columns: vocab) { start, count in
                for row in start..<(start + count) {
                    out[row] = Softmax.rowStatistics(
                        UnsafeBufferPointer(rebasing: logits[(row * vocab)..<((row + 1) * vocab)]))
                }
            }
        }
        return statistics
    }
}
