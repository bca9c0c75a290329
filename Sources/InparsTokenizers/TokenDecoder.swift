/// An HF `tokenizers` decoder (`tokenizer.json` `"decoder"`): turns the tokens of some ids
/// back into text. Each step rewrites the list of token strings (`decode_chain`); the result
/// is their concatenation. Without a decoder HF joins the tokens with spaces.
///
/// | step | used by |
/// | --- | --- |
/// | ``Step/byteLevel`` | Llama 3, Qwen2, GPT-2 (bytes back from their characters; invalid UTF-8 → U+FFFD) |
/// | ``Step/replace(_:content:)``, ``Step/byteFallback``, ``Step/fuse``, ``Step/strip(content:start:stop:)`` | Llama 2, Mistral |
/// | ``Step/metaspace(_:)`` | T5, XLM-R, Llama 2 (newer files) |
/// | ``Step/wordPiece(prefix:cleanup:)`` | BERT |
struct TokenDecoder: Sendable {
    enum Step: Sendable {
        case byteLevel
        case metaspace(PreTokenizer.Metaspace)
        case replace(TokenizerRegex, content: String)
        /// `<0xNN>` tokens back to bytes; a run that is not valid UTF-8 gives one U+FFFD per byte.
        case byteFallback
        /// All tokens into one.
        case fuse
        /// Removes up to `start` leading and `stop` trailing `content` characters of each token.
        case strip(content: Unicode.Scalar, start: Int, stop: Int)
        /// Drops the prefix of continuation tokens and puts a space before the others (all but
        /// the first); `cleanup` removes spaces before punctuation and in English contractions.
        case wordPiece(prefix: String, cleanup: Bool)
        /// Replaces a word-end suffix (`</w>`) by a space (HF `BPEDecoder`).
        case bpeSuffix(String)
    }

    var steps: [Step]

    func decode(_ tokens: [String]) -> String {
        var tokens = tokens
        for step in steps { tokens = Self.apply(step, tokens) }
        return tokens.joined()
    }

    private static func apply(_ step: Step, _ tokens: [String]) -> [String] {
        switch step {
        case .byteLevel: return [byteLevel(tokens)]
        case .metaspace(let metaspace):
            let replacement = String(decoding: metaspace.replacement, as: UTF8.self)
            return tokens.enumerated().map { index, token in
                token.replacingAll(
                    replacement,
                    with: index == 0 && metaspace.prependScheme != .never ? "" : " ")
            }
        case .replace(let pattern, let content):
            let content = Array(content.utf8)
            return tokens.map {
                String(decoding: Normalizer.replace(Array($0.utf8), pattern: pattern, with: content), as: UTF8.self)
            }
        case .byteFallback: return byteFallback(tokens)
        case .fuse: return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { strip($0, content, start, stop) }
        case .wordPiece(let prefix, let cleanup):
            return tokens.enumerated().map { index, token in
                var token = token
                if index != 0 {
                    if token.hasPrefix(prefix) {
                        token.removeFirst(prefix.count)
                    } else {
                        token = " " + token
                    }
                }
                return cleanup ? wordPieceCleanup(token) : token
            }
        case .bpeSuffix(let suffix):
            return tokens.enumerated().map { index, token in
                token.replacingAll(suffix, with: index == tokens.count - 1 ? "" : " ")
            }
        }
    }

    /// The bytes behind byte-level characters; a token with a character outside the map
    /// (an added token such as `<|eot_id|>`) contributes its own UTF-8. Decoded lossily.
    private static func byteLevel(_ tokens: [String]) -> String {
        var bytes: [UInt8] = []
        for token in tokens {
            let start = bytes.count
            var mapped = true
            for scalar in token.unicodeScalars {
                guard let byte = characterToByte[scalar.value] else {
                    mapped = false
                    break
                }
                bytes.append(byte)
            }
            if !mapped {
                bytes.removeSubrange(start...)
                bytes += token.utf8
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The inverse of ``PreTokenizer/byteToCharacter``.
    static let characterToByte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (byte, utf8) in PreTokenizer.byteToCharacter.enumerated() {
            map[String(decoding: utf8, as: UTF8.self).unicodeScalars.first!.value] = UInt8(byte)
        }
        return map
    }()

    private static func byteFallback(_ tokens: [String]) -> [String] {
        var result: [String] = []
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let text = String(validating: pending, as: UTF8.self) {
                result.append(text)
            } else {
                result += repeatElement("\u{FFFD}", count: pending.count)
            }
            pending.removeAll()
        }
        for token in tokens {
            let utf8 = Array(token.utf8)
            if utf8.count == 6, utf8.starts(with: Array("<0x".utf8)), utf8[5] == UInt8(ascii: ">"),
                let byte = UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
            {
                pending.append(byte)
            } else {
                flush()
                result.append(token)
            }
        }
        flush()
        return result
    }

    private static func strip(_ token: String, _ content: Unicode.Scalar, _ start: Int, _ stop: Int)
        -> String
    {
        let scalars = Array(token.unicodeScalars)
        var from = 0
        while from < min(start, scalars.count), scalars[from] == content { from += 1 }
        var to = scalars.count
        var removed = 0
        while removed < stop, to > from, scalars[to - 1] == content {
            to -= 1
            removed += 1
        }
        return String(String.UnicodeScalarView(scalars[from..<to]))
    }

    /// HF `wordpiece::cleanup`.
    static func wordPieceCleanup(_ text: String) -> String {
        var text = text
        for (from, to) in [
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ] {
            text = text.replacingAll(from, with: to)
        }
        return text
    }
}

extension String {
    /// Every non-overlapping occurrence of `target` (compared as UTF-8, as Rust's
    /// `str::replace`) replaced by `replacement`.
    func replacingAll(_ target: String, with replacement: String) -> String {
        let source = Array(utf8)
        let pattern = Array(target.utf8)
        guard !pattern.isEmpty, source.count >= pattern.count else { return self }
        var output: [UInt8] = []
        output.reserveCapacity(source.count)
        var i = 0
        while i < source.count {
            if i + pattern.count <= source.count, source[i..<(i + pattern.count)].elementsEqual(pattern) {
                output += replacement.utf8
                i += pattern.count
            } else {
                output.append(source[i])
                i += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
