import Foundation
import InparsCore
import InparsTestSupport
import Testing

@testable import InparsBM25

@Suite struct SmallFloatTests {
    @Test func lengthsRoundDownToLuceneBuckets() {
        // From BM25-REFERENCE.md §2 (Lucene SmallFloat.intToByte4 / byte4ToInt).
        let cases: [(Int, Int)] = [
            (0, 0), (1, 1), (23, 23), (24, 24), (39, 39), (40, 40), (41, 40), (55, 54),
            (56, 56), (100, 96), (150, 144), (300, 280), (500, 472), (1000, 984),
        ]
        for (length, decoded) in cases {
            #expect(SmallFloat.byte4ToInt(SmallFloat.intToByte4(length)) == decoded, "\(length)")
        }
        #expect(SmallFloat.maxInt4 == 231)
        #expect(SmallFloat.intToByte4(Int(Int32.max)) == 255)
    }

    @Test func encodingIsMonotoneAndDecodingIsAFixedPoint() {
        var previous: UInt8 = 0
        for length in 0..<100_000 {
            let byte = SmallFloat.intToByte4(length)
            #expect(byte >= previous)
            previous = byte
            let decoded = SmallFloat.byte4ToInt(byte)
            #expect(decoded <= length)
            #expect(SmallFloat.intToByte4(decoded) == byte)
        }
    }
}

@Suite struct BM25ScoringTests {
    static let documents = [
        Document(id: "d1", title: "Cats", text: "cats chase mice. Cats sleep."),
        Document(id: "d2", title: "", text: "dogs chase cats and the dog barks"),
        Document(id: "d3", title: "Mice", text: "mice eat cheese"),
        Document(id: "d0", title: "Nothing", text: ""),
        Document(id: "d4", title: "", text: ""),
        Document(id: "d5", title: "cheese", text: String(repeating: "word ", count: 60) + "cat"),
    ]

    func buildIndex() throws -> (URL, BM25Index) {
        let directory = try TestPaths.temporaryDirectory("bm25-index")
        let url = directory.appendingPathComponent("idx")
        let builder = BM25IndexBuilder(threads: 1, batchSize: 2)
        for document in Self.documents { builder.add(document) }
        let report = try builder.write(to: url)
        #expect(report.documents == 6)
        #expect(report.documentsWithTerms == 5)  // d4 is empty
        return (directory, try BM25Index.open(url))
    }

