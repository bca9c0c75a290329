/// An additive attention bias that depends only on the key − query offset, one vector per head
/// (T5's bucketed relative position bias; ALiBi is another of this kind).
///
/// Because the bias of query row `i` against key `j` depends on `j − i` only, the whole
/// `[numHeads, queryLength, keyLength]` bias is kept as `[numHeads, width]` vectors over the
/// offsets that occur: row `i` of head `h` is the contiguous slice starting at
/// ``rowStart(head:row:)``, so the attention kernel adds it with a unit-stride loop and no
/// dense tensor is built. Its gradient has the same layout (the score gradient summed along
/// each diagonal).
public struct RelativeOffsetBias: Sendable {
    /// `[numHeads, width]`: element `h · width + (queryLength − 1 − i) + j` is the bias of
    /// query row `i` (position `queryOffset + i`) against key `j`.
    public var values: [Float]
    public var numHeads: Int
    /// `queryLength + keyLength − 1` (or more).
    public var width: Int
    public var queryLength: Int
    /// The position of query row 0 (the cached length when decoding step by step).
    public var queryOffset: Int

    public init(values: [Float], numHeads: Int, width: Int, queryLength: Int, queryOffset: Int) {
        precondition(values.count == numHeads * width, "bias values for \(numHeads)×\(width)")
        self.values = values
        self.numHeads = numHeads
        self.width = width
        self.queryLength = queryLength
        self.queryOffset = queryOffset
    }

    /// The element offset in ``values`` where row `i` of head `h` starts.
    @inlinable
    public func rowStart(head h: Int, row i: Int) -> Int {
        h * width + (queryLength - 1 - i)
    }

    /// The relative position `key − query` of element `index` of a head's vector.
    public func relativePosition(ofIndex index: Int) -> Int {
        index - (queryOffset + queryLength - 1)
    }
}
