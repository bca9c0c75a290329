/// Unicode character classes as the reference libraries classify them.
///
/// HF `tokenizers` takes its character properties from three places, each frozen at its own
/// Unicode version, while Swift's tables are newer (Unicode 17 in Swift 6.3). Reading the
/// current category and discarding scalars assigned after the library's version reproduces
/// each library exactly (checked over every scalar with `Scripts/fixtures/make_tokenizers.py`'s
/// classification dump, see Docs/tokenizer.md):
///
/// | used by | library | Unicode |
/// | --- | --- | --- |
/// | `Split` / `Replace` regexes (`\p{L}`, `\p{N}`, `\s`, ...) | Oniguruma 6.9 | 16.0 |
/// | `BertNormalizer` (controls, accents), `BertPreTokenizer` / `Punctuation` | `unicode_categories` 0.1 | 8.0 |
/// | `Whitespace` pre-tokenizer, `single_word` (`\w`) | Rust `regex` | 16.0 |
/// | whitespace, lowercase, `Digits` (`char::is_numeric`) | Rust `std` | current |
///
/// Six scalars changed category since Unicode 8.0 in a way that matters; they are listed
/// explicitly below.
enum UnicodeClasses {
    /// The general category Oniguruma (Unicode 16.0) gives `scalar`: scalars assigned after
    /// 16.0 are unassigned (`Cn`) there.
    @inline(__always)
    static func regexCategory(_ scalar: Unicode.Scalar) -> Unicode.GeneralCategory {
        assigned(scalar, byMajor: 16, minor: 0) ? scalar.properties.generalCategory : .unassigned
    }

    /// Whether `scalar` was assigned in Unicode `major.minor` or earlier.
    @inline(__always)
    static func assigned(_ scalar: Unicode.Scalar, byMajor major: Int, minor: Int) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return age.major < major || (age.major == major && age.minor <= minor)
    }

    /// Rust's `char::is_whitespace` (the `White_Space` property), which `WhitespaceSplit`,
    /// `Strip` and BERT use; Oniguruma's `\s` is the same set.
    @inline(__always)
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 { return v == 0x20 || (v >= 0x09 && v <= 0x0D) }
        return scalar.properties.isWhitespace
    }

    /// Rust's `char::is_numeric` (`Nd`, `Nl`, `No`), which the `Digits` pre-tokenizer uses.
    @inline(__always)
    static func isNumeric(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 { return v >= 0x30 && v <= 0x39 }
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    // MARK: BERT (unicode_categories, Unicode 8.0)

    /// `BertPreTokenizer` / `Punctuation`: ASCII punctuation (`!`–`/`, `:`–`@`, `[`–`` ` ``,
    /// `{`–`~`) or a `P*` category in Unicode 8.0.
    static func isBertPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 {
            return (v >= 0x21 && v <= 0x2F) || (v >= 0x3A && v <= 0x40) || (v >= 0x5B && v <= 0x60)
                || (v >= 0x7B && v <= 0x7E)
        }
        // Punctuation in 8.0, since recategorised (CANADIAN SYLLABICS CHI SIGN, SHARADA SANDHI MARK).
        if v == 0x166D || v == 0x111C9 { return true }
        guard assigned(scalar, byMajor: 8, minor: 0) else { return false }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// `BertNormalizer`'s `clean_text` drops a scalar: NUL, U+FFFD, or a control, format or
    /// private-use character of Unicode 8.0 other than tab, newline and carriage return.
    static func isBertRemoved(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v == 0 || v == 0xFFFD { return true }
        if v == 0x09 || v == 0x0A || v == 0x0D { return false }
        if v < 0x20 || v == 0x7F { return true }
        if v < 0xA0 { return v >= 0x80 }
        guard assigned(scalar, byMajor: 8, minor: 0) else { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .privateUse: return true
        default: return false
        }
    }

    /// A non-spacing mark (`Mn`) of Unicode 8.0, which `BertNormalizer`'s accent stripping
    /// removes after NFD.
    static func isBertNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x300 { return false }
        switch v {
        case 0x1734, 0x1171E: return true  // Mn in 8.0, Mc today
        case 0x1885, 0x1886, 0xA9BD, 0x111C9: return false  // Mn today, not in 8.0
        default: break
        }
        return assigned(scalar, byMajor: 8, minor: 0)
            && scalar.properties.generalCategory == .nonspacingMark
    }

    /// BERT's "Chinese character": the CJK Unified Ideographs blocks and their extensions
    /// (not Hangul, Hiragana or Katakana).
    static func isCJKIdeograph(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
            0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }

    /// The Rust `regex` crate's `\w` (alphabetic, marks, decimal digits, connector
    /// punctuation, joiners; Unicode 16.0), which the `Whitespace` pre-tokenizer and added
    /// tokens' `single_word` boundaries use.
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 {
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
                || v == 0x5F
        }
        if v == 0x200C || v == 0x200D { return true }
        guard assigned(scalar, byMajor: 16, minor: 0) else { return false }
        let properties = scalar.properties
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return true
        default: return false
        }
    }
}
