import Foundation
import InparsCore
import InparsTestSupport
import Testing

@Suite struct LineReaderTests {
    @Test func gzipRoundTripReadsTheSameLines() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("lines.txt.gz")
        var expected: [String] = []
        var random = TestRandom(seed: 7)
        for i in 0..<20_000 {
            let width = Int.random(in: 0..<300, using: &random)
            expected.append("\(i) " + String(repeating: "é", count: width % 50) + "x")
        }
        try AtomicFile.write(to: url, replacing: .fresh("a test file")) { out in
            for line in expected { try out.write(line + "\n") }
        }
        // The file really is gzip (magic 1f 8b).
        let head = try Data(contentsOf: url).prefix(2)
        #expect(Array(head) == [0x1F, 0x8B])
        let reader = try LineReader(url: url, bufferSize: 4096)
        var lines: [String] = []
        while let line = try reader.nextLine() { lines.append(line) }
        #expect(lines == expected)
        #expect(reader.invalidUTF8Lines == 0)
    }

    @Test func crlfAndMissingFinalNewlineAreHandled() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("a.txt")
        try Data("one\r\ntwo\n\nthree".utf8).write(to: url)
        let reader = try LineReader(url: url)
        var lines: [String] = []
        while let line = try reader.nextLine() { lines.append(line) }
        #expect(lines == ["one", "two", "", "three"])
        #expect(reader.lineNumber == 4)
    }

    @Test func linesLongerThanTheBufferAndAnUnterminatedLastLine() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for compressed in [false, true] {
            let url = dir.appendingPathComponent(compressed ? "long.txt.gz" : "long.txt")
            let lines = [
                String(repeating: "a", count: 5000), "", String(repeating: "b", count: 9000) + "\r",
                String(repeating: "c", count: 12_000),
            ]
            try AtomicFile.write(to: url, replacing: .fresh("a test file")) { out in try out.write(lines.joined(separator: "\n")) }
            let reader = try LineReader(url: url, bufferSize: 4096)
            var got: [String] = []
            while let line = try reader.nextLine() { got.append(line) }
            #expect(got.map(\.count) == [5000, 0, 9000, 12_000], "compressed \(compressed)")
            #expect(got.last == lines.last)
        }
    }

    @Test func invalidUTF8IsReplacedAndCounted() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bad.txt")
        try Data([0x61, 0xFF, 0x62, 0x0A, 0x63, 0x0A, 0xC3, 0x0A]).write(to: url)
        let reader = try LineReader(url: url)
        var lines: [String] = []
        while let line = try reader.nextLine() { lines.append(line) }
        #expect(lines == ["a\u{FFFD}b", "c", "\u{FFFD}"])
        #expect(reader.invalidUTF8Lines == 2)
    }

    @Test func utf8ValidatorAgreesWithTheStandardLibrary() {
        var random = TestRandom(seed: 3)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<20, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            let ours = bytes.withUnsafeBufferPointer { isValidUTF8($0) }
            #expect(ours == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
        }
        let samples = ["plain ascii text longer than eight", "naïve café 東京 🙂", "\u{10FFFF}"]
        for sample in samples {
            #expect(Array(sample.utf8).withUnsafeBufferPointer { isValidUTF8($0) })
        }
    }

    @Test func missingFileIsReported() {
        #expect(throws: InparsCoreError.fileNotFound(path: "/nonexistent/x.jsonl")) {
            _ = try LineReader(url: URL(fileURLWithPath: "/nonexistent/x.jsonl"))
        }
    }
}

