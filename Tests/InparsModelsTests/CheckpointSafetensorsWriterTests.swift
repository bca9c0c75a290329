import Foundation
import InparsTensor
import InparsTestSupport
import Testing

@testable import InparsModels

@Suite struct CheckpointSafetensorsWriterTests {
    @Test func writtenTensorsReadBackUnchanged() throws {
        let directory = try TestPaths.temporaryDirectory("safetensors-writer")
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = TestRandom(seed: 7)
        let tensors: [String: Tensor] = [
            "encoder.weight": Tensor(shape: [3, 5], storage: random.floats(15)),
            "bias": Tensor(shape: [5], storage: random.floats(5)),
            "scalar": Tensor(shape: [], storage: [2.5]),
            "empty": Tensor(shape: [0, 4], storage: []),
            "quote\"d\\name": Tensor(shape: [1, 1, 2], storage: [-0.0, .infinity]),
        ]
        let url = directory.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write(tensors, to: url, metadata: ["format": "pt"])
        let file = try SafetensorsFile(url: url)
        #expect(file.names == tensors.keys.sorted())
        #expect(file.metadata == ["format": "pt"])
        for (name, tensor) in tensors {
            let read = try file.tensor(named: name)
            #expect(read.shape == tensor.shape, "\(name)")
            #expect(
                read.storage.map(\.bitPattern) == tensor.storage.map(\.bitPattern), "\(name)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(leftovers == ["model.safetensors"])
    }

    @Test func writtenLayoutFollowsTheSafetensorsSpecification() throws {
        let directory = try TestPaths.temporaryDirectory("safetensors-layout")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tensors: [String: Tensor] = [
            "b": Tensor(shape: [3], storage: [1, 2, 3]),
            "a": Tensor(shape: [2, 1], storage: [4, 5]),
            "c": Tensor(shape: [], storage: [6]),
        ]
        let url = directory.appendingPathComponent("x.safetensors")
        try SafetensorsWriter.write(tensors, to: url, metadata: [:])
        let bytes = [UInt8](try Data(contentsOf: url))
        let headerLength = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        // Header padded with spaces so the data section starts 8-byte aligned.
        #expect((8 + headerLength) % 8 == 0)
        let headerBytes = Array(bytes[8..<(8 + headerLength)])
        #expect(headerBytes.first == UInt8(ascii: "{"))
        let trimmed = headerBytes.reversed().drop { $0 == 0x20 }
        #expect(trimmed.first == UInt8(ascii: "}"))
        let header = try #require(
            try JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any])
        #expect(header["__metadata__"] == nil)
        // Offsets contiguous from 0 in sorted name order, covering the whole data section.
        var expectedBegin = 0
        for name in ["a", "b", "c"] {
            let entry = try #require(header[name] as? [String: Any])
            #expect(entry["dtype"] as? String == "F32")
            #expect(entry["shape"] as? [Int] == tensors[name]!.shape)
            let offsets = try #require(entry["data_offsets"] as? [Int])
            #expect(offsets == [expectedBegin, expectedBegin + 4 * tensors[name]!.count])
            let data = bytes[(8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1])]
            let values = stride(from: data.startIndex, to: data.endIndex, by: 4).map { i in
                Float(
                    bitPattern: UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2])
                        << 16
                        | UInt32(data[i + 3]) << 24)
            }
            #expect(values == tensors[name]!.storage)
            expectedBegin = offsets[1]
        }
        #expect(8 + headerLength + expectedBegin == bytes.count)
    }
}

@Suite struct CheckpointWriterFailureTests {
    @Test func missingFolderIsAnErrorNamingTheFile() throws {
        let url = URL(fileURLWithPath: "/nonexistent-inpars-folder/model.safetensors")
        do {
            try SafetensorsWriter.write(["a": Tensor(shape: [1], storage: [1])], to: url)
            Issue.record("no error")
        } catch {
            guard case .io(let file, let reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(file.hasPrefix("/nonexistent-inpars-folder/.model.safetensors.tmp-"))
            #expect(reason == "No such file or directory")
        }
    }

    @Test func failedRenameLeavesTheDestinationAndNoTemporaryFile() throws {
        let directory = try TestPaths.temporaryDirectory("safetensors-rename")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The destination is a non-empty folder, so rename(2) fails after the data is written.
        let destination = directory.appendingPathComponent("model.safetensors")
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: false)
        let keep = destination.appendingPathComponent("keep")
        try Data([1, 2, 3]).write(to: keep)
        #expect(throws: CheckpointError.self) {
            try SafetensorsWriter.write(
                ["a": Tensor(shape: [2], storage: [1, 2])], to: destination)
        }
        #expect(try Data(contentsOf: keep) == Data([1, 2, 3]))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path) == [
                "model.safetensors"
            ])
    }

    /// Issue 16, finding 1: the writer replaces an earlier safetensors file, never another file.
    @Test func onlyASafetensorsFileIsReplaced() throws {
        let directory = try TestPaths.temporaryDirectory("safetensors-replace")
        let url = directory.appendingPathComponent("weights.safetensors")
        try Data("my notes\n".utf8).write(to: url)
        let tensors = ["a": Tensor(shape: [2], storage: [1, 2])]
        #expect(throws: CheckpointError.self) { try SafetensorsWriter.write(tensors, to: url) }
        #expect(try Data(contentsOf: url) == Data("my notes\n".utf8))
        try FileManager.default.removeItem(at: url)
        try SafetensorsWriter.write(tensors, to: url)
        try SafetensorsWriter.write(["b": Tensor(shape: [1], storage: [3])], to: url)
        #expect(try SafetensorsFile(url: url).names == ["b"])
    }
}
