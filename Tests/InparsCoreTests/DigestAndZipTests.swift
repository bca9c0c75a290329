import Foundation
import InparsTestSupport
import Testing

@testable import InparsCore

@Suite struct DigestAndZipTests {
    private func hex<D: StreamingDigest>(_ type: D.Type, _ text: String, chunk: Int = .max) -> String {
        var digest = D()
        let bytes = Array(text.utf8)
        var offset = 0
        repeat {
            let end = min(bytes.count, offset + chunk)
            bytes[offset..<end].withUnsafeBytes { digest.update($0) }
            offset = end
        } while offset < bytes.count
        return digest.finalizeHex()
    }

    /// FIPS 180-2 appendix B and the NIST one-million-'a' vector.
    @Test func sha256MatchesTheStandardVectors() {
        #expect(hex(SHA256.self, "") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.self, "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        #expect(hex(SHA256.self, two) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(SHA256.self, two, chunk: 7) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = String(repeating: "a", count: 1_000_000)
        #expect(hex(SHA256.self, million, chunk: 4099) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// RFC 1321 appendix A.5.
    @Test func md5MatchesTheRFCVectors() {
        #expect(hex(MD5.self, "") == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hex(MD5.self, "abc") == "900150983cd24fb0d6963f7d28e17f72")
        #expect(hex(MD5.self, "message digest") == "f96b697d7cb7938d525a2f31aaf161d0")
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        #expect(hex(MD5.self, alphabet, chunk: 5) == "d174ab98d277d9f5a5611c2c9f419d9f")
        let digits = String(repeating: "1234567890", count: 8)
        #expect(hex(MD5.self, digits) == "57edf4a22be3c955ac49da2e2107b67a")
    }

    /// The published md5 of the fixture zip (from Python's hashlib, in tiny.zip.md5).
    @Test func md5OfAFileMatchesPython() throws {
        let zip = TestPaths.fixtures.appendingPathComponent("beir/tiny.zip")
        let published = try String(contentsOf: zip.appendingPathExtension("md5"), encoding: .utf8)
        #expect(try MD5.hex(ofFile: zip) == String(published.prefix(32)))
    }

    /// Deflated entries written by Python's zipfile inflate to the committed plain files,
    /// in one chunk or in many small ones; folder entries are listed.
    @Test func deflatedEntriesInflateToThePlainFiles() throws {
        let folder = TestPaths.fixtures.appendingPathComponent("beir")
        let archive = try ZipArchive(file: MappedFile(path: folder.appendingPathComponent("tiny.zip").path))
        #expect(archive.names.first == "tiny/" && archive.entries["tiny/"]!.isDirectory)
        for name in ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "qrels/train.tsv"] {
            let expected = try Data(contentsOf: folder.appendingPathComponent("tiny/\(name)"))
            let entry = archive.entries["tiny/\(name)"]!
            #expect(entry.method == 8)
            #expect(try archive.contents(of: "tiny/\(name)").map { Data($0) } == expected, "\(name)")
            var pieces = Data()
            var chunks = 0
            try archive.forEachChunk(of: entry, chunkSize: 4096) { chunk in
                pieces.append(contentsOf: chunk)
                chunks += 1
            }
            #expect(pieces == expected)
            if name == "corpus.jsonl" { #expect(chunks == (expected.count + 4095) / 4096) }
        }
    }

    /// A flipped byte in a deflated entry is caught (bad stream or CRC), and a cut archive is
    /// reported as truncated.
    @Test func damagedArchivesAreReported() throws {
        let original = try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("beir/tiny.zip"))
        let directory = try TestPaths.temporaryDirectory("zip")
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = try ZipArchive(file: MappedFile(path: TestPaths.fixtures.appendingPathComponent("beir/tiny.zip").path))
        let corpus = good.entries["tiny/corpus.jsonl"]!

        var flipped = original
        flipped[corpus.data.lowerBound + corpus.data.count / 2] ^= 0x55
        let flippedURL = directory.appendingPathComponent("flipped.zip")
        try flipped.write(to: flippedURL)
        let damaged = try ZipArchive(file: MappedFile(path: flippedURL.path))
        #expect(throws: ZipArchive.Failure.self) { _ = try damaged.contents(of: "tiny/corpus.jsonl") }

        let cutURL = directory.appendingPathComponent("cut.zip")
        try original.prefix(original.count / 2).write(to: cutURL)
        #expect(throws: ZipArchive.Failure.truncated("no zip end-of-central-directory record (the file is cut short)")) {
            _ = try ZipArchive(file: MappedFile(path: cutURL.path))
        }
    }

    @Test func byteCountsAreFormattedInBinaryUnits() {
        #expect(formatBytes(512) == "512 B")
        #expect(formatBytes(1536) == "1.50 KiB")
        #expect(formatBytes(12.5 * 1024 * 1024) == "12.5 MiB")
        #expect(formatBytes(300 * 1024 * 1024 * 1024) == "300 GiB")
    }
}

@Suite struct TabFieldTests {
    /// TSV lines are split on their tab bytes: the fields `split(separator: "\t")` gives
    /// (empty ones kept), with combining marks, emoji and carriage returns beside the tabs.
    @Test func tabFieldsEqualTheCharacterSplit() {
        let lines = [
            "", "\t", "a", "a\tb", "\ta\t\tb\t", "d1\ttitle\ttext with spaces",
            "e\u{301}\t\u{301}x\t👩‍👩‍👧\tß", "x\r\ty\r", "only text, no tab", "\t\t\t",
        ]
        for line in lines {
            #expect(
                splitFields(line) == line.split(separator: "\t", omittingEmptySubsequences: false),
                "\(line.debugDescription)")
        }
    }
}
