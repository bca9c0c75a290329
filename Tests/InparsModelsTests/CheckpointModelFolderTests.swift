import Foundation
import InparsTensor
import InparsTestSupport
import Testing

@testable import InparsModels

@Suite struct CheckpointModelFolderTests {
    private let tensors: [String: Tensor] = [
        "shared.weight": Tensor(shape: [4, 2], storage: [1, 2, 3, 4, 5, 6, 7, 8]),
        "final_layer_norm.weight": Tensor(shape: [2], storage: [0.5, -0.5]),
    ]

    @Test func folderHoldsWeightsFilesAndCopies() throws {
        let root = try TestPaths.temporaryDirectory("model-folder")
        defer { try? FileManager.default.removeItem(at: root) }
        let tokenizer = root.appendingPathComponent("spiece.model")
        try Data([9, 8, 7]).write(to: tokenizer)
        let folder = root.appendingPathComponent("checkpoint-10")
        let config = Data(#"{"model_type": "t5"}"#.utf8)
        try Checkpoint.writeModelFolder(
            tensors: tensors, files: ["config.json": config], copying: [tokenizer], to: folder)
        let listing = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(listing == ["config.json", "model.safetensors", "spiece.model"])
        #expect(try Data(contentsOf: folder.appendingPathComponent("config.json")) == config)
        #expect(
            try Data(contentsOf: folder.appendingPathComponent("spiece.model")) == Data([9, 8, 7]))
        #expect(try Checkpoint.loadTensors(directory: folder) == tensors)
        let file = try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        #expect(file.metadata == ["format": "pt"])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == [
                "checkpoint-10", "spiece.model",
            ])
    }

    @Test func existingFolderIsReplacedWhole() throws {
        let root = try TestPaths.temporaryDirectory("model-folder-replace")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("last")
        try Checkpoint.writeModelFolder(
            tensors: ["old": Tensor(shape: [1], storage: [1])], files: ["generation_config.json": Data()],
            to: folder)
        try Checkpoint.writeModelFolder(tensors: tensors, to: folder)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder.path) == [
                "model.safetensors"
            ])
        #expect(try Checkpoint.loadTensors(directory: folder) == tensors)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["last"])
    }

    /// Issue 16, finding 1: a folder that is not a model folder inpars writes is never replaced.
    @Test func aFolderOfTheUsersIsRefused() throws {
        let root = try TestPaths.temporaryDirectory("model-folder-refuse")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("downloaded")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        try Data("# model card".utf8).write(to: folder.appendingPathComponent("README.md"))
        do {
            try Checkpoint.writeModelFolder(tensors: tensors, to: folder)
            Issue.record("replaced a folder with a README")
        } catch {
            #expect(error.localizedDescription.contains("Refusing to replace '\(folder.path)'"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["README.md"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["downloaded"])
    }

    @Test func failedWriteKeepsThePreviousFolderAndLeavesNoTemporaries() throws {
        let root = try TestPaths.temporaryDirectory("model-folder-fail")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("best")
        try Checkpoint.writeModelFolder(
            tensors: tensors, files: ["config.json": Data("{}".utf8)], to: folder)
        let missing = root.appendingPathComponent("no-such-tokenizer.json")
        #expect(throws: CheckpointError.fileNotFound(file: missing.path)) {
            try Checkpoint.writeModelFolder(
                tensors: ["new": Tensor(shape: [1], storage: [3])], copying: [missing], to: folder)
        }
        #expect(try Checkpoint.loadTensors(directory: folder) == tensors)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == [
                "config.json", "model.safetensors",
            ])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["best"])
    }
}
