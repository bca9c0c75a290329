/// BM25's free parameters. Defaults are Anserini's/Pyserini's (`-bm25.k1 0.9 -bm25.b 0.4`),
/// not Lucene's own (1.2, 0.75).
public struct BM25Parameters: Sendable, Equatable, Codable {
    /// Term-frequency saturation, ≥ 0.
    public var k1: Float
    /// Length normalisation, in [0, 1].
    public var b: Float

    public init(k1: Float = 0.9, b: Float = 0.4) {
        self.k1 = k1
        self.b = b
    }

    /// Throws ``BM25Error/invalidParameter(name:value:reason:)`` when out of range.
    public func validate() throws {
        guard k1.isFinite, k1 >= 0 else {
            throw BM25Error.invalidParameter(
                name: "k1", value: "\(k1)", reason: "must be a finite number ≥ 0")
        }
        guard b.isFinite, b >= 0, b <= 1 else {
            throw BM25Error.invalidParameter(name: "b", value: "\(b)", reason: "must be in [0, 1]")
        }
    }
}
