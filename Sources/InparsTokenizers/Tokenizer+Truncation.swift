import Foundation

/// Which text of a pair gives up tokens when the pair is too long.
public enum PairTruncation: Sendable {
    /// The second text only (a cross-encoder's document): HF `only_second`.
    case onlySecond
    /// Tokens come off the longer text first, then both evenly (HF `longest_first`, what
    /// sentence-transformers' `CrossEncoder` uses).
    case longestFirst
}

/// A pair that cannot be cut to the requested length.
public struct PairTruncationError: Error, LocalizedError, Sendable, Equatable {
    public var maxLength: Int
    public var specialTokens: Int
    public var firstLength: Int
    public var secondLength: Int

    public var errorDescription: String? {
        if maxLength < specialTokens {
            return "A maximum length of \(maxLength) tokens cannot hold the \(specialTokens) special tokens of a pair."
        }
        return "The first text has \(firstLength) tokens: with the pair's \(specialTokens) special tokens it leaves no room for the second text (\(secondLength) tokens) within \(maxLength) tokens; shorten the first text or raise the maximum length."
    }
}

extension Tokenizer {
    /// The ids and token type ids of a pair cut to at most `maxLength` tokens, special tokens
    /// included, exactly as HF `tokenizer(first, second, truncation=..., max_length=...)` cuts
    /// it (tokens come off the end of a text).
    ///
    /// - Throws: ``PairTruncationError`` when `.onlySecond` would have to remove the whole
    ///   second text or more (HF raises too), or when `maxLength` cannot hold the special tokens
    ///   (HF's length arithmetic wraps around there and returns the pair uncut).
    public func encode(
        _ first: String, pairedWith second: String, maxLength: Int,
        truncation: PairTruncation = .onlySecond
    ) throws(PairTruncationError) -> (ids: [Int32], typeIDs: [Int32]) {
        var a = tokenize(first)
        var b = tokenize(second)
        let added = postProcessor.addedCount(pair: true)
        let error = PairTruncationError(
            maxLength: maxLength, specialTokens: added, firstLength: a.count, secondLength: b.count)
        guard maxLength >= added else { throw error }
        let budget = maxLength - added
        if budget == 0 {  // HF: a zero budget empties both texts, whatever the strategy
            a.removeAll()
            b.removeAll()
        } else if a.count + b.count > budget {
            switch truncation {
            case .onlySecond:
                let excess = a.count + b.count - budget
                guard b.count > excess else { throw error }
                b.removeLast(excess)
            case .longestFirst:
                let (lengthA, lengthB) = Self.longestFirst(a.count, b.count, budget)
                a.removeLast(max(0, a.count - lengthA))
                b.removeLast(max(0, b.count - lengthB))
            }
        }
        return postProcessor.pair(a, b)
    }

    /// HF `truncate_encodings` with `LongestFirst`: the lengths two texts are cut to (a
    /// length over a text's own leaves it whole).
    static func longestFirst(_ first: Int, _ second: Int, _ budget: Int) -> (Int, Int) {
        if budget == 0 { return (0, 0) }
        var n1 = min(first, second)
        var n2 = max(first, second)
        n2 = n1 > budget ? n1 : max(n1, budget - n1)
        if n1 + n2 > budget {
            n1 = budget / 2
            n2 = n1 + budget % 2
        }
        return first > second ? (n2, n1) : (n1, n2)
    }
}
