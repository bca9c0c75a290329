import Foundation
import InparsTestSupport
import InparsTokenizers
import Testing

/// Every row of the five fixtures' golden tables (Llama 3 and Qwen2 byte-level BPE, Llama 2
/// SentencePiece BPE with byte fallback, BERT WordPiece, XLM-R Unigram) against HF
/// `tokenizers`: exact ids, token types, truncation, decodes and stream steps.
@Suite struct HuggingFaceTokenizerGoldenTests {
    @Test("Tricky texts encode to HF's ids, with and without special tokens", arguments: HuggingFaceGolden.names)
    func trickyTexts(_ name: String) throws {
        let golden = try HuggingFaceGolden.load(name)
        let tokenizer = try HuggingFaceGolden.tokenizer(name)
        var log = MismatchLog("\(name) texts")
        for c in golden.cases {
            log.check(tokenizer.encode(c.text), c.ids, "\(c.name) \(c.text.debugDescription)")
            log.check(tokenizer.tokenize(c.text), c.plain, "\(c.name) without special tokens")
            log.check(tokenizer.encode(c.text, addSpecialTokens: false), c.plain, "\(c.name) addSpecialTokens false")
        }
        log.finish()
    }

    @Test("Random mixtures encode to HF's ids and decode as HF does", arguments: HuggingFaceGolden.names)
    func randomMixtures(_ name: String) throws {
        let golden = try HuggingFaceGolden.load(name)
        let tokenizer = try HuggingFaceGolden.tokenizer(name)
        var log = MismatchLog("\(name) random")
        for c in golden.random {
            log.check(tokenizer.encode(c.text), c.ids, c.text.debugDescription)
            log.check(tokenizer.decode(c.ids, skipSpecialTokens: true), c.decoded, "decode \(c.ids)")
        }
        #expect(golden.random.count == 300)
        log.finish()
    }

    @Test("Decoding gives HF's text, with and without special tokens", arguments: HuggingFaceGolden.names)
    func decoding(_ name: String) throws {
        let golden = try HuggingFaceGolden.load(name)
        let tokenizer = try HuggingFaceGolden.tokenizer(name)
        var log = MismatchLog("\(name) decode")
        for c in golden.cases {
            log.check(tokenizer.decode(c.ids, skipSpecialTokens: true), c.decoded, c.name)
            log.check(tokenizer.decode(c.ids, skipSpecialTokens: false), c.decodedWithSpecial, c.name)
        }
        for d in golden.decodes {
            log.check(tokenizer.decode(d.ids, skipSpecialTokens: true), d.decoded, "\(d.ids)")
            log.check(tokenizer.decode(d.ids, skipSpecialTokens: false), d.decodedWithSpecial, "\(d.ids) with special")
        }
        log.finish()
    }

    @Test("The incremental decoder returns DecodeStream's chunks", arguments: HuggingFaceGolden.names)
    func streams(_ name: String) throws {
        let golden = try HuggingFaceGolden.load(name)
        let tokenizer = try HuggingFaceGolden.tokenizer(name)
        var log = MismatchLog("\(name) streams")
        for stream in golden.streams {
            var decoder = IncrementalDecoder(tokenizer, skipSpecialTokens: stream.skip)
            var steps: [String?] = []
            for id in stream.ids { steps.append(try decoder.step(id)) }
            log.check(steps, stream.steps, "\(stream.ids) skip \(stream.skip)")
        }
        log.finish()
    }

    @Test("Pairs get HF's ids and token type ids", arguments: HuggingFaceGolden.names)
    func pairs(_ name: String) throws {
        let golden = try HuggingFaceGolden.load(name)
        let tokenizer = try HuggingFaceGolden.tokenizer(name)
        var log = MismatchLog("\(name) pairs")
        for pair in golden.pairs {
            let encoded = tokenizer.encode(pair.a, pairedWith: pair.b)
            log.check(encoded.ids, pair.ids, "\(pair.a.debugDescription) + \(pair.b.debugDescription)")
            log.check(encoded.typeIDs, pair.typeIDs, "type ids of \(pair.a.debugDescription) + \(pair.b.debugDescription)")
        }
        log.finish()
    }

