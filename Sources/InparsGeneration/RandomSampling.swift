import InparsCore

/// Deterministic sampling helpers built on `SeededGenerator`.
public enum RandomSampling {
    /// `count` distinct indices from `0..<population`, in draw order (like Python's
    /// `random.sample`).
    ///
    /// A partial Fisher–Yates shuffle over a virtual `0..<population` array, kept sparse in a
    /// dictionary, so it costs O(count) time and memory whatever the population. The draw is
    /// prefix-stable: with the same generator state, the first `k` indices are the same for
    /// every `count ≥ k` (a run extended with a larger `--max-generations` keeps its
    /// documents and adds new ones after them).
    ///
    /// `count` is clipped to `0…population` (drawing more than there is draws everything).
    public static func sample(
        _ count: Int, from population: Int, using generator: inout SeededGenerator
    ) -> [Int] {
        let population = max(population, 0)
        let count = min(max(count, 0), population)
        var moved: [Int: Int] = [:]
        moved.reserveCapacity(count)
        var drawn: [Int] = []
        drawn.reserveCapacity(count)
        for i in 0..<count {
            let j = Int.random(in: i..<population, using: &generator)
            let atJ = moved[j] ?? j
            moved[j] = moved[i] ?? i
            drawn.append(atJ)
        }
        return drawn
    }

    /// A seed for one item of a run, derived from the run's `--seed` and the item's
    /// coordinates, so results do not depend on scheduling or on which items a resumed run
    /// still has to do.
    public static func derivedSeed(_ seed: UInt64, _ stream: UInt64, _ a: UInt64, _ b: UInt64 = 0)
        -> UInt64
    {
        var generator = SeededGenerator(seed: seed)
        var value = generator.next()
        for part in [stream, a, b] {
            generator = SeededGenerator(seed: value ^ (part &* 0x9E37_79B9_7F4A_7C15))
            value = generator.next()
        }
        return value
    }
}
