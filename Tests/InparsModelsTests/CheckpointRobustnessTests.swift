import Foundation
import InparsTensor
import InparsTestSupport
import Testing

@testable import InparsModels

/// Damaged files must give a `CheckpointError`, never a crash or a huge allocation.
@Suite struct CheckpointRobustnessTests {
    static let files = [
        "mixed.safetensors", "torch/pytorch_model.bin", "torch_zip64/pytorch_model.bin",
        "torch_proto4/pytorch_model.bin",
    ]

    /// Opens `url` with the reader its name selects and converts every tensor.
    private func load(_ url: URL, like original: String) throws(CheckpointError) -> Int {
        if original.hasSuffix(".safetensors") {
            return try SafetensorsFile(url: url).allTensors().count
        }
        return try TorchCheckpointFile(url: url).allTensors().count
    }

    @Test(arguments: files)
    func everyProperPrefixIsRefused(file: String) throws {
        let bytes = try Data(contentsOf: CheckpointFixtures.url(file))
        let directory = try TestPaths.temporaryDirectory("checkpoint-prefix")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent((file as NSString).lastPathComponent)
        var accepted: [Int] = []
        // Every length near the ends (headers, zip directory), every 7th in between.
        let lengths = (0..<bytes.count).filter {
            $0 < 256 || $0 >= bytes.count - 256 || $0 % 7 == 0
        }
        for length in lengths {
            try bytes.prefix(length).write(to: url)
            if (try? load(url, like: file)) != nil { accepted.append(length) }
        }
        #expect(accepted.isEmpty, "prefixes accepted: \(accepted.prefix(5))")
        try bytes.write(to: url)
        #expect(try load(url, like: file) > 0)
    }

    @Test(arguments: files)
    func corruptedBytesNeverCrash(file: String) throws {
        let original = try Data(contentsOf: CheckpointFixtures.url(file))
        let directory = try TestPaths.temporaryDirectory("checkpoint-corrupt")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent((file as NSString).lastPathComponent)
        var random = TestRandom(seed: 2024)
        var failures = 0
        for _ in 0..<120 {
            var bytes = [UInt8](original)
            // Corrupt 1–3 bytes, biased towards the structure (the first and last 1 KB).
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let region = Int.random(in: 0..<3, using: &random)
                let position =
                    region == 0
                    ? Int.random(in: 0..<min(1024, bytes.count), using: &random)
                    : region == 1
                        ? Int.random(in: max(0, bytes.count - 1024)..<bytes.count, using: &random)
                        : Int.random(in: 0..<bytes.count, using: &random)
                bytes[position] = UInt8.random(in: 0...255, using: &random)
            }
            try Data(bytes).write(to: url)
            do {
                _ = try load(url, like: file)
            } catch {
                failures += 1
                #expect(!(error.errorDescription ?? "").isEmpty)
            }
        }
        // Most damage to headers, directories and pickles is detected.
        #expect(failures > 0)
    }
}
