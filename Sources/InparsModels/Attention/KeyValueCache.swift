internal import CKernels
import InparsTensor

/// One attention layer's keys and values for the positions decoded so far.
///
/// Each batch entry's first ``sharedLengths`` positions may live in ``shared``, one buffer pair
/// that every entry forked from the same prompt prefix reads (stored once, however many
/// entries continue it); its later positions live in its own rows of `keys` and `values`,
/// `[batch, capacity, width]` row-major, from row 0. `width = numKVHeads · headDimension`
/// (grouped-query models cache only their key/value heads). Positions `0..<length` (tracked by
/// the model's cache) are valid. The own capacity doubles when a step would overflow it.
///
/// The cache is a value: a copy is an independent cache (copy on write; the shared rows are
/// never written), and ``selectingRows(_:length:)`` may repeat a row, so one sequence's cache
/// (a few-shot prompt prefix) can be forked into several batch entries that then continue on
/// their own. ``sharingPositions()`` turns a one-entry cache into one whose positions are all
/// shared, so its forks copy nothing.
///
/// Made with a head dimension the fused attention kernel takes in blocks (AVX-512, a multiple
/// of 16), the cache also keeps its keys (own and shared) in the kernel's packed layout,
/// written as positions arrive: `[batch, numKVHeads, blocks, headDimension, 64]` for the own
/// keys, so a decoder step reads them as they are instead of re-packing every cached key.
public struct KeyValueCache: Sendable {
    public private(set) var keys: [Float]
    public private(set) var values: [Float]
    /// Own positions of room per batch entry (shared positions need none).
    public private(set) var capacity: Int
    public let batch: Int
    /// Floats per cached position: `numKVHeads · headDimension`.
    public let width: Int
    /// Positions every entry may read from one buffer pair; `nil` for none.
    public private(set) var shared: SharedPositions?
    /// Per batch entry, how many of its leading positions are rows of ``shared`` (0 without).
    public private(set) var sharedLengths: [Int]
    /// Floats per key head; `nil` when the cache keeps no packed keys.
    let packedHeadDimension: Int?
    /// The own keys in the kernel's blocks (see the type's notes); empty when not packing.
    private(set) var packedKeys: [Float]

    /// An empty cache with room for `capacity` positions per batch entry.
    ///
    /// - Parameter headDimension: the heads' size, to keep packed keys where the attention
    ///   kernel reads them (``KeyValueCache``); `nil` for rows only.
    public init(batch: Int, width: Int, capacity: Int, headDimension: Int? = nil) {
        self.batch = batch
        self.width = width
        self.capacity = max(capacity, 1)
        keys = [Float](repeating: 0, count: batch * self.capacity * width)
        values = keys
        shared = nil
        sharedLengths = [Int](repeating: 0, count: batch)
        packedHeadDimension = headDimension.flatMap {
            width % $0 == 0 && inpars_attention_reads_packed_keys($0) != 0 ? $0 : nil
        }
        packedKeys = packedHeadDimension == nil ? [] : [Float](repeating: 0, count: batch * Self.packedUnitStride(capacity: self.capacity) * width / 64)
    }

    /// Floats of one (entry, key/value head)'s packed keys: whole blocks of 64 positions.
    private static func packedUnitStride(capacity: Int) -> Int { (capacity + 63) / 64 * 64 * 64 }

    /// Calls `body` with this cache's shared rows (when `shared`) and packed keys.
    func withBuffers(shared useShared: Bool, _ body: (CacheBuffers) -> Void) {
        let stride = packedHeadDimension.map { Self.packedUnitStride(capacity: capacity) * $0 / 64 } ?? 0
        packedKeys.withUnsafeBufferPointer { packed in
            var buffers = CacheBuffers(
                packedKeys: packedHeadDimension == nil ? nil : packed.baseAddress,
                packedUnitStride: stride)
            guard useShared, let shared else { return body(buffers) }
            shared.keys.withUnsafeBufferPointer { sk in
                shared.values.withUnsafeBufferPointer { sv in
                    shared.packedKeys.withUnsafeBufferPointer { sp in
                        buffers.sharedKeys = sk.baseAddress
                        buffers.sharedValues = sv.baseAddress
                        if let d = packedHeadDimension, !shared.packedKeys.isEmpty {
                            buffers.sharedPackedKeys = sp.baseAddress
                            buffers.sharedPackedUnitStride =
                                Self.packedUnitStride(capacity: shared.length) * d / 64
                        }
                        body(buffers)
                    }
                }
            }
        }
    }

