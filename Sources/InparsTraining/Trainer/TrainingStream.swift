import InparsCore

/// The order in which training units are visited: a fresh seeded shuffle per epoch, read as
/// one continuous stream (a batch may span an epoch boundary, so every batch is full).
///
/// The whole state is ``position`` (units consumed since the start of training): epoch
/// `e`'s permutation depends only on the seed and `e`, so a resumed run rebuilds exactly the
/// order of an uninterrupted one from the saved position.
public struct TrainingStream: Sendable, Equatable {
    public let unitCount: Int
    public let seed: UInt64
    /// Units consumed so far.
    public private(set) var position: Int
    private var cachedEpoch = -1
    private var permutation: [Int] = []

    /// - Throws: ``TrainingError/noExamples`` for zero units,
    ///   ``TrainingError/invalidOption(name:value:reason:)`` for a negative position.
    public init(unitCount: Int, seed: UInt64, position: Int = 0) throws(TrainingError) {
        guard unitCount > 0 else { throw .noExamples }
        guard position >= 0 else {
            throw .invalidOption(
                name: "data position", value: String(position), reason: "must be ≥ 0")
        }
        self.unitCount = unitCount
        self.seed = seed
        self.position = position
    }

    /// The epoch the next unit belongs to (0-based).
    public var epoch: Int { position / unitCount }

    /// Epoch `epoch`'s visiting order: a Fisher–Yates shuffle (Swift's `shuffle(using:)`) with
    /// a generator seeded from `(seed, epoch)`.
    public static func permutation(unitCount: Int, seed: UInt64, epoch: Int) -> [Int] {
        var generator = SeededGenerator(seed: mixSeed(seed, UInt64(epoch), salt: 0x6570_6F63_6873))
        var order = Array(0..<unitCount)
        order.shuffle(using: &generator)
        return order
    }

    /// The next `count` unit indices.
    public mutating func next(_ count: Int) -> [Int] {
        var result = [Int]()
        result.reserveCapacity(count)
        for _ in 0..<count {
            let epoch = position / unitCount
            if epoch != cachedEpoch {
                permutation = Self.permutation(unitCount: unitCount, seed: seed, epoch: epoch)
                cachedEpoch = epoch
            }
            result.append(permutation[position % unitCount])
            position += 1
        }
        return result
    }

    public static func == (a: TrainingStream, b: TrainingStream) -> Bool {
        a.unitCount == b.unitCount && a.seed == b.seed && a.position == b.position
    }
}

/// A 64-bit seed derived from a run seed, a counter and a salt (one SplitMix64 output), so
/// separate random streams (data order, dropout of step n) never share a sequence.
public func mixSeed(_ seed: UInt64, _ counter: UInt64, salt: UInt64) -> UInt64 {
    var generator = SeededGenerator(seed: seed ^ (salt &* 0x9E37_79B9_7F4A_7C15))
    _ = generator.next()
    var second = SeededGenerator(seed: generator.next() &+ counter &* 0xD1B5_4A32_D192_ED03)
    return second.next()
}
