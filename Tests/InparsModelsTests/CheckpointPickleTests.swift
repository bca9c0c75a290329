import Foundation
import InparsTensor
import InparsTestSupport
import Testing

@testable import InparsModels

/// Hand-assembled pickles for the opcodes torch's own files in the fixtures do not use.
@Suite struct CheckpointPickleTests {
    private struct Assembler {
        var bytes: [UInt8] = [0x80, 0x02]
        mutating func op(_ code: UInt8, _ operand: [UInt8] = []) { bytes += [code] + operand }
        mutating func text(_ s: String) {
            let utf8 = Array(s.utf8)
            op(0x58, le(UInt64(utf8.count), 4) + utf8)  // BINUNICODE
        }
        mutating func global(_ module: String, _ name: String) {
            op(0x63, Array("\(module)\n\(name)\n".utf8))
        }
        func le(_ value: UInt64, _ count: Int) -> [UInt8] {
            (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
        }
    }

    /// `{'w': tensor, 'tied': <same tensor via LONG_BINGET>}` with the given storage offset opcode.
    private func statePickle(offset: [UInt8]) -> [UInt8] {
        var a = Assembler()
        a.op(0x7D)  // EMPTY_DICT
        a.op(0x72, a.le(0, 4))  // LONG_BINPUT 0
        a.op(0x28)  // MARK
        a.op(0x8C, [1] + Array("w".utf8))  // SHORT_BINUNICODE
        a.global("torch._utils", "_rebuild_tensor_v2")
        a.op(0x28)  // MARK (arguments)
        a.op(0x28)  // MARK (persistent id)
        a.text("storage")
        a.global("torch", "BFloat16Storage")
        a.text("7")
        a.text("cpu")
        a.op(0x4D, [0x2C, 0x01])  // BININT2 300
        a.op(0x74)  // TUPLE
        a.op(0x51)  // BINPERSID
        a.bytes += offset  // storage offset
        a.op(0x4A, a.le(2, 4))  // BININT 2
        a.op(0x4B, [3])  // BININT1 3
        a.op(0x86)  // TUPLE2: size (2, 3)
        a.op(0x4B, [1])
        a.op(0x4D, [100, 0])
        a.op(0x86)  // TUPLE2: stride (1, 100)
        a.op(0x89)  // NEWFALSE
        a.op(0x5D)  // EMPTY_LIST
        a.op(0x28)  // MARK
        a.op(0x47, [0x3F, 0xF8, 0, 0, 0, 0, 0, 0])  // BINFLOAT 1.5
        a.op(0x4E)  // NONE
        a.op(0x88)  // NEWTRUE
        a.op(0x65)  // APPENDS
        a.op(0x74)  // TUPLE
        a.op(0x52)  // REDUCE
        a.op(0x72, a.le(1, 4))  // LONG_BINPUT 1
        a.op(0x8C, [4] + Array("tied".utf8))
        a.op(0x6A, a.le(1, 4))  // LONG_BINGET 1
        a.op(0x75)  // SETITEMS
        a.op(0x7D)  // EMPTY_DICT (state for BUILD)
        a.op(0x62)  // BUILD
        a.op(0x2E)  // STOP
        return a.bytes
    }

    @Test func longIntegersFloatsListsAndLongMemoOpcodesAreUnderstood() throws {
        let entries = try TorchPickle.stateDict(statePickle(offset: [0x8A, 1, 5]), path: "x.pkl")
        let expected = TorchPickle.TensorView(
            storageKey: "7", dtype: .bf16, storageCount: 300, offset: 5, shape: [2, 3],
            strides: [1, 100])
        #expect(entries.map(\.0) == ["w", "tied"])
        #expect(entries.map(\.1) == [expected, expected])
    }

    @Test func negativeStorageOffsetIsRefused() throws {
        // LONG1 of one byte 0xFF is -1.
        #expect(
            throws: CheckpointError.malformedPickle(
                file: "x.pkl", offset: 134,  // the REDUCE opcode
                reason: "_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, …)")
        ) {
            _ = try TorchPickle.stateDict(statePickle(offset: [0x8A, 1, 0xFF]), path: "x.pkl")
        }
    }

    @Test func pickleEndingWithoutStopIsTruncated() throws {
        let bytes = Array(statePickle(offset: [0x4B, 0]).dropLast(3))
        #expect(
            throws: CheckpointError.truncated(
                file: "x.pkl", detail: "the pickle ends without a STOP opcode")
        ) { _ = try TorchPickle.stateDict(bytes, path: "x.pkl") }
    }

    @Test func operandRunningPastTheEndIsTruncated() throws {
        // BINUNICODE at byte 2 claims 255 bytes; its text would start at byte 7.
        #expect(
            throws: CheckpointError.truncated(
                file: "x.pkl", detail: "the pickle ends inside an operand at byte 7")
        ) { _ = try TorchPickle.stateDict([0x80, 0x02, 0x58, 0xFF, 0, 0, 0, 0x41], path: "x.pkl") }
    }

    @Test func nonTensorValueInTheStateDictIsRefused() throws {
        // {'step': 3}
        let bytes: [UInt8] =
            [0x80, 0x02, 0x7D, 0x8C, 4] + Array("step".utf8) + [0x4B, 3, 0x73, 0x2E]
        #expect(
            throws: CheckpointError.malformedPickle(
                file: "x.pkl", offset: 13, reason: "state-dict entry 'step' is not a tensor")
        ) { _ = try TorchPickle.stateDict(bytes, path: "x.pkl") }
    }

    @Test func reduceOfAStorageTypeIsRefused() throws {
        // torch.FloatStorage() is allowed as a name but cannot be called.
        var a = Assembler()
        a.global("torch", "FloatStorage")
        a.op(0x29)
        a.op(0x52)
        a.op(0x2E)
        #expect(
            throws: CheckpointError.malformedPickle(
                file: "x.pkl", offset: 23, reason: "torch.FloatStorage cannot be called")
        ) { _ = try TorchPickle.stateDict(a.bytes, path: "x.pkl") }
    }
}
