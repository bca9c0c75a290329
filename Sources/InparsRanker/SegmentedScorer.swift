import Foundation

/// How long documents are cut into overlapping passages for MaxP (Dai & Callan 2019): windows
/// of ``length`` whitespace-separated words starting every ``stride`` words, the last one
/// ending at the document's end.
public struct Segmentation: Sendable, Equatable {
    /// Words per passage (`--segment-length`).
    public var length: Int
    /// Words between passage starts (`--segment-stride`); at most ``length``, so no word is
    /// skipped.
    public var stride: Int

    /// - Throws: ``RankerError/invalidOption(name:value:reason:)`` for a length or stride below
    ///   1, or a stride longer than the length.
    public init(length: Int, stride: Int? = nil) throws(RankerError) {
        let stride = stride ?? max(length / 2, 1)
        guard length >= 1 else {
            throw .invalidOption(
                name: "--segment-length", value: String(length), reason: "must be at least 1")
        }
        guard (1...length).contains(stride) else {
            throw .invalidOption(
                name: "--segment-stride", value: String(stride),
                reason: "must be 1…\(length) (--segment-length), or words between passages are never read")
        }
        self.length = length
        self.stride = stride
    }

    /// The passages of `text`: the text itself when it has at most ``length`` words, else the
    /// windows (words joined by single spaces).
    public func passages(_ text: String) -> [String] {
        let words = text.split(whereSeparator: \.isWhitespace)
        guard words.count > length else { return [text] }
        var starts = Array(Swift.stride(from: 0, to: words.count - length, by: stride))
        starts.append(words.count - length)
        return starts.map { words[$0..<($0 + length)].joined(separator: " ") }
    }
}

/// MaxP over any scorer: a document longer than the segment length is scored as overlapping
/// passages (``Segmentation``) and takes its best passage's score. Shorter documents are scored
/// as they are, with the same score as without segmentation.
public struct SegmentedScorer: RelevanceScorer {
    public let inner: any RelevanceScorer
    public let segmentation: Segmentation

    public init(_ inner: any RelevanceScorer, segmentation: Segmentation) {
        self.inner = inner
        self.segmentation = segmentation
    }

    public var name: String { inner.name }
    public var maxLength: Int { inner.maxLength }
    public var details: String {
        "\(inner.details), MaxP over \(segmentation.length)-word passages every \(segmentation.stride) words"
    }

    /// Scores every passage of every pair in one call of the inner scorer (its batching sorts
    /// them by length), then takes each document's maximum. The truncation count is the
    /// number of passages that lost tokens to the inner scorer's maximum length, capped at the
    /// number of documents (passages are scored together, so which document a cut passage
    /// belongs to is not reported).
    public func score(_ pairs: [ScoringPair], progress: ((Int) -> Void)?) throws -> PairScores {
        var passages = [ScoringPair]()
        var owner = [Int]()
        for (index, pair) in pairs.enumerated() {
            for passage in segmentation.passages(pair.document) {
                passages.append(ScoringPair(query: pair.query, document: passage))
                owner.append(index)
            }
        }
        var done = 0
        let scored = try inner.score(passages) { n in
            // Progress in pairs: a pair is done when its share of the passages is.
            let before = done * pairs.count / max(passages.count, 1)
            done += n
            let after = done * pairs.count / max(passages.count, 1)
            if after > before { progress?(after - before) }
        }
        var best = [Float](repeating: -.infinity, count: pairs.count)
        for (passage, index) in owner.enumerated() {
            best[index] = max(best[index], scored.scores[passage])
        }
        return PairScores(
            scores: best, truncatedDocuments: min(scored.truncatedDocuments, pairs.count))
    }
}