@Suite struct FieldSplittingTests {
    /// Qrels and run lines are split on the bytes: the fields `String.split` gives on spaces
    /// and tabs, for every mix of separators, and invalid UTF-8 repaired and counted.
    @Test func byteFieldsEqualTheCharacterSplit() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lines = [
            "q1 0 d1 1", "q1\t\td2\t0", "  lead and trail  ", "\t", "one", "é ü\tß  ∂",
            "a \t b\t \tc",
        ]
        let url = dir.appendingPathComponent("lines.txt")
        var data = Data(lines.joined(separator: "\n").utf8)
        data += Data([0x0A, 0x61, 0x20, 0xFF, 0x62, 0x0A])  // "a \xFFb": invalid UTF-8
        try data.write(to: url)
        let reader = try LineReader(url: url)
        var split: [[String]] = []
        try reader.forEachLine { bytes, _ in split.append(reader.fields(from: bytes)) }
        let expected =
            lines.map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
            + [["a", "\u{FFFD}b"]]
        #expect(split == expected)
        #expect(reader.invalidUTF8Lines == 1)
    }

    /// The two fields a query line needs, without a dictionary: absent ones nil, a repeated key
    /// its last value (as the dictionary keeps), numbers as their text, the line still
    /// validated whole.
    @Test func jsonFieldsAreTheDictionarysValues() throws {
        let cases = [
            #"{"_id": "q1", "text": "a b", "metadata": {"x": [1, 2]}}"#,
            #"{"text": "first", "_id": 7, "text": "second"}"#,
            #"{"_id": "only"}"#,
            #"{}"#,
        ]
        for line in cases {
            var copy = line
            let (fields, object) = try copy.withUTF8 {
                (try JSONLine.parseFields($0, ["_id", "text"]), try JSONLine.parseObject($0))
            }
            #expect(fields == [object["_id"], object["text"]], "\(line)")
        }
        var broken = #"{"_id": "q1", "text": "a" "x"}"#
        #expect(throws: JSONLine.ParseError.self) {
            _ = try broken.withUTF8 { try JSONLine.parseFields($0, ["_id"]) }
        }
    }
}

@Suite struct OutputFileTests {
    /// Strings, sequences and raw blocks from 1 byte to several times the 256 KiB buffer, in
    /// a random order, plain and gzip: the file holds exactly their concatenation.
    @Test func mixedWritesAroundTheBufferSizeKeepEveryByteInOrder() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var random = TestRandom(seed: 11)
        for name in ["out.txt", "out.txt.gz"] {
            let url = dir.appendingPathComponent(name)
            var expected: [UInt8] = []
            let file = try OutputFile(url: url)
            // Letters only: the file is one line, read back whole.
            let pattern = (0..<300_026).map { UInt8(0x61 + ($0 &* 7) % 26) }
            for piece in 0..<40 {
                let size = [1, 100, 60_000, 65_536, 70_000, 262_144, 300_000][
                    Int.random(in: 0..<7, using: &random)]
                let bytes = Array(pattern[(piece % 26)..<(piece % 26 + size)])
                expected += bytes
                switch piece % 3 {
                case 0: try bytes.withUnsafeBytes { try file.write(raw: $0) }
                case 1: try file.write(bytes: bytes.lazy.map { $0 })
                default: try file.write(String(decoding: bytes, as: UTF8.self))
                }
            }
            try file.write("\n")
            try file.close()
            let reader = try LineReader(url: url)
            let line = Array((try reader.nextLine() ?? "").utf8)
            #expect(try reader.nextLine() == nil)
            #expect(line.count == expected.count, "\(name)")
            let mismatch = line.indices.first { $0 < expected.count && line[$0] != expected[$0] }
            #expect(mismatch == nil, "\(name): first difference at byte \(mismatch ?? -1)")
        }
    }
}

