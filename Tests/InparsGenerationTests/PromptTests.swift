import Foundation
import InparsCore
import InparsTestSupport
import Testing

@testable import InparsGeneration

/// One case of Tests/Fixtures/generation/prompt_goldens.json (made by
/// Scripts/fixtures/generation_prompts.py with Python's str.format and rstrip).
struct PromptGolden: Decodable, CustomTestStringConvertible {
    struct Example: Decodable {
        var query_id: String
        var query: String
        var document: String
    }
    var name: String
    var template: String?
    var template_text: String?
    var document: String
    var examples: [Example]
    var expected: String
    var testDescription: String { name }

    static func load() throws -> [PromptGolden] {
        let url = TestPaths.fixtures.appendingPathComponent("generation/prompt_goldens.json")
        return try JSONDecoder().decode([PromptGolden].self, from: Data(contentsOf: url))
    }
}

@Suite struct PromptTests {
    @Test(arguments: try PromptGolden.load())
    func promptsMatchTheToolkitRenderingByteForByte(_ golden: PromptGolden) throws {
        let template: PromptTemplate
        if let name = golden.template {
            template = try #require(PromptTemplate.builtin(name))
        } else {
            template = try PromptTemplate(
                name: "user", text: try #require(golden.template_text),
                mode: golden.examples.isEmpty ? .static : .dynamic)
        }
        let examples = golden.examples.map {
            FewShotExample(id: $0.query_id, query: $0.query, document: $0.document)
        }
        let builder = try PromptBuilder(
            template: template, examples: examples, numExamples: examples.count)
        let rendered = builder.render(document: golden.document, examples: examples)
        #expect(Array(rendered.utf8) == Array(golden.expected.utf8))
        if template.mode == .static {
            let built = try builder.build(document: golden.document, position: 0)
            #expect(built.text == golden.expected)
            #expect(built.exampleIDs.isEmpty)
        }
    }

