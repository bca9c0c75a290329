import Foundation
import InparsCore
import InparsTestSupport
import Testing

@testable import InparsModels

/// The token picker's distributions: temperature, top-k and top-p as transformers' warpers
/// define them (temperature, then top-k, then top-p keeping the smallest most-likely set whose
/// mass reaches p). Frequencies over 40 000 draws; tolerance 0.012 (≈ 5 standard errors).
@Suite struct SamplingTests {
    static let probabilities: [Double] = [0.5, 0.3, 0.15, 0.05]

    func frequencies(_ sampling: Sampling, probabilities: [Double] = probabilities) -> [Double] {
        let logits = probabilities.map { Float(log($0)) + 3 }  // a shift changes nothing
        var picker = TokenPicker()
        var random = SeededGenerator(seed: sampling.seed)
        var counts = [Double](repeating: 0, count: logits.count)
        let draws = 40_000
        logits.withUnsafeBufferPointer { row in
            let argmax = logits.indices.max { logits[$0] < logits[$1] }!
            for _ in 0..<draws {
                counts[
                    picker.pick(
                        row, maximum: logits[argmax], argmax: argmax, sampling: sampling,
                        random: &random)] += 1
            }
        }
        return counts.map { $0 / Double(draws) }
    }

    func expectClose(_ actual: [Double], _ expected: [Double]) {
        for (a, e) in zip(actual, expected) {
            #expect(abs(a - e) <= 0.012, "\(actual) vs \(expected)")
        }
    }

    @Test func temperatureOneSamplesTheModelDistribution() {
        expectClose(frequencies(Sampling(temperature: 1, seed: 1)), Self.probabilities)
    }

    @Test func temperatureSharpensOrFlattens() {
        for t in [0.5, 2.0] {
            let weights = Self.probabilities.map { pow($0, 1 / t) }
            let total = weights.reduce(0, +)
            expectClose(
                frequencies(Sampling(temperature: Float(t), seed: 2)), weights.map { $0 / total })
        }
    }

    @Test func topKKeepsTheKMostLikely() {
        expectClose(
            frequencies(Sampling(temperature: 1, topK: 2, seed: 3)), [0.625, 0.375, 0, 0])
        expectClose(frequencies(Sampling(temperature: 1, topK: 1, seed: 3)), [1, 0, 0, 0])
    }

    @Test func topPKeepsTheSmallestSetReachingP() {
        // Masses before each token: 0, 0.5, 0.8, 0.95.
        expectClose(
            frequencies(Sampling(temperature: 1, topP: 0.7, seed: 4)), [0.625, 0.375, 0, 0])
        expectClose(frequencies(Sampling(temperature: 1, topP: 0.5, seed: 4)), [1, 0, 0, 0])
        expectClose(
            frequencies(Sampling(temperature: 1, topP: 0.9, seed: 4)),
            [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0])
        // top-k first, then top-p over the renormalised k: {0.625, 0.375}, p 0.6 keeps one.
        expectClose(
            frequencies(Sampling(temperature: 1, topK: 2, topP: 0.6, seed: 4)), [1, 0, 0, 0])
    }

    @Test func aVanishingTemperatureIsGreedy() {
        expectClose(frequencies(Sampling(temperature: 1e-6, seed: 5)), [1, 0, 0, 0])
        expectClose(
            frequencies(Sampling(temperature: 1e-6, seed: 5), probabilities: [0.2, 0.3, 0.5]),
            [0, 0, 1])
    }
}