    /// BM25 as written in Robertson/Lucene ≥ 8 (no k1+1), in Double, with Lucene's lossy lengths.
    func referenceScore(
        query: [String], docTerms: [String], allDocs: [[String]], k1: Double, b: Double
    ) -> Double {
        let nonEmpty = allDocs.filter { !$0.isEmpty }
        let n = Double(nonEmpty.count)
        let avgdl = Double(nonEmpty.map(\.count).reduce(0, +)) / n
        let dl = Double(SmallFloat.byte4ToInt(SmallFloat.intToByte4(docTerms.count)))
        var counts: [String: Int] = [:]
        for term in query { counts[term, default: 0] += 1 }
        var score = 0.0
        for (term, boost) in counts {
            let df = Double(nonEmpty.filter { $0.contains(term) }.count)
            guard df > 0 else { continue }
            let idf = log(1 + (n - df + 0.5) / (df + 0.5))
            let tf = Double(docTerms.filter { $0 == term }.count)
            guard tf > 0 else { continue }
            score += Double(boost) * idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))
        }
        return score
    }

    @Test func scoresMatchTheBM25FormulaWithLossyLengths() throws {
        let (directory, index) = try buildIndex()
        defer { try? FileManager.default.removeItem(at: directory) }
        var analyzer = EnglishAnalyzer()
        let analyzed = Self.documents.map { analyzer.analyze($0.flatContents) }
        for parameters in [BM25Parameters(), BM25Parameters(k1: 1.2, b: 0.75)] {
            let searcher = BM25Searcher(index: index, parameters: parameters)
            for query in ["cats chase", "cheese mice mice", "dog", "cat word", "unknownterm"] {
                let hits = searcher.search(query, k: 10)
                let terms = analyzer.analyze(query)
                var expected: [(String, Double)] = []
                for (i, document) in Self.documents.enumerated() {
                    let s = referenceScore(
                        query: terms, docTerms: analyzed[i], allDocs: analyzed,
                        k1: Double(parameters.k1), b: Double(parameters.b))
                    if s > 0 { expected.append((document.id, s)) }
                }
                expected.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
                #expect(hits.count == expected.count, "\(query)")
                for (hit, want) in zip(hits, expected) {
                    #expect(index.documentId(Int(hit.document)) == want.0, "\(query)")
                    #expect(abs(Double(hit.score) - want.1) <= 1e-5 * max(1, want.1), "\(query)")
                }
            }
        }
    }

    @Test func tiesAreBrokenByDocumentIdAscending() throws {
        let directory = try TestPaths.temporaryDirectory("bm25-ties")
        defer { try? FileManager.default.removeItem(at: directory) }
        let builder = BM25IndexBuilder()
        for id in ["z", "b", "m", "a10", "a9"] { builder.add(Document(id: id, text: "same words")) }
        builder.add(Document(id: "other", text: "different"))
        try builder.write(to: directory.appendingPathComponent("idx"))
        let index = try BM25Index.open(directory.appendingPathComponent("idx"))
        let hits = index.search("same", k: 3)
        #expect(hits.map(\.docId) == ["a10", "a9", "b"])
        #expect(Set(hits.map(\.score)).count == 1)
    }

    @Test func indexIsIdenticalForAnyThreadCount() throws {
        let directory = try TestPaths.temporaryDirectory("bm25-threads")
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = TestRandom(seed: 11)
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
        let documents = (0..<500).map { i in
            Document(
                id: "doc\(i)",
                text: (0..<Int.random(in: 0..<30, using: &random)).map { _ in
                    words.randomElement(using: &random)!
                }.joined(separator: " "))
        }
        var files: [Data] = []
        for threads in [1, 3] {
            let builder = BM25IndexBuilder(threads: threads, batchSize: 64)
            for document in documents { builder.add(document) }
            let url = directory.appendingPathComponent("idx\(threads)")
            try builder.write(to: url)
            files.append(try Data(contentsOf: url.appendingPathComponent("index.bin")))
        }
        #expect(files[0] == files[1])
    }

    @Test func removeQueryDropsTheQueryDocumentAndKeepsK() throws {
        let (directory, index) = try buildIndex()
        defer { try? FileManager.default.removeItem(at: directory) }
        let queries = [Query(id: "d1", text: "cats")]
        let plain = BM25BatchSearch.run(index: index, queries: queries, k: 2, scoreStyle: .raw)
        #expect(plain.entries["d1"]!.map(\.docId).first == "d1")
        let removed = BM25BatchSearch.run(
            index: index, queries: queries, k: 2, removeQuery: true, scoreStyle: .raw)
        #expect(removed.entries["d1"]!.map(\.docId) == ["d2", "d5"])
    }

    @Test func anseriniScoreStyleRoundsAndSeparatesTies() {
        let hits: [(docId: String, score: Float)] = [
            ("b", 2.00004), ("a", 2.00001), ("c", 1.5), ("d", 1.5), ("e", 1.0),
        ]
        let entries = BM25BatchSearch.entries(for: "q", hits: hits, style: .anserini)
        // The order is kept; 2.00004 and 2.00001 both round to 2.0, so the second is lowered.
        #expect(entries.map(\.docId) == ["b", "a", "c", "d", "e"])
        #expect(Run.line(entries[0], tag: "t") == "q Q0 b 1 2.000000 t\n")
        #expect(Run.line(entries[1], tag: "t") == "q Q0 a 2 1.999999 t\n")
        #expect(Run.line(entries[3], tag: "t") == "q Q0 d 4 1.499999 t\n")
        #expect(Run.line(entries[4], tag: "t") == "q Q0 e 5 1.000000 t\n")
    }

    /// The C routine against the rule written out in Swift, float by float, on ranked scores
    /// full of near ties and runs of equal scores (and 0, large and NaN scores).
    @Test func anseriniScoresMatchTheRuleScoreForScore() {
        func rule(_ scores: [Float]) -> [Float] {
            var out: [Float] = []
            var previous: Float = 0
            var duplicates = 0
            for (i, s) in scores.enumerated() {
                let x: Float = s * 1e4
                var score = (x + 0.5).rounded(.down) / 1e4
                if i == 0 || previous - score > 1e-4 {
                    duplicates = 0
                } else {
                    duplicates += 1
                    score -= 1e-6 * Float(duplicates)
                }
                previous = score
                out.append(score)
            }
            return out
        }
        var generator = SeededGenerator(seed: 18)
        for trial in 0..<200 {
            var scores = (0..<Int.random(in: 0...300, using: &generator)).map { _ in
                Float.random(in: 0..<(trial % 2 == 0 ? 3 : 40), using: &generator)
            }
            // Runs of equal and nearly equal scores.
            for i in scores.indices.dropFirst() where Int.random(in: 0..<4, using: &generator) == 0 {
                scores[i] = scores[i - 1] + Float.random(in: -0.0002...0, using: &generator)
            }
            if trial == 7 { scores += [0, 0, 0, 3e9, .nan] }
            scores.sort { !($0 < $1) }
            let hits = scores.enumerated().map { BM25Hit(document: Int32($0.offset), score: $0.element) }
            let written = BM25BatchSearch.writtenScores(hits, style: .anserini)
            let expected = rule(scores)
            #expect(written.count == expected.count)
            for (w, e) in zip(written, expected) {
                #expect(w.bitPattern == e.bitPattern || (w.isNaN && e.isNaN), "trial \(trial)")
            }
        }
    }
}

