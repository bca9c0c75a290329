import Foundation
import InparsTestSupport
import Testing

@testable import InparsCore

/// Counts for the tests' resumable stage.
struct CountSummary: StageSummary, Equatable {
    var items = 0
    var bytes = 0
    init() {}
    mutating func add(_ other: CountSummary) {
        items += other.items
        bytes += other.bytes
    }
}

/// The tests' outputs: any file (they are all in the tests' own temporary folders).
let testOutputKind = OutputKind(name: "a test output", shape: .file) { _ in true }

@Suite struct ShardTests {
    @Test func shardsAreContiguousBlocksCoveringEveryItemOnce() {
        for items in [0, 1, 2, 7, 10, 101] {
            for count in 1...6 {
                let ranges = (0..<count).map { Shard(index: $0, count: count).range(of: items) }
                #expect(ranges.flatMap { Array($0) } == Array(0..<items), "\(items) items, \(count) shards")
                // Sizes differ by at most one.
                let sizes = ranges.map(\.count)
                #expect(sizes.max()! - sizes.min()! <= 1)
            }
        }
        #expect(Shard(index: 1, count: 3).range(of: 10) == 3..<6)
    }

    @Test func blockAlignedShardsCutOnlyBetweenBlocks() {
        for items in [0, 5, 9, 40, 41] {
            for count in 1...4 {
                let ranges = (0..<count).map {
                    Shard(index: $0, count: count).range(of: items, inBlocksOf: 4)
                }
                #expect(ranges.flatMap { Array($0) } == Array(0..<items))
                for range in ranges where !range.isEmpty {
                    #expect(range.lowerBound % 4 == 0, "\(items)/\(count): \(range)")
                }
            }
        }
    }

    @Test func parsing() {
        #expect(Shard(parsing: "0/3") == Shard(index: 0, count: 3))
        #expect(Shard(parsing: "2/3") == Shard(index: 2, count: 3))
        for bad in ["3/3", "-1/2", "1/0", "a/b", "1", "1/2/3", ""] {
            #expect(Shard(parsing: bad) == nil, "\(bad)")
        }
    }
}

@Suite struct InputIdentityTests {
    @Test func aFileIsItsSizeAndEveryByteNotItsPath() throws {
        let folder = try TestPaths.temporaryDirectory("identity")
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = folder.appendingPathComponent("a.txt")
        let b = folder.appendingPathComponent("b.txt")
        try Data("hello world\n".utf8).write(to: a)
        try Data("hello world\n".utf8).write(to: b)
        let first = try InputIdentity.of(a)
        #expect(first.bytes == 12)
        // `printf 'hello world\n' | sha256sum`
        #expect(
            first.checksum
                == "sha256:a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447")
        #expect(first.sameContent(as: try InputIdentity.of(b)))
        try Data("hello World\n".utf8).write(to: b)  // same size, one byte differs
        #expect(!first.sameContent(as: try InputIdentity.of(b)))
        #expect(throws: InparsCoreError.fileNotFound(path: folder.appendingPathComponent("none").path)) {
            try InputIdentity.of(folder.appendingPathComponent("none"))
        }
    }

    @Test func aFolderIsSampledFromEachFile() throws {
        let folder = try TestPaths.temporaryDirectory("identity-folder")
        defer { try? FileManager.default.removeItem(at: folder) }
        var big = [UInt8](repeating: 7, count: 3 << 20)
        try Data(big).write(to: folder.appendingPathComponent("weights.bin"))
        try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
        try Data("x".utf8).write(to: folder.appendingPathComponent(".hidden"))
        let before = try InputIdentity.of(folder)
        #expect(before.bytes == Int64(3 << 20) + 2)
        #expect(before.checksum.hasPrefix("sha256-sampled:"))
        // A change in the last MiB is seen; a hidden file is not part of it.
        big[big.count - 10] = 8
        try Data(big).write(to: folder.appendingPathComponent("weights.bin"))
        try Data("yy".utf8).write(to: folder.appendingPathComponent(".hidden"))
        let after = try InputIdentity.of(folder)
        #expect(!before.sameContent(as: after))
        big[big.count - 10] = 7
        try Data(big).write(to: folder.appendingPathComponent("weights.bin"))
        #expect(before.sameContent(as: try InputIdentity.of(folder)))
    }
}

