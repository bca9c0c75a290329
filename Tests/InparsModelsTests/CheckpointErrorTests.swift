import Foundation
import InparsTensor
import InparsTestSupport
import Testing

@testable import InparsModels

@Suite struct CheckpointErrorTests {
    private func broken(_ name: String) -> URL { CheckpointFixtures.url("broken/\(name)") }

    /// Runs `body`, requires a ``CheckpointError``, and returns it with its message.
    private func failure(_ body: () throws -> Void) throws -> (CheckpointError, String) {
        do {
            try body()
        } catch let error as CheckpointError {
            return (error, error.errorDescription ?? "")
        }
        Issue.record("no error thrown")
        throw CancellationError()
    }

    @Test func fileShorterThanTheHeaderLengthIsTruncated() throws {
        let url = broken("short.safetensors")
        let (error, message) = try failure { _ = try SafetensorsFile(url: url) }
        #expect(error == .truncated(file: url.path, detail: "5 bytes, fewer than the 8-byte header length"))
        #expect(message.contains("short.safetensors") && message.contains("truncated"))
    }

    @Test func truncatedDataNamesTheFirstTensorOutsideTheFile() throws {
        let url = broken("truncated.safetensors")
        let (error, message) = try failure { _ = try SafetensorsFile(url: url) }
        guard case .tensorOutOfBounds(let file, let tensor, _, _, _) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(file == url.path)
        #expect(message.contains("'\(tensor)'") && message.contains("truncated.safetensors"))
        #expect(message.contains("truncated file"))
    }

    @Test func headerLengthBeyondTheFileIsReported() throws {
        let url = broken("bad_header_length.safetensors")
        let (error, message) = try failure { _ = try SafetensorsFile(url: url) }
        #expect(error == .headerOutOfBounds(file: url.path, headerLength: 1 << 40, fileSize: 868))
        #expect(message.contains("1099511627776-byte header") && message.contains("868 bytes"))
    }

    @Test func headerThatIsNotJSONIsReported() throws {
        let url = broken("bad_json.safetensors")
        let (error, message) = try failure { _ = try SafetensorsFile(url: url) }
        #expect(error == .malformedHeader(file: url.path, reason: "the JSON header does not parse"))
        #expect(message.contains("bad_json.safetensors"))
    }

    @Test func tensorOffsetsOutsideTheDataSectionNameTheTensor() throws {
        let url = broken("offset_outside.safetensors")
        let (error, message) = try failure { _ = try SafetensorsFile(url: url) }
        #expect(error == .tensorOutOfBounds(file: url.path, tensor: "far", begin: 16, end: 32, dataSize: 16))
        #expect(message == "tensor 'far' in '\(url.path)' occupies bytes 16..<32 but the data section has only 16 bytes (truncated file?).")
    }

    @Test func byteCountDisagreeingWithShapeAndDTypeIsReported() throws {
        let url = broken("byte_count.safetensors")
        let (error, message) = try failure { _ = try SafetensorsFile(url: url) }
        #expect(error == .byteCountMismatch(file: url.path, tensor: "w", shape: [2, 3], dtype: "F32", expected: 24, actual: 20))
        #expect(message.contains("tensor 'w'") && message.contains("[2, 3] of F32 needs 24"))
    }

    @Test func unknownDTypeIsReportedWhenTheTensorIsRead() throws {
        let url = broken("unknown_dtype.safetensors")
        let file = try SafetensorsFile(url: url)
        #expect(try file.tensor(named: "ok").storage == [0])
        let (error, message) = try failure { _ = try file.tensor(named: "fp8") }
        #expect(error == .unsupportedDType(file: url.path, tensor: "fp8", dtype: "F8_E4M3"))
        #expect(message.contains("'fp8'") && message.contains("F8_E4M3") && message.contains("unknown_dtype"))
        let (whole, _) = try failure { _ = try Checkpoint.loadTensors(file: url) }
        #expect(whole == error)
    }

    @Test func missingTensorAndMissingFileAreReported() throws {
        let url = CheckpointFixtures.url("mixed.safetensors")
        let (error, _) = try failure { _ = try SafetensorsFile(url: url).tensor(named: "nope") }
        #expect(error == .missingTensor(file: url.path, tensor: "nope"))
        let absent = broken("absent.safetensors")
        let (missing, message) = try failure { _ = try SafetensorsFile(url: absent) }
        #expect(missing == .fileNotFound(file: absent.path))
        #expect(message.contains("absent.safetensors") && message.contains("does not exist"))
    }

    @Test func missingShardIsNamed() throws {
        let folder = broken("missing_shard")
        let (error, message) = try failure { _ = try Checkpoint.loadTensors(directory: folder) }
        #expect(error == .missingShard(
            index: folder.appendingPathComponent("model.safetensors.index.json").path,
            shard: "model-00002-of-00002.safetensors"))
        #expect(message.contains("model-00002-of-00002.safetensors") && message.contains("index.json"))
    }

    @Test func folderWithoutWeightsIsReported() throws {
        let folder = try TestPaths.temporaryDirectory("checkpoint-empty")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (error, message) = try failure { _ = try Checkpoint.loadTensors(directory: folder) }
        #expect(error == .noWeights(directory: folder.path))
        #expect(message.contains("model.safetensors") && message.contains(folder.path))
    }

    @Test(arguments: [
        ("evil.bin", "posix", "system"), ("evil_os.bin", "os", "system"),
        ("evil_stack_global.bin", "builtins", "eval"),
    ])
    func pickleWithADisallowedGlobalIsRefused(file: String, module: String, name: String) throws {
        let url = broken(file)
        let (error, message) = try failure { _ = try TorchCheckpointFile(url: url) }
        #expect(error == .disallowedGlobal(file: url.path, module: module, name: name))
        #expect(message.contains("'\(module).\(name)'") && message.contains("refused"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/inpars-pwned"))
    }

    @Test func pickleOpcodeOutsideTheSubsetIsRefused() throws {
        let url = broken("bad_opcode.bin")
        let (error, message) = try failure { _ = try TorchCheckpointFile(url: url) }
        #expect(error == .malformedPickle(file: url.path, offset: 3, reason: "opcode 0x69 is outside the subset a state dict uses"))
        #expect(message.contains("bad_opcode.bin") && message.contains("byte 3"))
    }

    @Test func truncatedZipArchiveIsReported() throws {
        let url = broken("truncated.bin")
        let (error, message) = try failure { _ = try TorchCheckpointFile(url: url) }
        #expect(error == .truncated(file: url.path, detail: "no zip end-of-central-directory record (the file is cut short)"))
        #expect(message.contains("truncated.bin") && message.contains("truncated"))
    }

    @Test func compressedZipEntryIsRefusedByName() throws {
        let url = broken("deflated.bin")
        let (error, message) = try failure { _ = try TorchCheckpointFile(url: url) }
        guard case .malformedArchive(let file, let reason) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(file == url.path)
        #expect(reason.contains("is compressed (method 8)"))
        #expect(message.contains("deflated.bin"))
    }

    @Test func safetensorsFileIsNotAZipArchive() throws {
        let url = CheckpointFixtures.url("mixed.safetensors")
        let (error, _) = try failure { _ = try TorchCheckpointFile(url: url) }
        guard case .malformedArchive(_, let reason) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(reason.contains("legacy pre-1.6 torch.save format"))
    }
}