@Suite struct CorpusReaderTests {
    func write(_ text: String, name: String, in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func readsBEIRJSONLWithNumericIdsAndExtraFields() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try write(
            """
            {"_id": "d1", "title": "T", "text": "Hello \\"w\\u00f6rld\\" \\ud83d\\ude00", "metadata": {"a": [1, "}"]}}
            {"_id": 42, "text": "", "title": null}

            {"text": "x\\ny", "_id": "d3"}
            """, name: "corpus.jsonl", in: dir)
        let (documents, stats) = try CorpusReader.read(url)
        #expect(
            documents == [
                Document(id: "d1", title: "T", text: "Hello \"wörld\" 😀"),
                Document(id: "42", title: "", text: ""),
                Document(id: "d3", title: "", text: "x\ny"),
            ])
        #expect(stats.records == 3)
        #expect(documents[0].flatContents == "T\nHello \"wörld\" 😀")
        #expect(documents[0].rerankText == "T Hello \"wörld\" 😀")
        #expect(documents[1].rerankText == "")
    }

    @Test func malformedJSONLineNamesFileLineAndField() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try write(
            "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \"unterminated}\n",
            name: "c.jsonl", in: dir)
        do {
            _ = try CorpusReader.read(url)
            Issue.record("expected an error")
        } catch let error as InparsCoreError {
            guard case .malformedLine(let path, let line, let field, _) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(path == url.path)
            #expect(line == 2)
            #expect(field == "text")
            let message = error.errorDescription ?? ""
            #expect(message.contains("line 2"))
            #expect(message.contains("c.jsonl"))
        }
    }

    @Test func missingTextFieldIsNamed() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try write("{\"_id\": \"a\", \"body\": \"ok\"}\n", name: "c.jsonl", in: dir)
        #expect(
            throws: InparsCoreError.malformedLine(
                path: url.path, line: 1, field: "text", reason: "missing document text")
        ) { _ = try CorpusReader.read(url) }
    }

    @Test func skipBadLinesCountsAndContinues() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try write(
            "{\"_id\": \"a\", \"text\": \"ok\"}\nnot json at all\n{\"_id\": \"b\"\n"
                + "{\"_id\": \"c\", \"text\": \"fine\"}\n",
            name: "c.jsonl", in: dir)
        let (documents, stats) = try CorpusReader.read(url, options: ReadOptions(skipBadLines: true))
        #expect(documents.map(\.id) == ["a", "c"])
        #expect(stats.skippedBadLines == 2)
        #expect(stats.records == 2)
    }

    @Test func duplicateIdsAreAnErrorEvenWhenSkippingBadLines() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try write(
            "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"b\", \"text\": \"y\"}\n"
                + "{\"_id\": \"a\", \"text\": \"z\"}\n", name: "c.jsonl", in: dir)
        #expect(
            throws: InparsCoreError.duplicateID(path: url.path, line: 3, id: "a", firstLine: 1)
        ) { _ = try CorpusReader.read(url, options: ReadOptions(skipBadLines: true)) }
    }

    @Test func readsTSVWithAndWithoutTitlesAndGzip() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("collection.tsv.gz")
        try AtomicFile.write(to: url, replacing: .fresh("a test file")) { out in
            try out.write("id\ttext\nd1\tbody one\nd2\tTitle\tbody two\nd3\t\n")
        }
        let (documents, _) = try CorpusReader.read(url)
        #expect(
            documents == [
                Document(id: "d1", text: "body one"),
                Document(id: "d2", title: "Title", text: "body two"),
                Document(id: "d3", text: ""),
            ])
    }

    @Test func formatIsSniffedWhenTheNameSaysNothing() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try write("\n{\"_id\": \"a\", \"text\": \"x\"}\n", name: "corpus", in: dir)
        #expect(try CorpusReader.read(url).documents == [Document(id: "a", text: "x")])
    }

    @Test func invalidUTF8InACorpusIsReplacedAndCounted() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("c.jsonl")
        var bytes = Array("{\"_id\": \"a\", \"text\": \"x".utf8)
        bytes += [0xFE]
        bytes += Array("y\"}\n".utf8)
        try Data(bytes).write(to: url)
        let (documents, stats) = try CorpusReader.read(url)
        #expect(documents == [Document(id: "a", text: "x\u{FFFD}y")])
        #expect(stats.invalidUTF8Lines == 1)
    }
}

