/// The original Porter (1980) stemmer, in the form Lucene's `PorterStemFilter` runs it
/// (M. F. Porter, "An algorithm for suffix stripping", Program 14(3), 1980, with the three
/// changes of Porter's own reference implementation that Lucene also has: step 2's
/// `(m>0) BLI → BLE` instead of `ABLI → ABLE`, the extra `(m>0) LOGI → LOG`, and words of one
/// or two letters left alone).
///
/// Works in place on UTF-16 code units (as Java's `char[]`), so non-ASCII letters count as
/// consonants exactly as in Lucene. Not Snowball "Porter2".
struct PorterStemmer {
    /// The word; `k` is the index of its last code unit.
    private var b: UnsafeMutableBufferPointer<UInt16>
    private var k = 0
    private var j = 0

    private init(_ b: UnsafeMutableBufferPointer<UInt16>) { self.b = b }

    /// Stems `word[0..<count]` in place and returns the new length.
    static func stem(_ word: UnsafeMutableBufferPointer<UInt16>, count: Int) -> Int {
        guard count > 2 else { return count }
        var stemmer = PorterStemmer(word)
        stemmer.k = count - 1
        stemmer.step1ab()
        stemmer.step1c()
        stemmer.step2()
        stemmer.step3()
        stemmer.step4()
        stemmer.step5()
        return stemmer.k + 1
    }

    private static let a = UInt16(UInt8(ascii: "a")), e = UInt16(UInt8(ascii: "e"))
    private static let i = UInt16(UInt8(ascii: "i")), o = UInt16(UInt8(ascii: "o"))
    private static let u = UInt16(UInt8(ascii: "u")), y = UInt16(UInt8(ascii: "y"))

    @inline(__always) private func ch(_ c: Unicode.Scalar) -> UInt16 { UInt16(c.value) }

    /// True when `b[index]` is a consonant: not a, e, i, o, u, and not a `y` after a consonant.
    private func isConsonant(_ index: Int) -> Bool {
        switch b[index] {
        case Self.a, Self.e, Self.i, Self.o, Self.u: return false
        case Self.y: return index == 0 ? true : !isConsonant(index - 1)
        default: return true
        }
    }

    /// m, the number of VC sequences in `b[0...j]` ([C](VC)^m[V]).
    private func measure() -> Int {
        var n = 0
        var index = 0
        while true {
            if index > j { return n }
            if !isConsonant(index) { break }
            index += 1
        }
        index += 1
        while true {
            while true {
                if index > j { return n }
                if isConsonant(index) { break }
                index += 1
            }
            index += 1
            n += 1
            while true {
                if index > j { return n }
                if !isConsonant(index) { break }
                index += 1
            }
            index += 1
        }
    }

    /// *v*: `b[0...j]` contains a vowel.
    private func vowelInStem() -> Bool {
        var index = 0
        while index <= j {
            if !isConsonant(index) { return true }
            index += 1
        }
        return false
    }

    /// *d: `b[index-1...index]` is a double consonant.
    private func doubleConsonant(_ index: Int) -> Bool {
        guard index >= 1, b[index] == b[index - 1] else { return false }
        return isConsonant(index)
    }

    /// *o: `b[index-2...index]` is consonant-vowel-consonant and the last is not w, x or y.
    private func cvc(_ index: Int) -> Bool {
        guard index >= 2, isConsonant(index), !isConsonant(index - 1), isConsonant(index - 2)
        else { return false }
        let c = b[index]
        return c != ch("w") && c != ch("x") && c != ch("y")
    }

    /// Whether the word ends in `suffix`; if so sets `j` to the index before it.
    private mutating func ends(_ suffix: StaticString) -> Bool {
        let length = suffix.utf8CodeUnitCount
        let offset = k - length + 1
        if offset < 0 { return false }
        let p = suffix.utf8Start
        for n in 0..<length where b[offset + n] != UInt16(p[n]) { return false }
        j = k - length
        return true
    }

    /// Replaces `b[j+1...k]` by `replacement`.
    private mutating func setTo(_ replacement: StaticString) {
        let length = replacement.utf8CodeUnitCount
        let p = replacement.utf8Start
        for n in 0..<length { b[j + 1 + n] = UInt16(p[n]) }
        k = j + length
    }

    /// `setTo` when m > 0.
    private mutating func replace(_ replacement: StaticString) {
        if measure() > 0 { setTo(replacement) }
    }

