/// A regular expression in the part of Oniguruma's syntax that `tokenizer.json` files use
/// (the `Split` pre-tokenizer, the `Replace` normaliser and decoder), matched exactly as
/// HF `tokenizers` matches it (Oniguruma 6.9, Ruby syntax, no options).
///
/// Why not Swift `Regex`: it is slower by an order of magnitude on these patterns, and its
/// `\s`, `\p{...}` and case-insensitive matching follow the Swift runtime's Unicode tables, not
/// Oniguruma's (see ``UnicodeClasses``). A backtracking matcher over a small instruction
/// program has Oniguruma's semantics by construction: alternatives are tried left to right,
/// quantifiers are greedy (or lazy with `?`) and give back one step at a time, lookaheads are
/// atomic.
///
/// Supported: literals and escapes (`\t \n \r \f \v \a \e \0`, `\xHH`, `\x{H...}`, `\uHHHH`,
/// escaped punctuation), `.` (any scalar but `\n`), `\s \S \d \D \w \W \h \H`,
/// `\p{..}` / `\P{..}` / `\p{^..}` with general categories (`L`, `Lu`, `N`, `Nd`, `P`, `Zs`, ...,
/// or their long names), bracket classes with ranges and negation, groups `(...)`, `(?:...)`,
/// `(?i:...)`, `(?-i:...)`, lookaheads `(?=...)` / `(?!...)`, alternation, and the quantifiers
/// `? * + {n} {n,} {,m} {n,m}` (greedy or lazy). Anything else (anchors, lookbehind,
/// backreferences, possessive quantifiers, scripts in `\p{..}`, nested classes, multi-character
/// case folds) is an error naming the construct, never a silent approximation.
///
/// The Llama 3, Qwen2 and GPT-2 pre-tokenizer patterns are all in this subset.
struct TokenizerRegex: Sendable {
    /// Why a pattern cannot be used; the loader adds the file and the JSON path.
    struct SyntaxError: Error, Sendable {
        var message: String
    }

    let pattern: String
    private let program: [Instruction]
    private let classes: [CharacterClass]

    init(_ pattern: String) throws(SyntaxError) {
        self.pattern = pattern
        var parser = Parser(Array(pattern.unicodeScalars))
        let node = try parser.parseAll()
        var compiler = Compiler(classes: parser.classes)
        try compiler.emit(node)
        compiler.program.append(Instruction(.match))
        program = compiler.program
        classes = compiler.classes
    }

    /// A pattern matching `literal` exactly (a `"String"` pattern in `tokenizer.json`).
    init(literal: String) {
        pattern = literal
        var classes: [CharacterClass] = []
        var program: [Instruction] = []
        for scalar in literal.unicodeScalars {
            program.append(Instruction(.consume, Int32(classes.count)))
            classes.append(CharacterClass(items: [.range(scalar.value, scalar.value)]))
        }
        program.append(Instruction(.match))
        self.program = program
        self.classes = classes
    }

    // MARK: Matching

    /// Calls `body` with the byte range of every match in `text[range]`, leftmost first and
    /// non-overlapping, as Oniguruma's `find_iter` yields them (the pattern sees only the
    /// range: a lookahead at its end sees the end of the text).
    func forEachMatch(
        in text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ body: (Range<Int>) -> Void
    ) {
        var input = MatchInput(text, range)
        guard !input.isEmpty else { return }
        var stack: [(pc: Int32, position: Int32)] = []
        stack.reserveCapacity(64)
        program.withUnsafeBufferPointer { program in
            classes.withUnsafeBufferPointer { classes in
                var start = 0
                while start < input.count {
                    if let end = run(program, classes, from: 0, at: start, &input, &stack),
                        end > start
                    {
                        body(input.offsets[start]..<input.offsets[end])
                        start = end
                    } else {
                        start += 1
                    }
                }
            }
        }
    }

