import InparsTestSupport
import Testing

@testable import InparsBM25

@Suite struct PorterStemmerTests {
    /// Word → stem pairs from Porter's paper (1980) and the tartarus.org voc.txt/output.txt
    /// sample of the original algorithm (with the BLI→BLE and LOGI→LOG changes).
    static let table: [(String, String)] = [
        ("caresses", "caress"), ("ponies", "poni"), ("ties", "ti"), ("caress", "caress"),
        ("cats", "cat"), ("feed", "feed"), ("agreed", "agre"), ("plastered", "plaster"),
        ("bled", "bled"), ("motoring", "motor"), ("sing", "sing"), ("conflated", "conflat"),
        ("troubled", "troubl"), ("sized", "size"), ("hopping", "hop"), ("tanned", "tan"),
        ("falling", "fall"), ("hissing", "hiss"), ("fizzed", "fizz"), ("failing", "fail"),
        ("filing", "file"), ("happy", "happi"), ("sky", "sky"), ("relational", "relat"),
        ("conditional", "condit"), ("rational", "ration"), ("valenci", "valenc"),
        ("hesitanci", "hesit"), ("digitizer", "digit"), ("conformabli", "conform"),
        ("radicalli", "radic"), ("differentli", "differ"), ("vileli", "vile"),
        ("analogousli", "analog"), ("vietnamization", "vietnam"), ("predication", "predic"),
        ("operator", "oper"), ("feudalism", "feudal"), ("decisiveness", "decis"),
        ("hopefulness", "hope"), ("callousness", "callous"), ("formaliti", "formal"),
        ("sensitiviti", "sensit"), ("sensibiliti", "sensibl"), ("triplicate", "triplic"),
        ("formative", "form"), ("formalize", "formal"), ("electriciti", "electr"),
        ("electrical", "electr"), ("hopeful", "hope"), ("goodness", "good"),
        ("revival", "reviv"), ("allowance", "allow"), ("inference", "infer"),
        ("airliner", "airlin"), ("gyroscopic", "gyroscop"), ("adjustable", "adjust"),
        ("defensible", "defens"), ("irritant", "irrit"), ("replacement", "replac"),
        ("adjustment", "adjust"), ("dependent", "depend"), ("adoption", "adopt"),
        ("homologou", "homolog"), ("communism", "commun"), ("activate", "activ"),
        ("angulariti", "angular"), ("homologous", "homolog"), ("effective", "effect"),
        ("bowdlerize", "bowdler"), ("probate", "probat"), ("rate", "rate"), ("cease", "ceas"),
        ("controll", "control"), ("roll", "roll"), ("generalizations", "gener"),
        ("oscillators", "oscil"), ("apology", "apolog"), ("abilities", "abil"),
        ("studies", "studi"), ("running", "run"), ("connection", "connect"),
        ("connected", "connect"), ("is", "is"), ("as", "as"), ("proteins", "protein"),
        ("cells", "cell"), ("cancer", "cancer"), ("tumour", "tumour"), ("dying", "dy"),
        ("lying", "ly"), ("possibly", "possibl"), ("university", "univers"),
        ("relativity", "rel"), ("archaeology", "archaeolog"), ("knightly", "knightli"),
    ]

    @Test func stemsMatchThePorterTable() {
        for (word, expected) in Self.table {
            #expect(PorterStemmer.stem(word) == expected, "\(word)")
        }
    }
}

@Suite struct StandardTokenizerTests {
    static let cases: [(String, [String])] = [
        ("Hello, World!", ["Hello", "World"]),
        ("state-of-the-art results", ["state", "of", "the", "art", "results"]),
        ("The DDC's role in 1.8 mg/kg doses", ["The", "DDC's", "role", "in", "1.8", "mg", "kg", "doses"]),
        ("U.S.A. and e.g. Dr.Smith", ["U.S.A", "and", "e.g", "Dr.Smith"]),
        ("1,000,000 people; 3.14, 2.71.", ["1,000,000", "people", "3.14", "2.71"]),
        ("don't won’t rock'n'roll 'quoted'", ["don't", "won’t", "rock'n'roll", "quoted"]),
        ("IL-6 p53 H2O b12 COVID-19", ["IL", "6", "p53", "H2O", "b12", "COVID", "19"]),
        ("snake_case __init__ _", ["snake_case", "__init__"]),
        ("mail user@example.com now", ["mail", "user", "example.com", "now"]),
        ("see https://www.example.org/a-b?x=1", ["see", "https", "www.example.org", "a", "b", "x", "1"]),
        ("a:b 10:30 ratio 1:2", ["a:b", "10", "30", "ratio", "1", "2"]),
        ("naïve café résumé", ["naïve", "café", "résumé"]),
        ("α-synuclein β2 T‐cells", ["α", "synuclein", "β2", "T", "cells"]),
        ("m² ±5% 37°C", ["m", "5", "37", "C"]),
        ("中文字 テスト ひらがな", ["中", "文", "字", "テスト", "ひ", "ら", "が", "な"]),
        ("tab\there\nnew line", ["tab", "here", "new", "line"]),
        ("$100 #tag @user", ["100", "tag", "user"]),
        ("3.5x 2nd v1.2.3", ["3.5x", "2nd", "v1.2.3"]),
        ("co\u{00AD}operate", ["co\u{00AD}operate"]),
    ]

    @Test func tokensFollowLuceneStandardTokenizer() {
        for (text, expected) in Self.cases {
            #expect(EnglishAnalyzer.standardTokens(text) == expected, "\(text)")
        }
    }

    @Test func overlongTokensAreSplitAt255() {
        let long = String(repeating: "a", count: 600)
        #expect(EnglishAnalyzer.standardTokens(long).map(\.count) == [255, 255, 90])
    }
}

@Suite struct EnglishAnalyzerTests {
    @Test func fullChainPossessiveLowercaseStopwordsAndPorter() {
        var analyzer = EnglishAnalyzer()
        #expect(
            analyzer.analyze("The DDC's effects on Running and the cells’ IL-6 levels")
                == ["ddc", "effect", "run", "cell", "il", "6", "level"])
        #expect(
            analyzer.analyze("This is NOT a test; it WAS with them.") == ["test", "them"])
        #expect(analyzer.analyze("John’S apples") == ["john", "appl"])
        #expect(analyzer.analyze("") == [])
        #expect(analyzer.analyze("   ...  ") == [])
        #expect(analyzer.analyze("0-dimensional 1.8% Generalizations") == ["0", "dimension", "1.8", "gener"])
    }

    @Test func allThirtyThreeStopwordsAreRemoved() {
        var analyzer = EnglishAnalyzer()
        #expect(EnglishAnalyzer.stopwords.count == 33)
        #expect(analyzer.analyze(EnglishAnalyzer.stopwords.joined(separator: " ").uppercased()) == [])
    }
}