@Suite struct QueryAndQrelsReaderTests {
    @Test func readsQueriesInBothFormats() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let jsonl = dir.appendingPathComponent("queries.jsonl")
        try Data("{\"_id\": 1, \"text\": \"what is x\", \"metadata\": {}}\n".utf8).write(to: jsonl)
        #expect(try QueryReader.read(jsonl).queries == [Query(id: "1", text: "what is x")])
        let tsv = dir.appendingPathComponent("queries.tsv")
        try Data("q1\tfirst\nq2\tsecond\n".utf8).write(to: tsv)
        #expect(
            try QueryReader.read(tsv).queries == [
                Query(id: "q1", text: "first"), Query(id: "q2", text: "second"),
            ])
        let bad = dir.appendingPathComponent("bad.tsv")
        try Data("q1\tfirst\nq2\n".utf8).write(to: bad)
        #expect(throws: InparsCoreError.self) { _ = try QueryReader.read(bad) }
    }

    @Test func readsBEIRAndTRECQrels() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let beir = dir.appendingPathComponent("test.tsv")
        try Data("query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t0\n2\td3\t2\n".utf8).write(to: beir)
        let trec = dir.appendingPathComponent("qrels.txt")
        try Data("1 0 d1 1\n1 0 d2 0\n2 Q0 d3 2\n".utf8).write(to: trec)
        let expected = Qrels(["1": ["d1": 1, "d2": 0], "2": ["d3": 2]])
        #expect(try Qrels.read(beir) == expected)
        #expect(try Qrels.read(trec) == expected)
        let bad = dir.appendingPathComponent("bad.tsv")
        try Data("query-id\tcorpus-id\tscore\n1\td1\tyes\n".utf8).write(to: bad)
        #expect(
            throws: InparsCoreError.malformedLine(
                path: bad.path, line: 2, field: "score", reason: "relevance 'yes' is not an integer")
        ) { _ = try Qrels.read(bad) }
    }
}

@Suite struct RunTests {
    @Test func trecRunRoundTrips() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var run = Run()
        run.append(RunEntry(queryId: "q2", docId: "b", rank: 1, score: 12.5))
        run.append(RunEntry(queryId: "q2", docId: "a", rank: 2, score: 3.1234567))
        run.append(RunEntry(queryId: "q1", docId: "c", rank: 1, score: -0.5))
        let url = dir.appendingPathComponent("run.trec")
        try run.write(to: url, tag: "bm25")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(
            text == "q2 Q0 b 1 12.500000 bm25\nq2 Q0 a 2 3.123457 bm25\nq1 Q0 c 1 -0.500000 bm25\n")
        let back = try Run.read(url)
        #expect(back.queryIds == ["q2", "q1"])
        #expect(back.entries["q2"]!.map(\.docId) == ["b", "a"])
        #expect(back.entries["q2"]![1].score == 3.123457)
        // No temporary files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["run.trec"])
    }

    @Test func malformedRunLineIsReported() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("run.trec")
        try Data("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 abc t\n".utf8).write(to: url)
        #expect(
            throws: InparsCoreError.malformedLine(
                path: url.path, line: 2, field: "score", reason: "'abc' is not a finite number")
        ) { _ = try Run.read(url) }
    }
}

@Suite struct AtomicFileAndProgressTests {
    @Test func failedDirectoryWriteLeavesNothingBehind() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("index")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try AtomicFile.writeDirectory(at: target, replacing: .fresh("a test folder", shape: .directory)) { tmp in
                try Data("x".utf8).write(to: tmp.appendingPathComponent("part"))
                throw Boom()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        try AtomicFile.writeDirectory(at: target, replacing: .fresh("a test folder", shape: .directory)) { tmp in
            try Data("x".utf8).write(to: tmp.appendingPathComponent("part"))
        }
        #expect(FileManager.default.fileExists(atPath: target.appendingPathComponent("part").path))
    }