    /// Runs the program from instruction `pc0` at scalar `position0`; returns the end of the
    /// first match found in priority order, or `nil`.
    private func run(
        _ program: UnsafeBufferPointer<Instruction>, _ classes: UnsafeBufferPointer<CharacterClass>,
        from pc0: Int, at position0: Int, _ input: inout MatchInput,
        _ stack: inout [(pc: Int32, position: Int32)]
    ) -> Int? {
        let base = stack.count
        var pc = pc0
        var position = position0
        while true {
            let instruction = program[pc]
            var failed = false
            switch instruction.code {
            case .consume:
                if position < input.count,
                    classes[Int(instruction.a)].contains(input.values[position], input.info(position))
                {
                    position += 1
                    pc += 1
                } else {
                    failed = true
                }
            case .split:
                stack.append((instruction.b, Int32(position)))
                pc = Int(instruction.a)
            case .jump:
                pc = Int(instruction.a)
            case .lookahead:
                let found = run(program, classes, from: pc + 1, at: position, &input, &stack) != nil
                if found == (instruction.b == 0) {
                    pc = Int(instruction.a)
                } else {
                    failed = true
                }
            case .match:
                stack.removeSubrange(base...)
                return position
            }
            if failed {
                guard stack.count > base else { return nil }
                let entry = stack.removeLast()
                pc = Int(entry.pc)
                position = Int(entry.position)
            }
        }
    }
}

// MARK: - Program

extension TokenizerRegex {
    struct Instruction: Sendable {
        enum Code: UInt8, Sendable {
            /// Consume one scalar of class `a`.
            case consume
            /// Continue at `a`; on failure, retry at `b` from the same position.
            case split
            /// Continue at `a`.
            case jump
            /// Run the sub-program that follows (it ends with `match`); when it matches (`b` = 0)
            /// or does not (`b` = 1), continue at `a` from the same position.
            case lookahead
            case match
        }

        var code: Code
        var a: Int32
        var b: Int32

        init(_ code: Code, _ a: Int32 = 0, _ b: Int32 = 0) {
            self.code = code
            self.a = a
            self.b = b
        }
    }

    /// The text of one match attempt as Unicode scalars, with each scalar's byte offset and,
    /// for non-ASCII scalars, its category and whitespace flag (computed once, on demand).
    struct MatchInput {
        var values: [UInt32] = []
        var offsets: [Int] = []
        private var infos: [UInt8] = []
        var count: Int { values.count }
        var isEmpty: Bool { values.isEmpty }

        init(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
            values.reserveCapacity(range.count)
            offsets.reserveCapacity(range.count + 1)
            var i = range.lowerBound
            while i < range.upperBound {
                let (scalar, length) = UTF8Scanning.decode(text, at: i, end: range.upperBound)
                values.append(scalar)
                offsets.append(i)
                i += length
            }
            offsets.append(range.upperBound)
            infos = Array(repeating: 0xFF, count: values.count)
        }

        /// ``CharacterClass/info(_:)`` of the scalar at `position`. ASCII scalars never need
        /// it (their classes are bitmaps).
        @inline(__always)
        mutating func info(_ position: Int) -> UInt8 {
            if values[position] < 0x80 { return 0 }
            if infos[position] == 0xFF {
                infos[position] = CharacterClass.info(Unicode.Scalar(values[position]) ?? "\u{FFFD}")
            }
            return infos[position]
        }
    }

    /// A set of scalars: a bitmap for ASCII, and for the rest a union of items, optionally
    /// complemented.
    struct CharacterClass: Sendable {
        enum Item: Sendable {
            case range(UInt32, UInt32)
            /// Scalars whose general category's bit is set (``categoryIndex``), or not.
            case categories(UInt32, negated: Bool)
            case whitespace(negated: Bool)
            /// Oniguruma's `\w`: Alphabetic, marks, `Nd` and `Pc`; outside brackets, scalars
            /// below U+0100 follow its Latin-1 table instead (which adds `² ³ ¹ ¼ ½ ¾`).
            case word(negated: Bool, latin1: Bool)
        }

        var items: [Item]
        var negated = false
        /// Membership of the scalars 0–127 (after negation).
        private(set) var ascii: (UInt64, UInt64) = (0, 0)