    @Test(.enabled(if: TestPaths.sharedDesign("prompts") != nil))
    func builtinTextsEqualTheSharedFiles() throws {
        let folder = try #require(TestPaths.sharedDesign("prompts"))
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".txt") }
        #expect(files.map { String($0.dropLast(4)) }.sorted() == PromptTemplate.builtinNames)
        for file in files {
            let bytes = try Data(contentsOf: folder.appendingPathComponent(file))
            let template = try #require(PromptTemplate.builtin(String(file.dropLast(4))))
            #expect(Data(template.text.utf8) == bytes, "\(file) differs")
        }
    }

    @Test func builtinModesFollowTheToolkit() throws {
        #expect(PromptTemplate.builtin("inpars")?.mode == .static)
        #expect(PromptTemplate.builtin("inpars-gbq")?.mode == .static)
        #expect(PromptTemplate.builtin("promptagator-arguana")?.mode == .dynamic)
        // The Passiflora copy-paste artefact is kept for fidelity.
        #expect(PromptTemplate.builtin("inpars")?.text.contains("inedible.assiflora") == true)
        #expect(PromptTemplate.builtin("nope") == nil)
    }

    @Test(arguments: [
        ("Doc: {doc}\n", 5, "unknown placeholder '{doc}' (only {document} and {query})"),
        ("Doc: {document}\nQ: {query\n", 19, "'{' without a closing '}'"),
        ("a } b {document}", 2, "single '}'"),
        ("{0} {document}", 0, "unknown placeholder '{0}' (only {document} and {query})"),
    ])
    func invalidTemplatesNameThePlaceAndTheProblem(text: String, offset: Int, reason: String) {
        #expect(
            throws: GenerationError.invalidTemplate(
                source: "file 't.txt'", offset: offset, reason: reason)
        ) {
            _ = try PromptTemplate(name: "t.txt", text: text, mode: .static, source: "file 't.txt'")
        }
    }

    @Test func userTemplateFilesLoadAndUnknownNamesFail() throws {
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("mine.txt").path
        try Data("D: {document}\nQ: {query}\n".utf8).write(to: URL(fileURLWithPath: path))
        let template = try PromptTemplate.load(path)
        #expect(template.mode == .static)
        #expect(template.renderTarget(document: "x y") == "D: x y\nQ:")
        #expect(try PromptTemplate.load(path, dynamic: true).mode == .dynamic)
        #expect(
            throws: GenerationError.unknownPrompt(
                name: "inparz", builtins: PromptTemplate.builtinNames)
        ) {
            _ = try PromptTemplate.load("inparz")
        }
    }

    @Test func dynamicExamplesAreDrawnPerDocumentWithTheSeed() throws {
        let pool = (0..<6).map {
            FewShotExample(id: "q\($0)", query: "query \($0)", document: "doc \($0)")
        }
        let template = try #require(PromptTemplate.builtin("promptagator-nfcorpus"))
        func ids(seed: UInt64) throws -> [[String]] {
            let builder = try PromptBuilder(
                template: template, examples: pool, numExamples: 3, seed: seed)
            return try (0..<40).map {
                try builder.build(document: "target", position: $0).exampleIDs
            }
        }
        let first = try ids(seed: 7)
        #expect(try ids(seed: 7) == first)
        #expect(try ids(seed: 8) != first)
        for drawn in first { #expect(drawn.count == 3 && Set(drawn).count == 3) }
        #expect(Set(first.flatMap { $0 }) == Set(pool.map(\.id)))
        #expect(Set(first.map { $0.joined(separator: ",") }).count > 5)
        // The prompt shows the drawn examples in draw order, then the target.
        let builder = try PromptBuilder(template: template, examples: pool, numExamples: 3, seed: 7)
        let built = try builder.build(document: "target", position: 0)
        let expected =
            first[0].map { id -> String in
                let n = id.dropFirst()
                return "Article: doc \(n)\nQuery: query \(n)\n"
            }.joined() + "Article: target\nQuery:"
        #expect(built.text == expected)
    }

    @Test func dynamicTemplatesNeedEnoughExamples() throws {
        let template = try #require(PromptTemplate.builtin("promptagator-fiqa"))
        #expect(throws: GenerationError.missingFewShotExamples(template: "promptagator-fiqa")) {
            _ = try PromptBuilder(template: template)
        }
        let two = [
            FewShotExample(id: "a", query: "q", document: "d"),
            FewShotExample(id: "b", query: "q", document: "d"),
        ]
        #expect(
            throws: GenerationError.notEnoughExamples(path: "ex.jsonl", available: 2, requested: 3)
        ) {
            _ = try PromptBuilder(template: template, examples: two, examplesPath: "ex.jsonl")
        }
    }

    @Test func documentsAreCutToTheWordLimit() throws {
        let template = try PromptTemplate(
            name: "t", text: "{document}\nQ: {query}\n", mode: .static)
        let builder = try PromptBuilder(template: template, maxDocTokens: 4)
        let built = try builder.build(document: "  one two\tthree  four five six", position: 0)
        #expect(built.text == "  one two\tthree  four\nQ:")
        #expect(WordTruncation.truncate("a b", maxWords: 2) == "a b")
        #expect(WordTruncation.truncate("a b ", maxWords: 2) == "a b ")
        #expect(WordTruncation.truncate("a b c", maxWords: 0) == "")
        #expect(WordTruncation.count(" a\u{00A0}b \n c ") == 3)
    }

    @Test func anOverlongPromptIsRefusedWithItsLength() throws {
        // "Passage: w1 … w10\nQuery:" is 12 words; with 64 new tokens that is 76 > 70.
        let template = try PromptTemplate(
            name: "t", text: "Passage: {document}\nQuery: {query}\n", mode: .static)
        let document = (1...10).map { "w\($0)" }.joined(separator: " ")
        let tight = try PromptBuilder(template: template, maxPromptTokens: 70, maxNewTokens: 64)
        #expect(
            throws: GenerationError.promptTooLong(
                tokens: 12, limit: 70, detail: "counted in words: no tokenizer is known")
        ) {
            _ = try tight.build(document: document, position: 0)
        }
        let roomy = try PromptBuilder(template: template, maxPromptTokens: 76, maxNewTokens: 64)
        #expect(try roomy.build(document: document, position: 0).text.hasSuffix("w10\nQuery:"))
    }

    @Test func fewShotFilesAreReadWithIdsAndErrorsNameTheLine() throws {
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("ex.jsonl")
        try Data(
            """
            {"query_id": 12, "doc_id": "d1", "query": "q one", "document": "doc one"}

            {"query": "q two", "document": "doc two"}

            """.utf8
        ).write(to: good)
        #expect(
            try FewShotExample.read(good) == [
                FewShotExample(id: "12", query: "q one", document: "doc one"),
                FewShotExample(id: "3", query: "q two", document: "doc two"),
            ])
        let bad = folder.appendingPathComponent("bad.jsonl")
        try Data("{\"query\": \"q\", \"document\": \"d\"}\n{\"query\": \"q\"}\n".utf8).write(
            to: bad)
        #expect(
            throws: InparsCoreError.malformedLine(
                path: bad.path, line: 2, field: "document", reason: "missing")
        ) {
            _ = try FewShotExample.read(bad)
        }
    }

    @Test func sampleDrawsDistinctIndicesAndIsPrefixStable() {
        var a = SeededGenerator(seed: 5)
        var b = SeededGenerator(seed: 5)
        let short = RandomSampling.sample(10, from: 1000, using: &a)
        let long = RandomSampling.sample(100, from: 1000, using: &b)
        #expect(Array(long.prefix(10)) == short)
        #expect(Set(long).count == 100)
        #expect(long.allSatisfy { (0..<1000).contains($0) })
        var c = SeededGenerator(seed: 5)
        #expect(RandomSampling.sample(7, from: 7, using: &c).sorted() == Array(0..<7))
    }
}