    @Test func anExistingDirectoryIsReplacedWholeOrKept() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("checkpoint-10")
        let kind = OutputKind.directory("a test checkpoint", entries: ["stale", "part"])
        try AtomicFile.writeDirectory(at: target, replacing: kind) { tmp in
            try Data("old".utf8).write(to: tmp.appendingPathComponent("stale"))
        }
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try AtomicFile.writeDirectory(at: target, replacing: kind) { tmp in
                try Data("new".utf8).write(to: tmp.appendingPathComponent("part"))
                throw Boom()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == ["stale"])
        try AtomicFile.writeDirectory(at: target, replacing: kind) { tmp in
            try Data("new".utf8).write(to: tmp.appendingPathComponent("part"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == ["part"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["checkpoint-10"])
    }

    /// Finding 1 of issue 16: an atomic write replaces only what its kind recognises.
    @Test func atomicWritesReplaceOnlyTheirOwnKind() throws {
        let dir = try TestPaths.temporaryDirectory("atomic-kind")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("out.trec")
        try Data("notes, not a run\n".utf8).write(to: file)
        #expect(throws: InparsCoreError.self) {
            try Run([RunEntry(queryId: "q", docId: "d", rank: 1, score: 1)]).write(to: file)
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == "notes, not a run\n")
        try Data("q1 Q0 d1 1 2.5 tag\n".utf8).write(to: file)
        try Run([RunEntry(queryId: "q", docId: "d", rank: 1, score: 1)]).write(to: file)
        #expect(try String(contentsOf: file, encoding: .utf8).hasPrefix("q Q0 d 1 "))

        // A folder kind: replaced when it holds only its own entries, or nothing.
        let kind = OutputKind.directory("a test folder", entries: ["part"])
        let folder = dir.appendingPathComponent("folder")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        for round in 0..<2 {
            try AtomicFile.writeDirectory(at: folder, replacing: kind) { tmp in
                try Data("\(round)".utf8).write(to: tmp.appendingPathComponent("part"))
            }
        }
        try Data("mine".utf8).write(to: folder.appendingPathComponent("mine.txt"))
        do {
            try AtomicFile.writeDirectory(at: folder, replacing: kind) { _ in }
            Issue.record("replaced a folder holding a file of the user's")
        } catch let error as InparsCoreError {
            #expect(error.errorDescription!.contains("Refusing to replace '\(folder.path)'"))
            #expect(error.errorDescription!.contains("mine.txt"))
        }
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("mine.txt").path))
        // A file where a folder goes, and the reverse.
        #expect(throws: InparsCoreError.self) {
            try AtomicFile.writeDirectory(at: file, replacing: kind) { _ in }
        }
        #expect(throws: InparsCoreError.self) {
            try AtomicFile.write(Data(), to: folder, replacing: .trecRun)
        }
        // No temporaries were left beside the outputs.
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [
                "folder", "out.trec",
            ])
    }

    /// Finding 7 of issue 16: a missing output folder is named, not the temporary file.
    @Test func missingOutputFolderIsNamed() throws {
        let dir = try TestPaths.temporaryDirectory("atomic-missing")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("no/such/run.trec")
        do {
            try Run().write(to: url)
            Issue.record("wrote into a missing folder")
        } catch let error as InparsCoreError {
            let message = error.errorDescription!
            #expect(message.contains("'\(url.path)'"), "\(message)")
            #expect(message.contains("'\(dir.path)/no/such' does not exist"), "\(message)")
            #expect(!message.contains(".tmp-"), "\(message)")
        }
    }

    @Test func nonInteractiveProgressReportsAtTenPercentMilestones() {
        let sink = CollectingProgressSink()
        final class Clock: @unchecked Sendable { var t = 0.0 }
        let clock = Clock()
        let progress = ProgressReporter(
            label: "docs", total: 100, sink: sink, interactive: false, clock: { clock.t })
        for _ in 0..<100 {
            clock.t += 0.1
            progress.advance()
        }
        progress.finish()
        let lines = sink.lines
        #expect(lines.count == 10)  // 10%, 20%, ..., 90%, then the final line
        #expect(lines[0] == "docs: 10/100 (10%), 10/s, ETA 9s")
        #expect(lines.last == "docs: 100 in 10.0 s (10/s)")
    }

    @Test func seededGeneratorIsSplitMix64() {
        var generator = SeededGenerator(seed: 0)
        // Reference values of SplitMix64 with seed 0 (Vigna's splitmix64.c).
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
    }
}