        init(items: [Item], negated: Bool = false) {
            self.items = items
            self.negated = negated
            var low: UInt64 = 0
            var high: UInt64 = 0
            for value in UInt32(0)..<128 {
                if containsNonASCII(value, Self.info(Unicode.Scalar(value)!)) {
                    if value < 64 { low |= 1 << UInt64(value) } else { high |= 1 << UInt64(value - 64) }
                }
            }
            ascii = (low, high)
        }

        @inline(__always)
        func contains(_ value: UInt32, _ info: UInt8) -> Bool {
            if value < 64 { return ascii.0 & (1 << UInt64(value)) != 0 }
            if value < 128 { return ascii.1 & (1 << UInt64(value - 64)) != 0 }
            return containsNonASCII(value, info)
        }

        private func containsNonASCII(_ value: UInt32, _ info: UInt8) -> Bool {
            var found = false
            for item in items {
                switch item {
                case .range(let low, let high): found = value >= low && value <= high
                case .categories(let mask, let itemNegated):
                    found = (mask & (1 << UInt32(info & 0x1F)) != 0) != itemNegated
                case .whitespace(let itemNegated): found = (info & 0x20 != 0) != itemNegated
                case .word(let itemNegated, let latin1):
                    found = (info & (latin1 ? 0x80 : 0x40) != 0) != itemNegated
                }
                if found { break }
            }
            return found != negated
        }

        /// Bits 0–4: the general-category index (``categoryIndex(_:)``, Unicode 16.0); bit 5:
        /// white space; bit 6: a word character by Unicode properties; bit 7: a word character
        /// by Oniguruma's Latin-1 table below U+0100 (else bit 6).
        static func info(_ scalar: Unicode.Scalar) -> UInt8 {
            let category = UnicodeClasses.regexCategory(scalar)
            var info = categoryIndex(category)
            if UnicodeClasses.isWhitespace(scalar) { info |= 0x20 }
            let v = scalar.value
            let word: Bool
            switch category {
            case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
                word = true
            case .unassigned: word = false
            default: word = scalar.properties.isAlphabetic
            }
            if word { info |= 0x40 }
            let latin1Word =
                v < 0x100
                ? (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
                    || v == 0x5F || v == 0xAA || v == 0xB2 || v == 0xB3 || v == 0xB5 || v == 0xB9
                    || v == 0xBA || (v >= 0xBC && v <= 0xBE) || (v >= 0xC0 && v != 0xD7 && v != 0xF7)
                : word
            if latin1Word { info |= 0x80 }
            return info
        }

        static let categoryOrder: [Unicode.GeneralCategory] = [
            .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark,
            .decimalNumber, .letterNumber, .otherNumber,
            .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation,
            .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol,
            .spaceSeparator, .lineSeparator, .paragraphSeparator,
            .control, .format, .surrogate, .privateUse, .unassigned,
        ]

        static func categoryIndex(_ category: Unicode.GeneralCategory) -> UInt8 {
            UInt8(categoryOrder.firstIndex(of: category) ?? 29)
        }

        /// The category bits of a property name (`L`, `Lu`, `Letter`, `Nd`, ...), or `nil`.
        static func categoryMask(_ name: String) -> UInt32? {
            let groups: [String: ClosedRange<Int>] = [
                "L": 0...4, "LETTER": 0...4, "M": 5...7, "MARK": 5...7, "COMBININGMARK": 5...7,
                "N": 8...10, "NUMBER": 8...10, "P": 11...17, "PUNCTUATION": 11...17,
                "S": 18...21, "SYMBOL": 18...21, "Z": 22...24, "SEPARATOR": 22...24,
                "C": 25...29, "OTHER": 25...29,
            ]
            let singles = [
                "LU", "LL", "LT", "LM", "LO", "MN", "MC", "ME", "ND", "NL", "NO", "PC", "PD", "PS",
                "PE", "PI", "PF", "PO", "SM", "SC", "SK", "SO", "ZS", "ZL", "ZP", "CC", "CF", "CS",
                "CO", "CN",
            ]
            let key = name.uppercased().filter { $0 != "_" && $0 != " " && $0 != "-" }
            if let range = groups[key] { return range.reduce(0) { $0 | (1 << UInt32($1)) } }
            if let index = singles.firstIndex(of: key) { return 1 << UInt32(index) }
            if key == "LC" || key == "CASEDLETTER" { return 0b111 }
            return nil
        }
    }
}

// MARK: - Parser

extension TokenizerRegex {
    indirect enum Node {
        case empty
        /// One scalar of the class with this index.
        case atom(Int)
        case concatenation([Node])
        case alternation([Node])
        case repetition(Node, min: Int, max: Int?, greedy: Bool)
        case lookahead(Node, negated: Bool)

        var canMatchEmpty: Bool {
            switch self {
            case .empty, .lookahead: true
            case .atom: false
            case .concatenation(let nodes): nodes.allSatisfy(\.canMatchEmpty)
            case .alternation(let nodes): nodes.contains(where: \.canMatchEmpty)
            case .repetition(let node, let min, _, _): min == 0 || node.canMatchEmpty
            }
        }
    }

    struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0
        var caseInsensitive = false
        var depth = 0
        var classes: [CharacterClass] = []

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        private var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        private func error(_ message: String) -> SyntaxError {
            SyntaxError(message: "\(message) at character \(index)")
        }

        mutating func parseAll() throws(SyntaxError) -> Node {
            let node = try parseAlternation()
            if index < scalars.count { throw error("unbalanced ')'") }
            return node
        }

        private mutating func parseAlternation() throws(SyntaxError) -> Node {
            var branches = [try parseConcatenation()]
            while peek == "|" {
                index += 1
                branches.append(try parseConcatenation())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        private mutating func parseConcatenation() throws(SyntaxError) -> Node {
            var nodes: [Node] = []
            var literalRun: [Unicode.Scalar] = []  // for the multi-character case-fold check
            while let c = peek, c != "|", c != ")" {
                let atomStart = index
                var node = try parseAtom()
                if caseInsensitive, index == atomStart + 1, c.properties.isCased {
                    if String(c).uppercased().unicodeScalars.count > 1
                        || String(c).lowercased().unicodeScalars.count > 1
                    {
                        throw error("case-insensitive '\(c)' (its case fold has several characters)")
                    }
                    literalRun.append(c)
                    try checkMultiCharacterFold(literalRun)
                } else {
                    literalRun.removeAll()
                }
                node = try parseQuantifier(node)
                nodes.append(node)
            }
            if nodes.isEmpty { return .empty }
            return nodes.count == 1 ? nodes[0] : .concatenation(nodes)
        }

        /// Oniguruma matches `(?i:ss)` against `ß` (a full case fold); this matcher folds one
        /// scalar at a time, so such literal runs are refused rather than matched differently.
        private func checkMultiCharacterFold(_ run: [Unicode.Scalar]) throws(SyntaxError) {
            let tail = String(String.UnicodeScalarView(run.suffix(3))).lowercased()
            for target in ["ss", "st", "ff", "fi", "fl", "ffi", "ffl", "i\u{307}"]
            where tail.hasSuffix(target) {
                throw error("case-insensitive '\(target)' (it also matches a multi-character case fold)")
            }
        }

        private mutating func parseQuantifier(_ node: Node) throws(SyntaxError) -> Node {
            guard let c = peek else { return node }
            var min = 0
            var max: Int?
            switch c {
            case "?": max = 1
            case "*": break
            case "+": min = 1
            case "{":
                guard let (low, high, length) = countedQuantifier(at: index) else { return node }
                min = low
                max = high
                index += length - 1
            default: return node
            }
            index += 1
            var greedy = true
            if peek == "?" {
                greedy = false
                index += 1
            } else if peek == "+" {
                throw error("possessive quantifiers are not supported")
            }
            if case .lookahead = node { throw error("a quantified lookahead") }
            if max == nil || max! > 1, node.canMatchEmpty {
                throw error("a repetition of an expression that can match the empty string")
            }
            if let max, max < min { throw error("a quantifier {\(min),\(max)}") }
            if min > 1000 || (max ?? 0) > 1000 { throw error("a repetition count over 1000") }
            return .repetition(node, min: min, max: max, greedy: greedy)
        }

        /// `{n}`, `{n,}`, `{,m}`, `{n,m}` at `start`: (min, max, length), or `nil` when the
        /// brace is a literal (as in Oniguruma's Ruby syntax).
        private func countedQuantifier(at start: Int) -> (Int, Int?, Int)? {
            var i = start + 1
            func number() -> Int? {
                var value: Int?
                while i < scalars.count, scalars[i].value >= 0x30, scalars[i].value <= 0x39 {
                    value = (value ?? 0) * 10 + Int(scalars[i].value - 0x30)
                    if value! > 100_000 { return nil }
                    i += 1
                }
                return value
            }
            let low = number()
            var high = low
            if i < scalars.count, scalars[i] == "," {
                i += 1
                high = number()
                if low == nil && high == nil { return nil }
            } else if low == nil {
                return nil
            }
            guard i < scalars.count, scalars[i] == "}" else { return nil }
            return (low ?? 0, high, i + 1 - start)
        }

        private mutating func parseAtom() throws(SyntaxError) -> Node {
            let c = scalars[index]
            switch c {
            case "(":
                return try parseGroup()
            case "[":
                index += 1
                return .atom(add(try parseBracket()))
            case ".":
                index += 1
                return .atom(add(CharacterClass(items: [.range(0x0A, 0x0A)], negated: true)))
            case "\\":
                index += 1
                return .atom(add(try parseEscape(inBracket: false)))
            case "^", "$":
                throw error("the anchor '\(c)' is not supported")
            case "*", "+", "?":
                throw error("a quantifier '\(c)' with nothing to repeat")
            case "{" where countedQuantifier(at: index) != nil:
                throw error("a quantifier '{' with nothing to repeat")
            default:
                index += 1
                return .atom(add(literal(c)))
            }
        }

        private mutating func parseGroup() throws(SyntaxError) -> Node {
            index += 1  // "("
            depth += 1
            defer { depth -= 1 }
            if depth > 64 { throw error("groups nested more than 64 deep") }
            let saved = caseInsensitive
            defer { caseInsensitive = saved }
            var lookahead: Bool?
            if peek == "?" {
                index += 1
                switch peek {
                case ":": index += 1
                case "=": lookahead = false; index += 1
                case "!": lookahead = true; index += 1
                case "i" where index + 1 < scalars.count && scalars[index + 1] == ":":
                    caseInsensitive = true
                    index += 2
                case "-" where index + 2 < scalars.count && scalars[index + 1] == "i"
                    && scalars[index + 2] == ":":
                    caseInsensitive = false
                    index += 3
                default:
                    throw error("the group '(?\(peek.map { String($0) } ?? "")' is not supported")
                }
            }
            let inner = try parseAlternation()
            guard peek == ")" else { throw error("a group without ')'") }
            index += 1
            if let negated = lookahead { return .lookahead(inner, negated: negated) }
            return inner
        }

        /// A bracket class after its `[`.
        private mutating func parseBracket() throws(SyntaxError) -> CharacterClass {
            if caseInsensitive { throw error("a character class inside (?i:...)") }
            var negated = false
            if peek == "^" {
                negated = true
                index += 1
            }
            var items: [CharacterClass.Item] = []
            var first = true
            while true {
                guard let c = peek else { throw error("a character class without ']'") }
                if c == "]" && !first { index += 1; break }
                first = false
                if c == "[" { throw error("nested character classes are not supported") }
                if c == "&", index + 1 < scalars.count, scalars[index + 1] == "&" {
                    throw error("class intersection '&&' is not supported")
                }
                var low: UInt32
                if c == "\\" {
                    index += 1
                    let escaped = try parseEscape(inBracket: true)
                    guard escaped.items.count == 1, case .range(let a, let b) = escaped.items[0],
                        a == b, !escaped.negated
                    else {
                        items += escaped.negated ? [Self.complement(escaped)] : escaped.items
                        continue
                    }
                    low = a
                } else {
                    index += 1
                    low = c.value
                }
                // A range `low-high` (a '-' before ']' is literal).
                if peek == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                    index += 1
                    var high: UInt32
                    if peek == "\\" {
                        index += 1
                        let escaped = try parseEscape(inBracket: true)
                        guard escaped.items.count == 1, case .range(let a, let b) = escaped.items[0],
                            a == b
                        else { throw error("a range ending in a class escape") }
                        high = a
                    } else {
                        high = scalars[index].value
                        index += 1
                    }
                    if high < low { throw error("an empty range") }
                    items.append(.range(low, high))
                } else {
                    items.append(.range(low, low))
                }
            }
            return CharacterClass(items: items, negated: negated)
        }

        /// A negated escape (`\S`, `\P{L}`) as one item of a bracket class.
        private static func complement(_ escaped: CharacterClass) -> CharacterClass.Item {
            switch escaped.items[0] {
            case .categories(let mask, let negated): .categories(mask, negated: !negated)
            case .whitespace(let negated): .whitespace(negated: !negated)
            case .word(let negated, let latin1): .word(negated: !negated, latin1: latin1)
            case .range: .range(0, 0)  // not produced: only class escapes are negated
            }
        }

        /// The escape after a backslash, as a class (a single scalar is a one-scalar range).
        private mutating func parseEscape(inBracket: Bool) throws(SyntaxError) -> CharacterClass {
            guard let c = peek else { throw error("a trailing backslash") }
            index += 1
            func single(_ value: UInt32) -> CharacterClass {
                CharacterClass(items: [.range(value, value)])
            }
            let digit = CharacterClass.categoryMask("Nd")!
            switch c {
            case "t": return single(0x09)
            case "n": return single(0x0A)
            case "r": return single(0x0D)
            case "f": return single(0x0C)
            case "v": return single(0x0B)
            case "a": return single(0x07)
            case "e": return single(0x1B)
            case "0": return single(0)
            case "s": return CharacterClass(items: [.whitespace(negated: false)])
            case "S": return CharacterClass(items: [.whitespace(negated: false)], negated: true)
            case "d": return CharacterClass(items: [.categories(digit, negated: false)])
            case "D": return CharacterClass(items: [.categories(digit, negated: false)], negated: true)
            case "w": return CharacterClass(items: [.word(negated: false, latin1: !inBracket)])
            case "W":
                return CharacterClass(items: [.word(negated: false, latin1: !inBracket)], negated: true)
            case "h": return CharacterClass(items: [.range(0x30, 0x39), .range(0x41, 0x46), .range(0x61, 0x66)])
            case "H":
                return CharacterClass(
                    items: [.range(0x30, 0x39), .range(0x41, 0x46), .range(0x61, 0x66)], negated: true)
            case "p", "P":
                return try parseProperty(negated: c == "P")
            case "x":
                return single(try parseHex(braced: peek == "{", digits: 2))
            case "u":
                return single(try parseHex(braced: false, digits: 4))
            default:
                if c.properties.isAlphabetic || c.properties.numericType != nil {
                    throw error("the escape '\\\(c)' is not supported")
                }
                if caseInsensitive && !inBracket { return literal(c) }
                return single(c.value)
            }
        }

        private mutating func parseProperty(negated: Bool) throws(SyntaxError) -> CharacterClass {
            guard peek == "{" else { throw error("'\\p' without '{'") }
            index += 1
            var name = ""
            var inner = false
            if peek == "^" {
                inner = true
                index += 1
            }
            while let c = peek, c != "}" {
                name.unicodeScalars.append(c)
                index += 1
            }
            guard peek == "}" else { throw error("'\\p{' without '}'") }
            index += 1
            guard let mask = CharacterClass.categoryMask(name) else {
                throw error("the Unicode property '\(name)' is not supported (general categories only)")
            }
            return CharacterClass(items: [.categories(mask, negated: false)], negated: negated != inner)
        }

        private mutating func parseHex(braced: Bool, digits: Int) throws(SyntaxError) -> UInt32 {
            if braced { index += 1 }
            var value: UInt32 = 0
            var count = 0
            while let c = peek, let digit = c.isASCII ? UInt32(String(c), radix: 16) : nil,
                braced || count < digits
            {
                value = value * 16 + digit
                count += 1
                index += 1
                if value > 0x10FFFF { throw error("a code point over U+10FFFF") }
            }
            if braced {
                guard peek == "}" else { throw error("'\\x{' without '}'") }
                index += 1
            }
            guard count > 0, braced || count == digits else { throw error("a short hex escape") }
            return value
        }

        /// One literal scalar; under `(?i)` with its simple case variants (and the two
        /// non-ASCII scalars that fold to ASCII letters: U+017F `ſ` → `s`, U+212A KELVIN SIGN → `k`).
        private func literal(_ c: Unicode.Scalar) -> CharacterClass {
            guard caseInsensitive, c.properties.isCased else {
                return CharacterClass(items: [.range(c.value, c.value)])
            }
            var values: Set<UInt32> = [c.value]
            for mapped in [c.properties.lowercaseMapping, c.properties.uppercaseMapping,
                c.properties.titlecaseMapping]
            where mapped.unicodeScalars.count == 1 {
                values.insert(mapped.unicodeScalars.first!.value)
            }
            let lower = c.properties.lowercaseMapping
            if lower == "s" || c.value == 0x17F { values.formUnion([0x73, 0x53, 0x17F]) }
            if lower == "k" || c.value == 0x212A { values.formUnion([0x6B, 0x4B, 0x212A]) }
            return CharacterClass(items: values.sorted().map { .range($0, $0) })
        }

        private mutating func add(_ characterClass: CharacterClass) -> Int {
            classes.append(characterClass)
            return classes.count - 1
        }
    }
}

// MARK: - Compiler

extension TokenizerRegex {
    struct Compiler {
        var classes: [CharacterClass]
        var program: [Instruction] = []