@Suite struct BM25IndexIntegrityTests {
    func makeIndex() throws -> (URL, URL) {
        let directory = try TestPaths.temporaryDirectory("bm25-integrity")
        let url = directory.appendingPathComponent("idx")
        let builder = BM25IndexBuilder()
        builder.add(Document(id: "a", text: "some text here"))
        builder.add(Document(id: "b", text: "more text"))
        try builder.write(to: url)
        return (directory, url)
    }

    func patch(_ url: URL, at offset: Int, _ bytes: [UInt8]) throws {
        let file = url.appendingPathComponent("index.bin")
        var data = try Data(contentsOf: file)
        for (n, byte) in bytes.enumerated() { data[offset + n] = byte }
        try data.write(to: file)
    }

    @Test func previousFormatVersionAsksForARebuild() throws {
        let (directory, url) = try makeIndex()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = url.appendingPathComponent("index.bin").path
        // Version 1 (one LEB128 stream per term, no block bounds), version 2 (no range
        // bounds) and version 3 (range bounds per 64 documents) indexes are refused with the
        // rebuild command, and so is a newer version.
        for version: UInt8 in [1, 2, 3, 5] {
            try patch(url, at: 8, [version, 0, 0, 0])
            #expect(
                throws: BM25Error.unsupportedVersion(path: path, found: UInt32(version), supported: 4)
            ) { _ = try BM25Index.open(url) }
            do {
                _ = try BM25Index.open(url)
            } catch {
                let message = error.localizedDescription
                #expect(message.contains("format version \(version)"), "\(message)")
                #expect(message.contains("reads version 4"), "\(message)")
                #expect(message.contains("rebuild it with 'inpars index'"), "\(message)")
            }
        }
    }

    @Test func corruptedPostingsAreRefused() throws {
        let (directory, url) = try makeIndex()
        defer { try? FileManager.default.removeItem(at: directory) }
        let size = try Data(contentsOf: url.appendingPathComponent("index.bin")).count
        try patch(url, at: size - 9, [0xFF])
        #expect {
            _ = try BM25Index.open(url)
        } throws: { error in
            guard case .corrupted(_, let detail) = error as? BM25Error else { return false }
            return detail.contains("checksum")
        }
    }

    @Test func corruptedHeaderAndForeignFilesAreRefused() throws {
        let (directory, url) = try makeIndex()
        defer { try? FileManager.default.removeItem(at: directory) }
        try patch(url, at: 20, [0x7F])
        #expect(throws: BM25Error.self) { _ = try BM25Index.open(url) }
        try Data("hello world, not an index".utf8).write(to: url.appendingPathComponent("index.bin"))
        #expect(throws: BM25Error.notAnIndex(path: url.appendingPathComponent("index.bin").path)) {
            _ = try BM25Index.open(url)
        }
        #expect(throws: BM25Error.indexNotFound(path: directory.appendingPathComponent("nope").path)) {
            _ = try BM25Index.open(directory.appendingPathComponent("nope"))
        }
    }

    @Test func failedBuildLeavesNoIndexBehind() throws {
        let directory = try TestPaths.temporaryDirectory("bm25-crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        let corpus = directory.appendingPathComponent("corpus.jsonl")
        try Data("{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"a\", \"text\": \"y\"}\n".utf8)
            .write(to: corpus)
        #expect(throws: InparsCoreError.self) {
            _ = try BM25IndexBuilder.build(
                corpus: corpus, index: directory.appendingPathComponent("idx"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["corpus.jsonl"])
    }
}

@Suite struct TopKSelectionTests {
    @Test func selectionKeepsExactlyTheLargestKeys() {
        var random = TestRandom(seed: 5)
        for trial in 0..<400 {
            let n = Int.random(in: 1...(trial % 4 == 0 ? 5_000 : 300), using: &random)
            let k = Int.random(in: 1...n, using: &random)
            let all: [UInt64] = (0..<n).map { _ in
                switch trial % 3 {
                // Few distinct values, so many duplicates (the seed keys of pruned search).
                case 0: UInt64.random(in: 0..<8, using: &random) << 32
                // Score keys: shared high bits, unique low bits.
                case 1: 0x4100_0000_0000_0000 | UInt64.random(in: 0..<(1 << 40), using: &random)
                default: UInt64.random(in: 0...UInt64.max, using: &random)
                }
            }
            let pointer = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
            defer { pointer.deallocate() }
            let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
            defer { scratch.deallocate() }
            pointer.initialize(from: all, count: n)
            BM25Searcher.selectLargest(pointer, count: n, k: k, scratch: scratch)
            let selected = UnsafeBufferPointer(start: pointer, count: k).sorted(by: >)
            #expect(selected == Array(all.sorted(by: >).prefix(k)), "trial \(trial) n \(n) k \(k)")
        }
    }
}

@Suite struct DescendingSortTests {
    @Test func radixSortOrdersKeysDescending() {
        var random = TestRandom(seed: 9)
        for n in [0, 1, 2, 23, 24, 25, 100, 1000, 3001] {
            let keys = Array(Set((0..<n).map { _ in UInt64.random(in: 0..<UInt64.max, using: &random) }))
            let pointer = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, keys.count))
            defer { pointer.deallocate() }
            pointer.initialize(from: keys, count: keys.count)
            // Keys that share their high bits, as real score keys do.
            let shared = keys.map { $0 >> 40 | 0x4100_0000_0000_0000 }
            let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, n))
            defer { scratch.deallocate() }
            pointer.update(from: shared, count: shared.count)
            BM25Searcher.radixSortDescending(pointer, count: shared.count, scratch: scratch)
            #expect(Array(UnsafeBufferPointer(start: pointer, count: shared.count)) == shared.sorted(by: >))
            // Tied scores (the high 32 bits) in runs shorter and longer than 32, and all tied.
            for distinct in [1, 3, 40, 500] {
                let tied = Array(
                    Set(keys.map { key in
                        UInt64(0x4100_0000 + UInt32(key % UInt64(distinct))) << 32
                            | (key >> 13 & 0xFFFF_FFFF)
                    }))
                pointer.update(from: tied, count: tied.count)
                BM25Searcher.radixSortDescending(pointer, count: tied.count, scratch: scratch)
                #expect(
                    Array(UnsafeBufferPointer(start: pointer, count: tied.count)) == tied.sorted(by: >),
                    "n \(n), \(distinct) distinct scores")
            }
        }
    }
}