extension InputIdentityTests {
    @Test func aFolderFormatNamesItsOwnFilesUnderItsOwnScheme() throws {
        let folder = try TestPaths.temporaryDirectory("identity-scheme")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(repeating: 3, count: 3 << 20).write(to: folder.appendingPathComponent("data.bin"))
        try Data("ok".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        var asked: [String] = []
        let own = try InputIdentity.of(folder: folder, scheme: "test-format") { name, _ in
            asked.append(name)
            return name == "data.bin" ? "v1" : nil
        }
        #expect(asked == ["data.bin", "notes.txt"])
        #expect(own.bytes == Int64(3 << 20) + 2)
        #expect(own.scheme == "test-format")
        // One line per file, the format's digest for its file and every byte's SHA-256 for a
        // small one (`printf ok | sha256sum`).
        var lines = SHA256()
        lines.update(
            Data(
                ("data.bin\t3145728\tv1\n"
                    + "notes.txt\t2\t2689367b205c16ce32ed4200942b8b8b1e262dfc70d9bc9fbc77c49699a4f1df\n").utf8))
        #expect(own.checksum == "test-format:" + lines.finalizeHex())
        // Another scheme is never the same content, and a manifest says why it cannot compare.
        let sampled = try InputIdentity.of(folder)
        #expect(sampled.scheme == "sha256-sampled")
        #expect(!own.sameContent(as: sampled))
        let old = OutputManifest(command: "test", settings: [:], inputs: ["model": sampled])
        let new = OutputManifest(command: "test", settings: [:], inputs: ["model": own])
        let differences = old.differences(from: new)
        #expect(differences.count == 1)
        #expect(differences.first?.contains("fingerprinted another way") == true, "\(differences)")
        #expect(differences.first?.contains("sha256-sampled") == true, "\(differences)")
        #expect(differences.first?.contains("test-format") == true, "\(differences)")
        // A changed digest is a changed folder.
        let changed = try InputIdentity.of(folder: folder, scheme: "test-format") { name, _ in
            name == "data.bin" ? "v2" : nil
        }
        #expect(!own.sameContent(as: changed))
        #expect(old.differences(from: OutputManifest(command: "test", settings: [:], inputs: ["model": sampled])).isEmpty)
    }
}

@Suite struct ResumableOutputTests {
    func manifest(_ settings: [String: String] = ["k": "1"], shard: Shard? = nil) -> OutputManifest {
        OutputManifest(
            command: "test", settings: settings,
            inputs: ["in": InputIdentity(path: "/x", bytes: 3, checksum: "sha256:01")],
            shard: shard)
    }

    /// Writes `items` items ("item i\n") starting where `output` stands; finishes when
    /// `finish` is set.
    func work(_ output: ResumableOutput<CountSummary>, to items: Int, finish: Bool) throws {
        var summary = output.summary
        for i in output.itemsAtStart..<items {
            let text = "item \(i)\n"
            try output.append(text)
            summary.items += 1
            summary.bytes += text.utf8.count
            try output.commit(items: i + 1, summary: summary)
        }
        if finish { try output.finish(items: items, summary: summary) }
    }

    @Test func aResumedOutputEqualsAnUninterruptedOne() throws {
        let folder = try TestPaths.temporaryDirectory("resumable")
        defer { try? FileManager.default.removeItem(at: folder) }
        let reference = folder.appendingPathComponent("reference.txt")
        try work(
            try ResumableOutput(outputs: ["main": reference], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: false),
            to: 6, finish: true)

        let out = folder.appendingPathComponent("out.txt")
        do {
            let first = try ResumableOutput<CountSummary>(
                outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: false)
            first.commitInterval = 0
            try work(first, to: 4, finish: false)
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
        let partial = ResumableOutput<CountSummary>.partialURL(for: out)
        // A kill mid-item: bytes past the last commit.
        let tail = try AppendFile(appendingTo: partial)
        try tail.append("item 4 (torn")
        try tail.close()
        #expect(partial.lastPathComponent == "out.txt.inpars-partial")

        let second = try ResumableOutput<CountSummary>(
            outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: false)
        #expect(second.itemsAtStart == 4 && second.droppedBytes == 12)
        #expect(second.summary.items == 4 && second.summary.bytes == 28)
        #expect(second.startNote(label: "test", unit: "items")?.contains("4 items already done") == true)
        try work(second, to: 6, finish: true)
        #expect(try Data(contentsOf: out) == Data(contentsOf: reference))
        #expect(!FileManager.default.fileExists(atPath: partial.path))
        let done = try #require(try OutputManifest.read(OutputManifest.url(for: out)))
        #expect(done.state == .complete && done.progress == nil)
        #expect(done.outputs?["main"]?.bytes == 42)
        // Recorded from the bytes as they were written (and, for the resumed part, read back
        // once): the same identity as reading the finished file.
        #expect(done.outputs?["main"] == (try InputIdentity.of(out)))
        let fresh = try #require(try OutputManifest.read(OutputManifest.url(for: reference)))
        #expect(fresh.outputs?["main"] == (try InputIdentity.of(reference)))
        #expect(try OutputManifest.readSummary(OutputManifest.url(for: out), as: CountSummary.self)?.items == 6)

        // Complete: a rerun does nothing; other settings are refused by name.
        let third = try ResumableOutput<CountSummary>(
            outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: false)
        #expect(third.isComplete && third.summary.items == 6)
        #expect(throws: InparsCoreError.outputMismatch(path: out.path, differences: ["k: 1 → 2"])) {
            _ = try ResumableOutput<CountSummary>(
                outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(["k": "2"]), overwrite: false)
        }
        // A finished output changed by hand is not silently kept or replaced.
        try Data("edited\n".utf8).write(to: out)
        #expect(throws: InparsCoreError.self) {
            _ = try ResumableOutput<CountSummary>(
                outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: false)
        }
        let again = try ResumableOutput<CountSummary>(
            outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(["k": "2"]), overwrite: true)
        #expect(!again.isComplete && again.itemsAtStart == 0)
    }