    @Test("Pair truncation cuts as HF's only_second and longest_first", arguments: HuggingFaceGolden.names)
    func truncation(_ name: String) throws {
        let golden = try HuggingFaceGolden.load(name)
        let tokenizer = try HuggingFaceGolden.tokenizer(name)
        var log = MismatchLog("\(name) truncation")
        var refused = 0
        let added = tokenizer.postProcessor.addedCount(pair: true)
        for row in golden.truncation {
            let strategy: PairTruncation = row.strategy == "only_second" ? .onlySecond : .longestFirst
            let context = "\(row.strategy) \(row.maxLength): \(row.a.debugDescription) + \(row.b.debugDescription)"
            if row.maxLength < added {
                // HF's `max_length - added` wraps around: it returns the pair uncut, over the
                // limit. We refuse instead.
                #expect(throws: PairTruncationError.self, "\(context)") {
                    try tokenizer.encode(row.a, pairedWith: row.b, maxLength: row.maxLength, truncation: strategy)
                }
                if let ids = row.ids, !ids.isEmpty {
                    log.check(ids, tokenizer.encode(row.a, pairedWith: row.b).ids, "\(context) (HF uncut)")
                }
                continue
            }
            do {
                let encoded = try tokenizer.encode(
                    row.a, pairedWith: row.b, maxLength: row.maxLength, truncation: strategy)
                log.check(encoded.ids, row.ids ?? [], context)
                log.check(encoded.typeIDs, row.typeIDs ?? [], context)
                #expect(encoded.ids.count <= row.maxLength, "\(context)")
            } catch {
                refused += 1
                log.check("refused", row.error == nil ? "encoded" : "refused", context)
            }
        }
        #expect(refused > 0 && refused < golden.truncation.count, "both outcomes are covered")
        log.finish()
    }

    @Test("Special tokens and vocabulary size are those transformers reports", arguments: HuggingFaceGolden.names)
    func specialTokens(_ name: String) throws {
        let golden = try HuggingFaceGolden.load(name)
        let tokenizer = try HuggingFaceGolden.tokenizer(name)
        let expected = golden.specialTokens
        #expect(
            tokenizer.specialTokens
                == SpecialTokens(bos: expected.bos, eos: expected.eos, pad: expected.pad, unk: expected.unk))
        #expect(tokenizer.vocabularySize == golden.vocabSize)
        for c in golden.cases.prefix(20) {
            for id in c.ids {
                let token = try #require(tokenizer.token(forID: id), "id \(id) of \(c.name)")
                #expect(tokenizer.id(forToken: token) == id, "\(token)")
            }
        }
    }

    @Test("tokenizer.json variants (other real files' settings) give HF's ids", arguments: HuggingFaceGolden.names)
    func variants(_ name: String) throws {
        let golden = try HuggingFaceGolden.load(name)
        let folder = try TestPaths.temporaryDirectory("tokenizer-variant-\(name)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = HuggingFaceGolden.directory(name).appendingPathComponent("tokenizer.json")
        var base = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any])
        let charsmap = (((base["normalizer"] as? [String: Any])?["normalizers"] as? [[String: Any]])?
            .first { $0["type"] as? String == "Precompiled" }?["precompiled_charsmap"] as? String) ?? ""
        #expect(!golden.variants.isEmpty)
        for variant in golden.variants {
            var root = base
            guard case .object(let patch) = variant.patch else {
                Issue.record("\(variant.name): the patch is not an object")
                continue
            }
            for (key, value) in patch {
                root[key] = value.foundationObject(replacing: "@tokenizer.json", with: charsmap)
            }
            let url = folder.appendingPathComponent("\(variant.name).json")
            try JSONSerialization.data(withJSONObject: root).write(to: url)
            let tokenizer = try TokenizerLoader.load(tokenizerJSON: url)
            var log = MismatchLog("\(name) variant \(variant.name)")
            for (c, ids) in zip(golden.cases, variant.ids) {
                log.check(tokenizer.encode(c.text), ids, "\(c.name) \(c.text.debugDescription)")
            }
            for (ids, decoded) in zip(variant.ids, variant.decoded) {
                log.check(tokenizer.decode(ids, skipSpecialTokens: true), decoded, "decode \(ids)")
            }
            for (pair, expected) in zip(golden.pairs, variant.pairs) {
                let encoded = tokenizer.encode(pair.a, pairedWith: pair.b)
                log.check(encoded.ids, expected.ids, "pair \(pair.a.debugDescription)")
                log.check(encoded.typeIDs, expected.typeIDs, "pair types \(pair.a.debugDescription)")
            }
            log.finish()
        }
        base.removeAll()
    }

    @Test("BERT from vocab.txt alone encodes as transformers' BertTokenizer, per tokenizer_config.json")
    func vocabText() throws {
        let golden = try HuggingFaceGolden.load("bert")
        let rows = try #require(golden.vocabText)
        #expect(rows.count == 5)
        let folder = try TestPaths.temporaryDirectory("tokenizer-vocab-txt")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(
            at: HuggingFaceGolden.directory("bert").appendingPathComponent("vocab.txt"),
            to: folder.appendingPathComponent("vocab.txt"))
        for row in rows {
            var config: [String: Any] = ["tokenizer_class": "BertTokenizer"]
            for (key, value) in row.config { config[key] = value.foundationObject(replacing: "", with: "") }
            try JSONSerialization.data(withJSONObject: config)
                .write(to: folder.appendingPathComponent("tokenizer_config.json"))
            let tokenizer = try TokenizerLoader.load(directory: folder)
            var log = MismatchLog("vocab.txt \(row.config)")
            for (c, ids) in zip(golden.cases, row.ids) {
                log.check(tokenizer.encode(c.text), ids, "\(c.name) \(c.text.debugDescription)")
            }
            for (c, expected) in zip(golden.cases, row.pairs) {
                let encoded = tokenizer.encode("what is bm25", pairedWith: c.text)
                log.check(encoded.ids, expected.ids, "pair with \(c.name)")
                log.check(encoded.typeIDs, expected.typeIDs, "pair types with \(c.name)")
            }
            log.finish()
        }
    }
}