@Suite struct ConvenienceSearchTests {
    @Test func repeatedAndConcurrentCallsGiveTheSameRanking() throws {
        let directory = try TestPaths.temporaryDirectory("bm25-convenience")
        defer { try? FileManager.default.removeItem(at: directory) }
        let builder = BM25IndexBuilder()
        var random = TestRandom(seed: 3)
        let words = ["red", "green", "blue", "cyan", "magenta", "yellow", "black"]
        for i in 0..<300 {
            builder.add(
                Document(
                    id: "d\(i)",
                    text: (0..<8).map { _ in words.randomElement(using: &random)! }.joined(
                        separator: " ")))
        }
        try builder.write(to: directory.appendingPathComponent("idx"))
        let index = try BM25Index.open(directory.appendingPathComponent("idx"))
        let reference = BM25Searcher(index: index).search("red blue blue", k: 50)
            .map { index.documentId(Int($0.document)) }
        #expect(reference.count == 50)
        for _ in 0..<3 {
            #expect(index.search("red blue blue", k: 50).map(\.docId) == reference)
        }
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            results.append(index.search("red blue blue", k: 50).map(\.docId))
        }
        #expect(results.all.count == 8)
        #expect(results.all.allSatisfy { $0 == reference })
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [[String]] = []
        func append(_ value: [String]) {
            lock.lock()
            values.append(value)
            lock.unlock()
        }
        var all: [[String]] {
            lock.lock()
            defer { lock.unlock() }
            return values
        }
    }
}