    /// 4.5 MB in 200,000 appends: several 1 MiB hand-overs to the writer (background queues,
    /// or the appending thread), and commits while it writes. The expected SHA-256 is
    /// `sha256sum`'s of the same bytes.
    @Test(arguments: [true, false])
    func aLargeOutputIsWholeAndItsChecksumIsSHA256s(background: Bool) throws {
        let folder = try TestPaths.temporaryDirectory("resumable-large")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("large.txt")
        let output = try ResumableOutput<CountSummary>(
            outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: false,
            backgroundWrites: background)
        output.commitInterval = 0.05
        var summary = CountSummary()
        for i in 0..<200_000 {
            let text = "\(i) line of the run\n"
            try output.append(text)
            summary.items += 1
            summary.bytes += text.utf8.count
            try output.commit(items: i + 1, summary: summary)
        }
        try output.finish(items: 200_000, summary: summary)
        let bytes = try Data(contentsOf: out)
        #expect(bytes.count == 4_488_890)
        #expect(bytes.prefix(38) == Data("0 line of the run\n1 line of the run\n2 ".utf8))
        let done = try #require(try OutputManifest.read(OutputManifest.url(for: out)))
        #expect(done.outputs?["main"] == InputIdentity(
            path: out.path, bytes: 4_488_890,
            checksum: "sha256:6981d06fa302a346506099ef448af9e93b9ba04494c2a51967dafab38cf51d42"))
    }

    /// A write that fails on the background queue (a full disk: `/dev/full`) is thrown by the
    /// next call that waits for the writes, naming the file; on the appending thread, by the
    /// call that writes.
    @Test func aWriteFailureIsThrownNamingTheFile() throws {
        let full = URL(fileURLWithPath: "/dev/full")
        guard FileManager.default.fileExists(atPath: full.path) else { return }
        func isFull(_ error: any Error) -> Bool {
            guard case InparsCoreError.writeFailed(let path, _) = error else { return false }
            return path == "/dev/full"
        }
        let appender = HashingAppender(file: try AppendFile(appendingTo: full), digest: SHA256())
        try [UInt8](repeating: 0x41, count: 4096).withUnsafeBytes { try appender.append($0) }
        try appender.flush()
        try [UInt8](repeating: 0x42, count: 16).withUnsafeBytes { try appender.append($0) }
        try appender.flush()
        #expect { try appender.drain() } throws: { isFull($0) }
        #expect(throws: InparsCoreError.self) { try appender.length() }
        let direct = HashingAppender(
            file: try AppendFile(appendingTo: full), digest: SHA256(), background: false)
        try [UInt8](repeating: 0x41, count: 4096).withUnsafeBytes { try direct.append($0) }
        #expect { try direct.flush() } throws: { isFull($0) }
    }

    @Test func aFailureBeforeAnyWorkLeavesNothing() throws {
        let folder = try TestPaths.temporaryDirectory("resumable-nothing")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out.txt")
        _ = try ResumableOutput<CountSummary>(outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: false)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func filesThatAreNotOursAreLeftAlone() throws {
        let folder = try TestPaths.temporaryDirectory("resumable-foreign")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out.txt")
        // A partial file without a manifest: refused, even with --overwrite, and kept.
        let partial = ResumableOutput<CountSummary>.partialURL(for: out)
        try Data("someone's\n".utf8).write(to: partial)
        for overwrite in [false, true] {
            #expect(throws: InparsCoreError.self) {
                _ = try ResumableOutput<CountSummary>(
                    outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: overwrite)
            }
        }
        #expect(try String(contentsOf: partial, encoding: .utf8) == "someone's\n")
        try FileManager.default.removeItem(at: partial)
        // A manifest path holding something else: refused and kept.
        let manifestURL = OutputManifest.url(for: out)
        try Data(#"{"settings": {}, "version": 7}"#.utf8).write(to: manifestURL)
        for overwrite in [false, true] {
            #expect(throws: InparsCoreError.self) {
                _ = try ResumableOutput<CountSummary>(
                    outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: overwrite)
            }
        }
        #expect(FileManager.default.fileExists(atPath: manifestURL.path))
    }

    @Test func aPartialFileShorterThanItsManifestIsAnError() throws {
        let folder = try TestPaths.temporaryDirectory("resumable-short")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out.txt")
        do {
            let first = try ResumableOutput<CountSummary>(
                outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: false)
            first.commitInterval = 0
            try work(first, to: 3, finish: false)
        }
        try AppendFile.truncate(ResumableOutput<CountSummary>.partialURL(for: out), to: 5)
        #expect(throws: InparsCoreError.self) {
            _ = try ResumableOutput<CountSummary>(
                outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: false)
        }
    }

    @Test func aGzipOutputIsCompressedAtTheEnd() throws {
        let folder = try TestPaths.temporaryDirectory("resumable-gz")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out.txt.gz")
        try work(
            try ResumableOutput(outputs: ["main": out], kinds: ["main": testOutputKind], manifest: manifest(), overwrite: false),
            to: 3, finish: true)
        let bytes = try Data(contentsOf: out)
        #expect(bytes.prefix(2) == Data([0x1F, 0x8B]))
        var text = Data()
        try FileCopy.forEachChunk(of: out) { text.append(contentsOf: $0) }
        #expect(String(decoding: text, as: UTF8.self) == "item 0\nitem 1\nitem 2\n")
    }
}

