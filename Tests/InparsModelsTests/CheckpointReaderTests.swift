import Foundation
import InparsTensor
import InparsTestSupport
import Testing

@testable import InparsModels

/// The expectations `Scripts/fixtures/make_checkpoint_fixtures.py` wrote beside the fixtures.
struct ExpectedTensor {
    var shape: [Int]
    var dtype: String
    var values: [Float]
}

enum CheckpointFixtures {
    static let directory = TestPaths.fixtures.appendingPathComponent("checkpoint")

    static func url(_ relative: String) -> URL { directory.appendingPathComponent(relative) }

    /// `expected.json[key]`: tensor name → shape, stored dtype and float32 values.
    static func expected(_ key: String) throws -> [String: ExpectedTensor] {
        let data = try Data(contentsOf: url("expected.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let entries = try #require(root[key] as? [String: [String: Any]], "no \(key) in expected.json")
        var result: [String: ExpectedTensor] = [:]
        for (name, entry) in entries {
            let shape = try #require(entry["shape"] as? [NSNumber]).map(\.intValue)
            let dtype = try #require(entry["dtype"] as? String)
            let values = try #require(entry["values"] as? [NSNumber]).map { Float($0.doubleValue) }
            result[name] = ExpectedTensor(shape: shape, dtype: dtype, values: values)
        }
        return result
    }

    /// Checks `tensors` against `expected` exactly (conversions to Float are exact).
    static func check(
        _ tensors: [String: Tensor], against expected: [String: ExpectedTensor],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(tensors.keys.sorted() == expected.keys.sorted(), sourceLocation: sourceLocation)
        for (name, want) in expected {
            guard let tensor = tensors[name] else { continue }
            #expect(tensor.shape == want.shape, "\(name)", sourceLocation: sourceLocation)
            #expect(tensor.storage == want.values, "\(name)", sourceLocation: sourceLocation)
        }
    }
}

@Suite struct CheckpointReaderTests {
    @Test func safetensorsValuesMatchPythonExactly() throws {
        let file = try SafetensorsFile(url: CheckpointFixtures.url("mixed.safetensors"))
        let expected = try CheckpointFixtures.expected("mixed.safetensors")
        #expect(file.names == expected.keys.sorted())
        #expect(file.metadata == ["format": "pt", "note": "fixture"])
        for (name, want) in expected {
            #expect(file.shape(of: name) == want.shape, "\(name)")
            #expect(file.dtype(of: name) == want.dtype, "\(name)")
        }
        CheckpointFixtures.check(try file.allTensors(), against: expected)
    }

    @Test func halfPrecisionSpecialValuesConvertExactly() throws {
        let file = try SafetensorsFile(url: CheckpointFixtures.url("mixed.safetensors"))
        let half = try file.tensor(named: "f16.vector").storage
        // 0.5, -1.25, 2^-24 (smallest subnormal), 1000·2^-24, max finite, -0, 3.140625.
        #expect(half[2] == 0x1p-24)
        #expect(half[3] == 1000 * 0x1p-24)
        #expect(half[4] == 65504)
        #expect(half[5] == 0 && half[5].sign == .minus)
        #expect(file.shape(of: "absent") == nil)
    }

    @Test func shardedSafetensorsLoadThroughTheIndex() throws {
        let tensors = try Checkpoint.loadTensors(directory: CheckpointFixtures.url("sharded"))
        CheckpointFixtures.check(tensors, against: try CheckpointFixtures.expected("sharded"))
    }

    @Test(arguments: ["torch", "torch_zip64", "torch_proto4"])
    func torchZipCheckpointValuesMatchPythonExactly(folder: String) throws {
        let url = CheckpointFixtures.url("\(folder)/pytorch_model.bin")
        let expected = try CheckpointFixtures.expected("\(folder)/pytorch_model.bin")
        let file = try TorchCheckpointFile(url: url)
        // Pickle order, which is the state dict's order.
        #expect(file.names.first == "f32.weight")
        #expect(file.names.last == "f32.empty")
        for (name, want) in expected {
            #expect(file.dtype(of: name) == want.dtype, "\(name)")
        }
        CheckpointFixtures.check(try file.allTensors(), against: expected)
        // The same folder through the directory entry point.
        CheckpointFixtures.check(
            try Checkpoint.loadTensors(directory: CheckpointFixtures.url(folder)), against: expected)
    }

    @Test func torchViewsWithStridesAndOffsetsBecomeRowMajor() throws {
        let file = try TorchCheckpointFile(url: CheckpointFixtures.url("torch/pytorch_model.bin"))
        // grid = arange(20).reshape(4, 5) / 8; offset_rows = grid[2:], column = grid[:, 3].
        let rows = try file.tensor(named: "f32.offset_rows")
        #expect(rows.shape == [2, 5])
        #expect(rows.storage == (10..<20).map { Float($0) / 8 })
        let column = try file.tensor(named: "f32.column")
        #expect(column.shape == [4])
        #expect(column.storage == [3, 8, 13, 18].map { Float($0) / 8 })
        let tied = try file.tensor(named: "shared.weight")
        #expect(try file.tensor(named: "lm_head.weight") == tied)
        let views = file.views
        #expect(views["shared.weight"]?.storageKey == views["lm_head.weight"]?.storageKey)
        #expect(views["f32.transposed"]?.strides == [1, 4])
    }

    @Test func shardedTorchCheckpointLoadsThroughTheIndex() throws {
        let tensors = try Checkpoint.loadTensors(directory: CheckpointFixtures.url("torch_sharded"))
        CheckpointFixtures.check(tensors, against: try CheckpointFixtures.expected("torch_sharded"))
    }

    @Test func safetensorsIsPreferredOverPytorchBin() throws {
        let directory = try TestPaths.temporaryDirectory("checkpoint-preference")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(
            at: CheckpointFixtures.url("torch/pytorch_model.bin"),
            to: directory.appendingPathComponent("pytorch_model.bin"))
        #expect(try Checkpoint.loadTensors(directory: directory).count == 12)
        let only = ["only": Tensor(shape: [2], storage: [1, 2])]
        try SafetensorsWriter.write(
            only, to: directory.appendingPathComponent("model.safetensors"), metadata: [:])
        #expect(try Checkpoint.loadTensors(directory: directory) == only)
    }
}