    /// Step 1a (plurals) and 1b (-eed, -ed, -ing).
    private mutating func step1ab() {
        if b[k] == ch("s") {
            if ends("sses") {
                k -= 2
            } else if ends("ies") {
                setTo("i")
            } else if b[k - 1] != ch("s") {
                k -= 1
            }
        }
        if ends("eed") {
            if measure() > 0 { k -= 1 }
        } else if (ends("ed") || ends("ing")) && vowelInStem() {
            k = j
            if ends("at") {
                setTo("ate")
            } else if ends("bl") {
                setTo("ble")
            } else if ends("iz") {
                setTo("ize")
            } else if doubleConsonant(k) {
                let c = b[k]
                if c != ch("l") && c != ch("s") && c != ch("z") { k -= 1 }
            } else if measure() == 1 && cvc(k) {
                setTo("e")
            }
        }
    }

    /// Step 1c: terminal y → i when the stem has a vowel.
    private mutating func step1c() {
        if ends("y") && vowelInStem() { b[k] = Self.i }
    }

    /// Step 2: double suffixes to single ones (m > 0).
    private mutating func step2() {
        guard k >= 1 else { return }
        switch b[k - 1] {
        case ch("a"):
            if ends("ational") { replace("ate") } else if ends("tional") { replace("tion") }
        case ch("c"):
            if ends("enci") { replace("ence") } else if ends("anci") { replace("ance") }
        case ch("e"):
            if ends("izer") { replace("ize") }
        case ch("l"):
            if ends("bli") {
                replace("ble")
            } else if ends("alli") {
                replace("al")
            } else if ends("entli") {
                replace("ent")
            } else if ends("eli") {
                replace("e")
            } else if ends("ousli") {
                replace("ous")
            }
        case ch("o"):
            if ends("ization") {
                replace("ize")
            } else if ends("ation") {
                replace("ate")
            } else if ends("ator") {
                replace("ate")
            }
        case ch("s"):
            if ends("alism") {
                replace("al")
            } else if ends("iveness") {
                replace("ive")
            } else if ends("fulness") {
                replace("ful")
            } else if ends("ousness") {
                replace("ous")
            }
        case ch("t"):
            if ends("aliti") {
                replace("al")
            } else if ends("iviti") {
                replace("ive")
            } else if ends("biliti") {
                replace("ble")
            }
        case ch("g"):
            if ends("logi") { replace("log") }
        default: break
        }
    }

    /// Step 3: -ic-, -full, -ness and friends (m > 0).
    private mutating func step3() {
        switch b[k] {
        case ch("e"):
            if ends("icate") {
                replace("ic")
            } else if ends("ative") {
                replace("")
            } else if ends("alize") {
                replace("al")
            }
        case ch("i"):
            if ends("iciti") { replace("ic") }
        case ch("l"):
            if ends("ical") { replace("ic") } else if ends("ful") { replace("") }
        case ch("s"):
            if ends("ness") { replace("") }
        default: break
        }
    }

    /// Step 4: removes -ant, -ence, ... when m > 1.
    private mutating func step4() {
        guard k >= 1 else { return }
        let found: Bool
        switch b[k - 1] {
        case ch("a"): found = ends("al")
        case ch("c"): found = ends("ance") || ends("ence")
        case ch("e"): found = ends("er")
        case ch("i"): found = ends("ic")
        case ch("l"): found = ends("able") || ends("ible")
        case ch("n"): found = ends("ant") || ends("ement") || ends("ment") || ends("ent")
        case ch("o"):
            if ends("ion") && j >= 0 && (b[j] == ch("s") || b[j] == ch("t")) {
                found = true
            } else {
                found = ends("ou")
            }
        case ch("s"): found = ends("ism")
        case ch("t"): found = ends("ate") || ends("iti")
        case ch("u"): found = ends("ous")
        case ch("v"): found = ends("ive")
        case ch("z"): found = ends("ize")
        default: found = false
        }
        if found && measure() > 1 { k = j }
    }

    /// Step 5: removes a final -e (m > 1, or m = 1 and not *o) and -ll → -l when m > 1.
    private mutating func step5() {
        j = k
        if b[k] == ch("e") {
            let m = measure()
            if m > 1 || (m == 1 && !cvc(k - 1)) { k -= 1 }
        }
        if b[k] == ch("l") && doubleConsonant(k) && measure() > 1 { k -= 1 }
    }
}

extension PorterStemmer {
    /// Stems an ASCII/Unicode word given as a `String` (convenience for tests and tools).
    static func stem(_ word: String) -> String {
        var units = Array(word.utf16)
        let n = units.count
        let length = units.withUnsafeMutableBufferPointer { stem($0, count: n) }
        return String(decoding: units[0..<length], as: UTF16.self)
    }
}