/// Issue 16, finding 2: a gzip file that ends early, or whose trailer does not match, is an
/// error naming the file, for every reader (they all read through `LineReader`).
@Suite struct GzipIntegrityTests {
    /// Six corpus lines in three stored blocks, each block ending on a newline.
    static let gzip = GzipBytes(blocks: [
        "d1\tone\nd2\ttwo\n", "d3\tthree\nd4\tfour\n", "d5\tfive\nd6\tsix\n",
    ])

    static let readers: [(String, @Sendable (URL) throws -> Void)] = [
        ("LineReader", { url in
            let reader = try LineReader(url: url, bufferSize: 4096)
            while try reader.nextLine() != nil {}
        }),
        ("CorpusReader", { _ = try CorpusReader.read($0) }),
        ("CorpusReader skipping bad lines", {
            _ = try CorpusReader.read($0, options: ReadOptions(skipBadLines: true))
        }),
        ("QueryReader", { _ = try QueryReader.read($0) }),
        ("Run", { url in _ = try Run.read(url) }),
        ("Qrels", { url in _ = try Qrels.read(url) }),
    ]

    @Test func anIntactFileReadsWhole() throws {
        let dir = try TestPaths.temporaryDirectory("gzip-intact")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("corpus.tsv.gz")
        try Data(Self.gzip.bytes).write(to: url)
        let documents = try CorpusReader.read(url).documents
        #expect(documents.map(\.id) == ["d1", "d2", "d3", "d4", "d5", "d6"])
    }

    @Test(arguments: 0..<6)
    func aDamagedFileIsAnErrorNamingIt(damage: Int) throws {
        let dir = try TestPaths.temporaryDirectory("gzip-damaged")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (name, bytes) = Self.gzip.damaged[damage]
        // Every record line is well formed, so nothing but the gzip check can object.
        let lines: [String: String] = [
            "Run": "q Q0 d 1 1.0 t\n", "Qrels": "q 0 d 1\n",
        ]
        for (reader, read) in Self.readers {
            var file = bytes
            if let line = lines[reader] {
                let blocks = Array(repeating: line, count: 3)
                file = GzipBytes(blocks: blocks).damaged[damage].bytes
            }
            let url = dir.appendingPathComponent("\(reader).tsv.gz")
            try Data(file).write(to: url)
            do {
                try read(url)
                Issue.record("\(reader) read a gzip file with \(name) without an error")
            } catch let error as InparsCoreError {
                let message = error.errorDescription!
                #expect(message.contains("'\(url.path)'"), "\(reader), \(name): \(message)")
                #expect(
                    message.contains("truncated") || message.contains("corrupt"),
                    "\(reader), \(name): \(message)")
            }
        }
    }
}

/// Issue 16, finding 8: the suite leaves no temporary folders behind.
@Suite struct TemporaryFolderTests {
    @Test func everyTemporaryDirectoryLivesInThisProcesssRoot() throws {
        let folder = try TestPaths.temporaryDirectory("cleanup")
        #expect(
            folder.deletingLastPathComponent().standardizedFileURL.path
                == TestPaths.temporaryRoot.standardizedFileURL.path)
        #expect(TestPaths.temporaryRoot.lastPathComponent == "inpars-tests-\(getpid())")
    }

    @Test func rootsOfProcessesThatDiedAreRemoved() throws {
        let base = try TestPaths.temporaryDirectory("cleanup-base")
        // A process that has exited: its pid names a stale root.
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let stale = base.appendingPathComponent("inpars-tests-\(finished.processIdentifier)")
        let live = base.appendingPathComponent("inpars-tests-\(getppid())")
        let other = base.appendingPathComponent("someone-elses-folder")
        for url in [stale, live, other] {
            try FileManager.default.createDirectory(
                at: url.appendingPathComponent("inside"), withIntermediateDirectories: true)
        }
        #expect(
            TestPaths.removeStaleTemporaryRoots(in: base).map(\.standardizedFileURL.path)
                == [stale.standardizedFileURL.path])
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(FileManager.default.fileExists(atPath: live.path))
        #expect(FileManager.default.fileExists(atPath: other.path))
    }
}