    /// Writes the packed copy of positions `first ..< first + count` of every key/value head
    /// of own entry `b` from `source` (rows `rowStride` apart, the entry's position `first`).
    private mutating func pack(
        entry b: Int, from source: UnsafePointer<Float>, rowStride: Int, first: Int, count: Int
    ) {
        guard let d = packedHeadDimension, count > 0 else { return }
        let unit = Self.packedUnitStride(capacity: capacity) * d / 64
        let heads = width / d
        packedKeys.withUnsafeMutableBufferPointer { p in
            for h in 0..<heads {
                inpars_attention_pack_keys(
                    source + h * d, rowStride, first, count, d,
                    p.baseAddress! + (b * heads + h) * unit)
            }
        }
    }

    /// Where head `h` of the own keys or values lives (for the attention kernel).
    var layout: HeadLayout { HeadLayout(rowStride: width, batchStride: capacity * width) }

    /// The kernel's view of the shared positions, or `nil` when no entry reads any.
    var sharedKeys: SharedKeys? {
        guard shared != nil, sharedLengths.contains(where: { $0 > 0 }) else { return nil }
        return SharedKeys(
            layout: HeadLayout(rowStride: width, batchStride: 0), lengths: sharedLengths)
    }

    /// Copies the keys and values of `stepLength` new positions out of a fused projection into
    /// positions `position...` of every batch entry.
    ///
    /// - Parameters:
    ///   - projection: `[batch, stepLength, rowWidth]`, each row holding the keys at columns
    ///     `keyOffset ..< keyOffset + width` and the values at `valueOffset ..< valueOffset +
    ///     width` (for a fused q/k/v row: `numHeads·d` and `numHeads·d + width`).
    mutating func append(
        _ projection: Tensor, keyOffset: Int, valueOffset: Int, at position: Int
    ) {
        append(
            projection, keyOffset: keyOffset, valueOffset: valueOffset,
            at: [Int](repeating: position, count: batch))
    }

    /// ``append(_:keyOffset:valueOffset:at:)`` with its own start per batch entry: entry `b`'s
    /// positions go to `positions[b]...` (sequences of different lengths decoding together),
    /// which must not be shared ones.
    mutating func append(
        _ projection: Tensor, keyOffset: Int, valueOffset: Int, at positions: [Int]
    ) {
        precondition(
            projection.rank == 3 && projection.shape[0] == batch && positions.count == batch
                && max(keyOffset, valueOffset) + width <= projection.shape[2],
            "cache for \(batch)×\(width), got \(projection.shape)")
        let rows = zip(positions, sharedLengths).map { $0 - $1 }
        precondition(rows.allSatisfy { $0 >= 0 }, "appending over shared positions")
        let stepLength = projection.shape[1]
        let rowWidth = projection.shape[2]
        reserve((rows.max() ?? 0) + stepLength)
        let (cap, width) = (capacity, width)
        projection.storage.withUnsafeBufferPointer { p in
            keys.withUnsafeMutableBufferPointer { pk in
                values.withUnsafeMutableBufferPointer { pv in
                    for b in 0..<batch {
                        for t in 0..<stepLength {
                            let source = p.baseAddress! + (b * stepLength + t) * rowWidth
                            let destination = (b * cap + rows[b] + t) * width
                            (pk.baseAddress! + destination).update(
                                from: source + keyOffset, count: width)
                            (pv.baseAddress! + destination).update(
                                from: source + valueOffset, count: width)
                        }
                    }
                }
            }
        }
        guard packedHeadDimension != nil else { return }
        projection.storage.withUnsafeBufferPointer { p in
            for b in 0..<batch {
                pack(
                    entry: b, from: p.baseAddress! + b * stepLength * rowWidth + keyOffset,
                    rowStride: rowWidth, first: rows[b], count: stepLength)
            }
        }
    }

