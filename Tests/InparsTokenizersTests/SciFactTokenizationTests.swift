import Foundation
import InparsTestSupport
import InparsTokenizers
import Testing

/// Real text: monoT5-shaped inputs from SciFact documents hash to the references' ids.
///
/// The corpus is not in the repository, so this runs only where `shared/data/scifact` sits
/// beside the checkout (or one or two folders further up, as for worktrees).
@Suite struct SciFactTokenizationTests {
    struct Check: Decodable {
        var documents: Int
        var spmTokenCount: Int
        var hfTokenCount: Int
        var spmFNV1a: [String]
        var hfFNV1a: [String]

        enum CodingKeys: String, CodingKey {
            case documents, spmTokenCount = "spm_token_count", hfTokenCount = "hf_token_count"
            case spmFNV1a = "spm_fnv1a", hfFNV1a = "hf_fnv1a"
        }
    }

    static let corpus: URL? = {
        var folder = TestPaths.repositoryRoot
        for _ in 0..<3 {
            folder = folder.deletingLastPathComponent()
            let url = folder.appendingPathComponent("shared/data/scifact/corpus.jsonl")
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        return nil
    }()

    /// 64-bit FNV-1a over the ids as little-endian Int32 bytes, as the fixture script computes it.
    static func fnv1a(_ ids: [Int32]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for id in ids {
            var value = UInt32(bitPattern: id)
            for _ in 0..<4 {
                hash = (hash ^ UInt64(value & 0xFF)) &* 0x0000_0100_0000_01B3
                value >>= 8
            }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    @Test("FNV-1a of known ids matches the script's definition")
    func hashDefinition() {
        // fnv1a([]) is the offset basis; fnv1a([1]) computed by hand from the definition.
        #expect(Self.fnv1a([]) == "cbf29ce484222325")
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte: UInt64 in [1, 0, 0, 0] { hash = (hash ^ byte) &* 0x100000001B3 }
        #expect(Self.fnv1a([1]) == String(hash, radix: 16))
    }

    @Test("1000 SciFact documents encode to the references' ids", .enabled(if: corpus != nil))
    func scifactDocuments() throws {
        let corpus = try #require(Self.corpus)
        let data = try Data(
            contentsOf: TokenizerGolden.directory.appendingPathComponent("scifact-check.json"))
        let check = try JSONDecoder().decode(Check.self, from: data)
        let spm = try FixtureTokenizers.sentencePiece.get()
        let json = try FixtureTokenizers.json.get()
        let lines = try String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").prefix(
            check.documents)
        var spmTokens = 0
        var hfTokens = 0
        var mismatches = 0
        for (index, line) in lines.enumerated() {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let title = object["title"] as? String ?? ""
            let text = try #require(object["text"] as? String)
            let input = "Query: \(title) Document: \(text) Relevant:"
            let spmIDs = spm.encode(input)
            let hfIDs = json.encode(input)
            spmTokens += spmIDs.count
            hfTokens += hfIDs.count
            if Self.fnv1a(spmIDs) != check.spmFNV1a[index]
                || Self.fnv1a(hfIDs) != check.hfFNV1a[index]
            {
                mismatches += 1
                if mismatches <= 3 { Issue.record("document \(index) encodes differently") }
            }
        }
        #expect(lines.count == check.documents)
        #expect(mismatches == 0)
        #expect(spmTokens == check.spmTokenCount)
        #expect(hfTokens == check.hfTokenCount)
    }
}
