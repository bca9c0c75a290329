import Foundation
import InparsTestSupport
import InparsTokenizers
import Testing

/// Bad tokenizer files through the one loading entry point: every error is a
/// `TokenizerError` naming the file and, for `tokenizer.json`, the JSON path; nothing traps.
@Suite struct TokenizerLoaderErrorTests {
    /// The Llama 3 fixture's tokenizer.json with `edit` applied, written to a fresh folder.
    private func folder(
        _ fixture: String = "llama3", _ edit: (inout [String: Any]) -> Void
    ) throws -> URL {
        let folder = try TestPaths.temporaryDirectory("tokenizer-loader")
        let source = HuggingFaceGolden.directory(fixture).appendingPathComponent("tokenizer.json")
        var root = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any])
        edit(&root)
        try JSONSerialization.data(withJSONObject: root)
            .write(to: folder.appendingPathComponent("tokenizer.json"))
        return folder
    }

    private func loadError(_ folder: URL) -> TokenizerError? {
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            _ = try TokenizerLoader.load(directory: folder)
            Issue.record("\(folder.path) loaded")
            return nil
        } catch let error as TokenizerError {
            let message = error.errorDescription ?? ""
            #expect(message.contains(folder.path), "\(message)")
            return error
        } catch {
            Issue.record("not a TokenizerError: \(error)")
            return nil
        }
    }

    private func model(_ root: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
        var model = root["model"] as! [String: Any]
        edit(&model)
        root["model"] = model
    }

    @Test("An unknown model type names model.type's value")
    func unknownModel() throws {
        let error = loadError(try folder { root in model(&root) { $0["type"] = "WordLevel" } })
        #expect(error?.errorDescription?.contains("the model type 'WordLevel' at 'model'") == true)
    }

    @Test("An unknown pre-tokenizer, normalizer, decoder or post-processor names its JSON path")
    func unknownComponents() throws {
        let cases: [(String, [String: Any], String)] = [
            ("pre_tokenizer", ["type": "Sequence", "pretokenizers": [["type": "UnicodeScripts"]]],
             "the pre-tokenizer 'UnicodeScripts' at 'pre_tokenizer.pretokenizers[0]'"),
            ("normalizer", ["type": "Nmt"], "the normalizer 'Nmt' at 'normalizer'"),
            ("decoder", ["type": "CTC"], "the decoder 'CTC' at 'decoder'"),
            ("post_processor", ["type": "Sequence", "processors": [["type": "Magic"]]],
             "the post-processor 'Magic' at 'post_processor.processors[0]'"),
        ]
        for (key, value, expected) in cases {
            let error = loadError(try folder { $0[key] = value })
            #expect(error?.errorDescription?.contains(expected) == true, "\(String(describing: error))")
        }
    }

    @Test("A split regex outside the supported subset is refused, naming the pattern and its path")
    func unsupportedRegex() throws {
        let error = loadError(
            try folder { root in
                root["pre_tokenizer"] = [
                    "type": "Split", "pattern": ["Regex": "(?<=a)b|\\p{Han}"], "behavior": "Isolated",
                    "invert": false,
                ]
            })
        let message = error?.errorDescription ?? ""
        #expect(message.contains("pre_tokenizer.pattern.Regex"), "\(message)")
        #expect(message.contains("(?<=a)b"), "\(message)")
    }

    @Test("Bad model fields name the field")
    func badModelFields() throws {
        let cases: [((inout [String: Any]) -> Void, String)] = [
            ({ $0["merges"] = [["Ġzzzz", "q"]] }, "model.merges[0]"),
            ({ $0["merges"] = ["a b c"] }, "model.merges[0]"),
            ({ $0.removeValue(forKey: "vocab") }, "model.vocab"),
            ({ $0["vocab"] = ["a": "one"] }, "model.vocab.a"),
            ({ $0["unk_token"] = "<missing>" }, "model.unk_token"),
            ({ $0["dropout"] = 0.1 }, "BPE dropout"),
            ({ $0["fuse_unk"] = "yes" }, "model.fuse_unk"),
        ]
        for (edit, expected) in cases {
            let error = loadError(try folder { root in model(&root, edit) })
            #expect(error?.errorDescription?.contains(expected) == true, "\(String(describing: error))")
        }
    }

    @Test("Bad added tokens and templates name the field")
    func badAddedTokensAndTemplates() throws {
        let error = loadError(try folder { $0["added_tokens"] = [["id": -1, "content": "x"]] })
        #expect(error?.errorDescription?.contains("added_tokens[0].id") == true)
        let template = loadError(
            try folder { root in
                root["post_processor"] = [
                    "type": "TemplateProcessing",
                    "single": [["SpecialToken": ["id": "<|nope|>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                    "pair": [["Sequence": ["id": "A", "type_id": 0]], ["Sequence": ["id": "B", "type_id": 1]]],
                    "special_tokens": [:] as [String: Any],
                ]
            })
        #expect(template?.errorDescription?.contains("post_processor.single[0].SpecialToken.id") == true)
        let pairless = loadError(
            try folder { root in
                root["post_processor"] = [
                    "type": "TemplateProcessing", "single": [["Sequence": ["id": "A"]]],
                    "pair": [["Sequence": ["id": "A"]]], "special_tokens": [:] as [String: Any],
                ]
            })
        #expect(pairless?.errorDescription?.contains("post_processor.pair") == true)
        let outOfRange = loadError(
            try folder { root in
                root["post_processor"] = [
                    "type": "BertProcessing", "sep": ["[SEP]", 99999], "cls": ["[CLS]", 0],
                ]
            })
        #expect(outOfRange?.errorDescription?.contains("99999 is not a token id") == true)
    }

    @Test("A Unigram model with byte fallback is refused")
    func unigramByteFallback() throws {
        let error = loadError(try folder("xlmr") { root in model(&root) { $0["byte_fallback"] = true } })
        #expect(error?.errorDescription?.contains("byte fallback") == true)
    }

    @Test("Garbage and truncated tokenizer.json files name the file and say why")
    func garbage() throws {
        let source = try Data(
            contentsOf: HuggingFaceGolden.directory("qwen2").appendingPathComponent("tokenizer.json"))
        for bytes in [Data("not json".utf8), source.prefix(source.count / 2), Data([0xFF, 0xFE, 0x00]), Data()] {
            let folder = try TestPaths.temporaryDirectory("tokenizer-garbage")
            try bytes.write(to: folder.appendingPathComponent("tokenizer.json"))
            let error = loadError(folder)
            let message = error?.errorDescription ?? ""
            #expect(message.contains("tokenizer.json"), "\(message)")
            #expect(!message.contains("correct format"), "\(message)")
        }
        let array = loadError(try {
            let folder = try TestPaths.temporaryDirectory("tokenizer-garbage")
            try Data("[1, 2]".utf8).write(to: folder.appendingPathComponent("tokenizer.json"))
            return folder
        }())
        #expect(array?.errorDescription?.contains("top level is not an object") == true)
    }

    @Test("tokenizer_config.json naming a token the tokenizer lacks is an error")
    func configNamesUnknownToken() throws {
        let folder = try folder { _ in }
        try Data(#"{"eos_token": "<|no such token|>"}"#.utf8)
            .write(to: folder.appendingPathComponent("tokenizer_config.json"))
        let error = loadError(folder)
        #expect(error?.errorDescription?.contains("eos_token") == true)
    }

    @Test("vocab.txt without [UNK], and folders with only a slow tokenizer's files, are reported")
    func vocabTextAndSlowFiles() throws {
        let folder = try TestPaths.temporaryDirectory("tokenizer-vocab")
        try Data("[PAD]\n[CLS]\n[SEP]\nhello\n".utf8).write(to: folder.appendingPathComponent("vocab.txt"))
        let error = loadError(folder)
        #expect(error?.errorDescription?.contains("[UNK]") == true)
        for name in ["tokenizer.model", "sentencepiece.bpe.model", "vocab.json"] {
            let slow = try TestPaths.temporaryDirectory("tokenizer-slow")
            try Data([1, 2, 3]).write(to: slow.appendingPathComponent(name))
            let error = loadError(slow)
            #expect(error?.errorDescription?.contains(name) == true)
            #expect(error?.errorDescription?.contains("save_pretrained") == true)
        }
        let empty = try TestPaths.temporaryDirectory("tokenizer-none")
        #expect(loadError(empty) == .noTokenizerFiles(directory: empty.path))
    }

    @Test("Randomly corrupted tokenizer.json files load or fail with a TokenizerError, never trap")
    func corrupted() throws {
        let original = Array(
            try Data(contentsOf: HuggingFaceGolden.directory("bert").appendingPathComponent("tokenizer.json")))
        let folder = try TestPaths.temporaryDirectory("tokenizer-corrupt-json")
        defer { try? FileManager.default.removeItem(at: folder) }
        var random = TestRandom(seed: 11)
        var failures = 0
        let replacements = Array("0123456789\"{}[],:-".utf8)
        for _ in 0..<40 {
            var bytes = original
            for _ in 0..<(1 + Int(random.next() % 3)) {
                let index = Int(random.next() % UInt64(bytes.count))
                bytes[index] = replacements[Int(random.next() % UInt64(replacements.count))]
            }
            let url = folder.appendingPathComponent("tokenizer.json")
            try Data(bytes).write(to: url)
            do {
                let tokenizer = try TokenizerLoader.load(tokenizerJSON: url)
                let ids = tokenizer.encode("Query: true or false? 😀 café")
                #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
                _ = tokenizer.decode(ids)
            } catch let error as TokenizerError {
                failures += 1
                #expect(error.errorDescription?.contains(url.path) == true, "\(error)")
            }
        }
        #expect(failures > 0)
    }
}