    /// Grows the own buffers to hold `needed` positions per entry, keeping what they hold.
    private mutating func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let lengths = sharedLengths.map { $0 + capacity }
        self = Self.gathering(
            lengths.enumerated().map { ($0.offset, $0.element) }, from: [self],
            capacity: max(needed, 2 * capacity))
    }

    /// This one-entry cache with its first `length` positions moved into ``shared``: forks of
    /// it (``selectingRows(_:length:)``, ``gathering(_:from:capacity:)``) read them in place
    /// instead of copying them.
    public func sharingPositions(length: Int) -> KeyValueCache {
        precondition(batch == 1, "only one sequence's positions can be shared, not \(batch)")
        precondition(sharedLengths[0] == 0, "positions already shared")
        precondition(length >= 1 && length <= capacity, "length \(length) beyond capacity")
        var result = KeyValueCache(
            batch: 1, width: width, capacity: 1, headDimension: packedHeadDimension)
        var packed: [Float] = []
        if let d = packedHeadDimension {
            let unit = Self.packedUnitStride(capacity: length) * d / 64
            packed = [Float](repeating: 0, count: unit * width / d)
            keys.withUnsafeBufferPointer { k in
                packed.withUnsafeMutableBufferPointer { p in
                    for h in 0..<(width / d) {
                        inpars_attention_pack_keys(
                            k.baseAddress! + h * d, width, 0, length, d, p.baseAddress! + h * unit)
                    }
                }
            }
        }
        result.shared = SharedPositions(
            keys: Array(keys[0..<(length * width)]), values: Array(values[0..<(length * width)]),
            packedKeys: packed, length: length)
        result.sharedLengths = [length]
        return result
    }

    /// A cache holding the batch entries `rows` in that order, each with its first `length`
    /// positions: drops finished sequences during generation, or, with a row repeated, forks
    /// one entry's positions (a shared prompt prefix) into several.
    ///
    /// - Parameter rows: indices into `0..<batch`, in any order, repeats allowed.
    public func selectingRows(_ rows: [Int], length: Int) -> KeyValueCache {
        precondition(rows.allSatisfy { $0 >= 0 && $0 < batch }, "rows \(rows) outside \(batch)")
        return Self.gathering(rows.map { ($0, length) }, from: [self], capacity: capacity)
    }

    /// A cache whose batch entries are copied from several caches of the same width: entry `i`
    /// holds the first `rows[i].length` positions of entry `rows[i].row`, counting the entries
    /// of `sources` one after the other (a running batch joined by newly prefilled sequences).
    ///
    /// Entries keep reading the shared positions of the first source that has any (no copy);
    /// an entry of a source with other shared positions gets them copied into its own rows.
    ///
    /// - Parameter capacity: own positions of room per entry; raised to the most any entry
    ///   copies.
    public static func gathering(
        _ rows: [(row: Int, length: Int)], from sources: [KeyValueCache], capacity: Int
    ) -> KeyValueCache {
        let width = sources.first?.width ?? 0
        precondition(sources.allSatisfy { $0.width == width }, "caches of different widths")
        let headDimension = sources.first?.packedHeadDimension
        precondition(
            sources.allSatisfy { $0.packedHeadDimension == headDimension },
            "caches packing their keys differently")
        var owner: [(source: Int, row: Int)] = []
        for (index, source) in sources.enumerated() {
            owner += (0..<source.batch).map { (index, $0) }
        }
        let shared = sources.lazy.compactMap(\.shared).first
        // Per new entry: the source entry, its positions read from `shared`, and where the own
        // rows start among the copied positions.
        var plan: [(source: KeyValueCache, row: Int, length: Int, kept: Int)] = []
        for (from, length) in rows {
            precondition(from >= 0 && from < owner.count, "row \(from) outside \(owner.count)")
            let source = sources[owner[from].source]
            let row = owner[from].row
            let sharedLength = min(source.sharedLengths[row], length)
            precondition(
                length - sharedLength <= source.capacity, "length \(length) beyond capacity")
            let kept = source.shared != nil && source.shared === shared ? sharedLength : 0
            plan.append((source, row, length, kept))
        }
        let needed = plan.map { $0.length - $0.kept }.max() ?? 0
        var result = KeyValueCache(
            batch: rows.count, width: width, capacity: max(capacity, needed),
            headDimension: headDimension)
        result.shared = plan.contains { $0.kept > 0 } ? shared : nil
        result.sharedLengths = plan.map(\.kept)
        let cap = result.capacity
        for (to, entry) in plan.enumerated() {
            let source = entry.source
            let sharedLength = min(source.sharedLengths[entry.row], entry.length)
            var target = to * cap * width
            // Shared positions this result does not share: copied into the own rows first.
            if entry.kept < sharedLength, let theirs = source.shared {
                let count = (sharedLength - entry.kept) * width
                result.keys.replaceSubrange(target..<(target + count), with: theirs.keys[0..<count])
                result.values.replaceSubrange(
                    target..<(target + count), with: theirs.values[0..<count])
                target += count
            }
            let start = entry.row * source.capacity * width
            let count = (entry.length - sharedLength) * width
            result.keys.replaceSubrange(
                target..<(target + count), with: source.keys[start..<(start + count)])
            result.values.replaceSubrange(
                target..<(target + count), with: source.values[start..<(start + count)])
        }
        if headDimension != nil {
            let keys = result.keys
            keys.withUnsafeBufferPointer { k in
                for (to, entry) in plan.enumerated() {
                    result.pack(
                        entry: to, from: k.baseAddress! + to * cap * width, rowStride: width,
                        first: 0, count: entry.length - entry.kept)
                }
            }
        }
        return result
    }
}

/// Cached positions that several batch entries read from one place (a few-shot prompt prefix
/// forked into every document's sequence): `[length, width]` keys and values, never written
/// after creation; identity tells caches that share them apart.
public final class SharedPositions: Sendable {
    public let keys: [Float]
    public let values: [Float]
    /// The keys in the attention kernel's blocks, one key/value head after the other, or empty.
    let packedKeys: [Float]
    public let length: Int

    init(keys: [Float], values: [Float], packedKeys: [Float], length: Int) {
        self.keys = keys
        self.values = values
        self.packedKeys = packedKeys
        self.length = length
    }
}