@Suite struct StaleSiblingTests {
    /// A killed writer's temporary sibling is removed and its moved-aside previous version put
    /// back, among many unrelated names; other files' siblings and live processes' are kept.
    @Test func deadWritersSiblingsAreRecoveredAmongManyNames() throws {
        let dir = try TestPaths.temporaryDirectory("stale-siblings")
        defer { try? FileManager.default.removeItem(at: dir) }
        let manager = FileManager.default
        for i in 0..<3_000 { manager.createFile(atPath: dir.appendingPathComponent("f\(i)").path, contents: nil) }
        // 999999999 is above Linux's largest pid, so no process has it.
        let dead = "999999999"
        let names = [
            ".run.txt.tmp-\(dead)-1a", ".run.txt.old-\(dead)-2b", ".run.txt.tmp-\(getpid())-3c",
            ".other.txt.tmp-\(dead)-4d", ".run.txt.tmp-x-5e", ".run.txt.bak-\(dead)-6f",
        ]
        for name in names {
            try Data(name.utf8).write(to: dir.appendingPathComponent(name))
        }
        let url = dir.appendingPathComponent("run.txt")
        AtomicFile.recoverStaleSiblings(of: url)
        let left = Set(try manager.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") })
        #expect(
            left == [
                ".run.txt.tmp-\(getpid())-3c", ".other.txt.tmp-\(dead)-4d", ".run.txt.tmp-x-5e",
                ".run.txt.bak-\(dead)-6f",
            ])
        // The dead writer's previous version is back in place.
        #expect(try String(contentsOf: url, encoding: .utf8) == ".run.txt.old-\(dead)-2b")
    }
}

@Suite struct ConcurrentlyTests {
    struct Failure: Error, Equatable { let which: String }

    @Test func bothResultsComeBackAndTheFirstRunsOnAnotherThreadMeanwhile() throws {
        let caller = pthread_self()
        // `second` waits for `first` to start: only a second thread can let it go on.
        let started = DispatchSemaphore(value: 0)
        let (a, b) = try concurrently(
            true,
            { () -> Bool in
                started.signal()
                return pthread_self() != caller
            },
            { started.wait(timeout: .now() + 30) == .success ? 7 : 0 })
        #expect(a && b == 7)
        let (c, d) = try concurrently(false, { () -> Bool in pthread_self() == caller }) { "x" }
        #expect(c && d == "x")
    }

    /// When `second` is done first, the calling thread may run `first` itself: either way it
    /// runs exactly once and its result comes back.
    @Test func theFirstClosureRunsOnceWhoeverRunsIt() throws {
        final class Count: @unchecked Sendable {
            let lock = NSLock()
            var value = 0
        }
        let count = Count()
        for i in 0..<2_000 {
            let (a, b) = try concurrently(true, { () -> Int in
                count.lock.withLock { count.value += 1 }
                return i
            }) { i * 2 }
            #expect(a == i && b == 2 * i)
        }
        #expect(count.value == 2_000)
    }

    @Test func theFirstClosuresErrorWinsAndTheOtherStillFinishes() {
        for parallel in [true, false] {
            #expect(throws: Failure(which: "first")) {
                _ = try concurrently(parallel, { () throws -> Int in throw Failure(which: "first") }) {
                    () throws -> Int in throw Failure(which: "second")
                }
            }
            #expect(throws: Failure(which: "second")) {
                _ = try concurrently(parallel, { 1 }) { () throws -> Int in throw Failure(which: "second") }
            }
        }
    }
}