/// Range bounds (index format 3): which terms get them, and that each byte bounds every
/// posting of its 64 documents, tightly, with impacts computed here from the texts.
@Suite struct RangeBoundTests {
    @Test func rangeBytesBoundEveryPostingOfTheirRange() throws {
        let directory = try TestPaths.temporaryDirectory("bm25-ranges")
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = TestRandom(seed: 11)
        // 1,000 documents: "often" in most (tf 1–5), "some" in about 1 in 40 (dense: at least
        // 1 in 256), "seldom" in 3 (not dense); fillers are distinct words, so a document's
        // length is its token count.
        let documents = 1_000
        var tfs: [String: [Int]] = ["often": [], "some": [], "seldom": []]
        var lengths: [Int] = []
        let builder = BM25IndexBuilder()
        for d in 0..<documents {
            let often = random.next() % 5 == 0 ? 0 : Int(random.next() % 5) + 1
            let some = random.next() % 40 == 0 ? Int(random.next() % 3) + 1 : 0
            let seldom = d % 400 == 7 ? 1 : 0
            let fillers = Int(random.next() % 150) + 1
            var words = (0..<fillers).map { "filler\(d)x\($0)" }
            words += Array(repeating: "often", count: often)
            words += Array(repeating: "some", count: some)
            words += Array(repeating: "seldom", count: seldom)
            words.shuffle(using: &random)
            builder.add(Document(id: "d\(d)", text: words.joined(separator: " ")))
            tfs["often"]!.append(often)
            tfs["some"]!.append(some)
            tfs["seldom"]!.append(seldom)
            lengths.append(words.count)
        }
        let url = directory.appendingPathComponent("idx")
        _ = try builder.write(to: url)
        let index = try BM25Index.open(url)
        let avgdl = Float(Double(lengths.reduce(0, +)) / Double(documents))
        #expect(index.averageLength == avgdl)
        func term(_ text: String) -> Int {
            var copy = text
            return copy.withUTF8 { index.termNumber($0) }!
        }

        #expect(index.rangeBounds(ofTerm: term("seldom")) == nil)
        #expect(index.denseTerms.count == 2)
        for name in ["often", "some"] {
            let bytes = try #require(index.rangeBounds(ofTerm: term(name)))
            // Impact as the format defines it: tf / (0.6 + 0.4 · length / avgdl), with the
            // length rounded to Lucene's SmallFloat bucket.
            let impacts = (0..<documents).map { d -> Double in
                let tf = tfs[name]![d]
                guard tf > 0 else { return 0 }
                let length = Double(SmallFloat.byte4ToInt(SmallFloat.intToByte4(lengths[d])))
                return Double(tf) / (0.6 + 0.4 * length / Double(avgdl))
            }
            let best = impacts.max()!
            // Format version 4: ranges of 16 documents.
            for r in 0..<(documents + 15) / 16 {
                let largest = impacts[(16 * r)..<min(16 * r + 16, documents)].max()!
                let q = bytes[r]
                if largest == 0 {
                    #expect(q == 0, "\(name) range \(r): no posting, byte \(q)")
                    continue
                }
                #expect(q > 0, "\(name) range \(r)")
                let bound = best * Double(q) / 255
                #expect(bound >= largest * (1 - 1e-12), "\(name) range \(r): \(bound) < \(largest)")
                #expect(bound <= largest + best / 255 + 1e-12, "\(name) range \(r): \(bound) loose")
            }
        }
    }
}

@Suite struct BM25IndexIdentityTests {
    func build(_ documents: [(String, String)], at url: URL) throws {
        let builder = BM25IndexBuilder()
        for (id, text) in documents { builder.add(Document(id: id, text: text)) }
        try builder.write(to: url)
    }

    let documents = [("a", "aspirin lowers fever"), ("b", "statins and the heart"), ("c", "fever in children")]

    /// The SHA-256 of `data` as hex (SHA256 is checked against `sha256sum` in InparsCoreTests).
    func hex(_ data: Data) -> String {
        var digest = SHA256()
        digest.update(data)
        return digest.finalizeHex()
    }

