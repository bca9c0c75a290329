/// Word-level stand-ins for a tokenizer, used when the generator's tokenizer is unknown (an
/// HTTP server does not expose it): a "token" is a maximal run of non-whitespace characters.
///
/// English text averages about 1.3 BPE tokens per word, so a 256-word cut keeps somewhat more
/// text than a 256-token cut, and prompt lengths are underestimated by about as much.
public enum WordTruncation {
    /// `text` up to the end of its `maxWords`-th word, with its inner whitespace untouched;
    /// `text` itself when it has no more words than that.
    public static func truncate(_ text: String, maxWords: Int) -> String {
        var words = 0
        var inWord = false
        for index in text.unicodeScalars.indices {
            let isSpace = text.unicodeScalars[index].properties.isWhitespace
            if !isSpace && !inWord {
                if words == maxWords { return trimmedEnd(String(text.unicodeScalars[..<index])) }
                words += 1
            }
            inWord = !isSpace
        }
        return text
    }

    /// The number of whitespace-separated words in `text`.
    public static func count(_ text: String) -> Int {
        var words = 0
        var inWord = false
        for scalar in text.unicodeScalars {
            let isSpace = scalar.properties.isWhitespace
            if !isSpace && !inWord { words += 1 }
            inWord = !isSpace
        }
        return words
    }

    private static func trimmedEnd(_ text: String) -> String {
        var result = text
        while let last = result.unicodeScalars.last, last.properties.isWhitespace {
            result.unicodeScalars.removeLast()
        }
        return result
    }
}