@Suite struct ShardSetTests {
    /// Writes a finished shard output of `settings` under `name`.
    func shard(
        _ name: String, _ index: Int, of count: Int, in folder: URL, settings: [String: String] = ["k": "1"],
        items: Int = 2
    ) throws -> URL {
        let out = folder.appendingPathComponent(name)
        let output = try ResumableOutput<CountSummary>(
            outputs: ["main": out], kinds: ["main": testOutputKind],
            manifest: OutputManifest(command: "test", settings: settings, inputs: [:], shard: Shard(index: index, count: count)),
            overwrite: false)
        var summary = CountSummary()
        for i in 0..<items {
            try output.append("shard \(index) line \(i)\n")
            summary.items += 1
        }
        try output.finish(items: items, summary: summary)
        return out
    }

    @Test func aWholeSetMergesInShardOrder() throws {
        let folder = try TestPaths.temporaryDirectory("shardset")
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = try (0..<3).map { try shard("s\($0)", $0, of: 3, in: folder) }
        let set = try ShardSet.open([files[2], files[0], files[1]])
        #expect(set.members.map(\.shard.index) == [0, 1, 2])
        let merged = folder.appendingPathComponent("merged")
        let summary = try set.summary(CountSummary.self)
        #expect(summary.items == 6)
        try set.write(to: ["main": merged], kinds: ["main": testOutputKind], summary: summary)
        #expect(
            try String(contentsOf: merged, encoding: .utf8)
                == (0..<3).map { "shard \($0) line 0\nshard \($0) line 1\n" }.joined())
        let manifest = try #require(try OutputManifest.read(OutputManifest.url(for: merged)))
        #expect(manifest.shard == nil && manifest.state == .complete)
        #expect(manifest.runID == OutputManifest(command: "test", settings: ["k": "1"], inputs: [:]).runID)
    }

    @Test func incompleteForeignAndChangedShardsAreRefused() throws {
        let folder = try TestPaths.temporaryDirectory("shardset-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = try shard("a", 0, of: 2, in: folder)
        let b = try shard("b", 1, of: 2, in: folder)
        let c = try shard("c", 1, of: 2, in: folder, settings: ["k": "9"])
        let d = try shard("d", 1, of: 3, in: folder)
        func reason(_ urls: [URL]) -> String {
            do {
                _ = try ShardSet.open(urls)
                return "no error"
            } catch {
                return (error as? LocalizedError)?.errorDescription ?? "\(error)"
            }
        }
        #expect(reason([a]).contains("shard 1/2 of this run is missing"))
        #expect(reason([a, b, b]).contains("shard 1/2 is given twice"))
        #expect(reason([a, c]).contains("belongs to another run") && reason([a, c]).contains("k: 1 → 9"))
        #expect(reason([a, d]).contains("shard count: 2 → 3"))
        try Data("changed\n".utf8).write(to: b)
        #expect(reason([a, b]).contains("changed after inpars wrote it"))
        #expect(reason([folder.appendingPathComponent("nothing")]).contains("does not exist"))
    }
}