        init(classes: [CharacterClass]) { self.classes = classes }

        private var here: Int32 { Int32(program.count) }

        mutating func emit(_ node: Node) throws(SyntaxError) {
            switch node {
            case .empty: break
            case .atom(let index): program.append(Instruction(.consume, Int32(index)))
            case .concatenation(let nodes):
                for node in nodes { try emit(node) }
            case .alternation(let branches):
                // split L1, next; L1: branch; jump end; next: split ... ; last branch
                var jumps: [Int] = []
                for (i, branch) in branches.enumerated() {
                    if i < branches.count - 1 {
                        let split = program.count
                        program.append(Instruction(.split, here + 1, 0))
                        try emit(branch)
                        jumps.append(program.count)
                        program.append(Instruction(.jump))
                        program[split].b = here
                    } else {
                        try emit(branch)
                    }
                }
                for jump in jumps { program[jump].a = here }
            case .repetition(let inner, let min, let max, let greedy):
                try emitRepetition(inner, min: min, max: max, greedy: greedy)
            case .lookahead(let inner, let negated):
                let start = program.count
                program.append(Instruction(.lookahead, 0, negated ? 1 : 0))
                try emit(inner)
                program.append(Instruction(.match))
                program[start].a = here
            }
            if program.count > 100_000 { throw SyntaxError(message: "the pattern is too large") }
        }

        private mutating func emitRepetition(
            _ inner: Node, min: Int, max: Int?, greedy: Bool
        ) throws(SyntaxError) {
            for _ in 0..<min { try emit(inner) }
            if let max {
                // (max - min) nested optional copies: each split skips all the rest.
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(program.count)
                    program.append(Instruction(.split))
                    try emit(inner)
                }
                for split in splits {
                    program[split] =
                        greedy
                        ? Instruction(.split, Int32(split + 1), here)
                        : Instruction(.split, here, Int32(split + 1))
                }
            } else {
                // loop: split body, end; body: inner; jump loop
                let loop = program.count
                program.append(Instruction(.split))
                try emit(inner)
                program.append(Instruction(.jump, Int32(loop)))
                program[loop] =
                    greedy
                    ? Instruction(.split, Int32(loop + 1), here)
                    : Instruction(.split, here, Int32(loop + 1))
            }
        }
    }
}