    @Test func anIndexIsNamedByItsHeaderAndARebuiltOneIsNot() throws {
        let directory = try TestPaths.temporaryDirectory("bm25-identity")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("first")
        let copy = directory.appendingPathComponent("copy")
        try build(documents, at: first)
        try build(documents, at: copy)
        let identity = try BM25Index.identity(of: first)
        // The index file by the SHA-256 of its 400-byte header, meta.json by every byte.
        let index = try Data(contentsOf: first.appendingPathComponent("index.bin"))
        let meta = try Data(contentsOf: first.appendingPathComponent("meta.json"))
        let lines =
            "index.bin\t\(index.count)\theader:\(hex(index.prefix(400)))\n"
            + "meta.json\t\(meta.count)\t\(hex(meta))\n"
        #expect(identity.checksum == "sha256-bm25-header:" + hex(Data(lines.utf8)))
        #expect(identity.bytes == Int64(index.count + meta.count))
        // The same documents indexed elsewhere: the same index.
        #expect(identity.sameContent(as: try BM25Index.identity(of: copy)))
        // Rebuilt with one document's text changed, or with one more document: another index.
        var edited = documents
        edited[1].1 = "statins and the lungs"
        try build(edited, at: copy)
        #expect(!identity.sameContent(as: try BM25Index.identity(of: copy)))
        try build(documents + [("d", "heart rate")], at: copy)
        #expect(!identity.sameContent(as: try BM25Index.identity(of: copy)))
        // And a manifest that recorded the first refuses to continue with it.
        let old = OutputManifest(command: "search", settings: [:], inputs: ["index": identity])
        let new = OutputManifest(
            command: "search", settings: [:], inputs: ["index": try BM25Index.identity(of: copy)])
        #expect(old.differences(from: new).first?.hasPrefix("index: content changed") == true)
    }

    @Test func aSectionChangedBehindItsHeaderIsRefusedWhenOpened() throws {
        // The header names the index only because opening checks every section against it:
        // bytes changed behind an unchanged header keep the identity but never get searched.
        let directory = try TestPaths.temporaryDirectory("bm25-identity-behind")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("idx")
        try build(documents, at: url)
        let before = try BM25Index.identity(of: url)
        let file = url.appendingPathComponent("index.bin")
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count - 9] ^= 0xFF  // in the postings section
        try bytes.write(to: file)
        #expect(before.sameContent(as: try BM25Index.identity(of: url)))
        #expect {
            _ = try BM25Index.open(url)
        } throws: { error in
            guard case .corrupted(_, let detail) = error as? BM25Error else { return false }
            return detail.contains("checksum")
        }
    }

    @Test func aFileThatIsNotACurrentIndexIsSampledLikeAnyOther() throws {
        let directory = try TestPaths.temporaryDirectory("bm25-identity-foreign")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("idx")
        try build(documents, at: url)
        let file = url.appendingPathComponent("index.bin")
        let current = try BM25Index.identity(of: url)
        // Another format version (which opening refuses): its bytes, not its header, name it.
        var bytes = try Data(contentsOf: file)
        bytes[8] = 2
        try bytes.write(to: file)
        let meta = try Data(contentsOf: url.appendingPathComponent("meta.json"))
        let lines =
            "index.bin\t\(bytes.count)\t\(hex(bytes))\n" + "meta.json\t\(meta.count)\t\(hex(meta))\n"
        let older = try BM25Index.identity(of: url)
        #expect(older.checksum == "sha256-bm25-header:" + hex(Data(lines.utf8)))
        #expect(!older.sameContent(as: current))
        // A header whose own CRC-32 fails, and a file shorter than a header, likewise.
        bytes[8] = 3
        bytes[20] ^= 0x01
        try bytes.write(to: file)
        #expect(try BM25Index.identity(of: url).checksum.hasSuffix(hex(Data(
            ("index.bin\t\(bytes.count)\t\(hex(bytes))\n" + "meta.json\t\(meta.count)\t\(hex(meta))\n").utf8))))
        try Data("short".utf8).write(to: file)
        #expect(!current.sameContent(as: try BM25Index.identity(of: url)))
        #expect(throws: InparsCoreError.fileNotFound(path: directory.appendingPathComponent("none").path)) {
            _ = try BM25Index.identity(of: directory.appendingPathComponent("none"))
        }
    }
}
