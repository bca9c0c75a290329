/// One part of a job split `count` ways: `--shard index/count`, `index` in `0..<count`.
///
/// Shards are contiguous blocks of the work in its natural order (the run's queries, the input
/// rows, the sampled documents), so concatenating the shards' outputs in index order gives the
/// unsharded order. The block boundaries depend only on the number of items and `count`, never
/// on threads or batch sizes: block `i` of `n` items is `i·n/count ..< (i+1)·n/count`.
/// 0-based, like Kubernetes' `JOB_COMPLETION_INDEX` and a Slurm array `--array=0-(N-1)`.
public struct Shard: Sendable, Hashable, Codable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    /// The whole job (`0/1`).
    public static let whole = Shard(index: 0, count: 1)

    public init(index: Int, count: Int) {
        precondition(count >= 1 && index >= 0 && index < count, "bad shard \(index)/\(count)")
        self.index = index
        self.count = count
    }

    /// Parses `i/N`; `nil` unless `N ≥ 1` and `0 ≤ i < N`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]),
            count >= 1, index >= 0, index < count
        else { return nil }
        self.init(index: index, count: count)
    }

    /// `i/N`.
    public var description: String { "\(index)/\(count)" }

    /// Whether this is the whole job (`0/1`).
    public var isWhole: Bool { count == 1 }

    /// This shard's block of `items` items.
    public func range(of items: Int) -> Range<Int> {
        Self.bound(index, count, items)..<Self.bound(index + 1, count, items)
    }

    /// This shard's block of `items` items grouped `blockSize` at a time: whole groups only, so
    /// work done in groups (a scorer's batches) is the same sharded or not.
    public func range(of items: Int, inBlocksOf blockSize: Int) -> Range<Int> {
        let blocks = (items + blockSize - 1) / blockSize
        let range = self.range(of: blocks)
        return min(items, range.lowerBound * blockSize)..<min(items, range.upperBound * blockSize)
    }

    private static func bound(_ i: Int, _ count: Int, _ items: Int) -> Int {
        Int((Int64(i) * Int64(items)) / Int64(count))
    }
}
