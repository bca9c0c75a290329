/// A pickle interpreter for exactly what a `torch.save`d state dict contains, and nothing more.
///
/// It recognises the opcodes a state dict uses (protocols 2–4: PROTO, FRAME, MARK, the empty
/// containers, strings, small and long integers, floats, booleans, None, tuples, GLOBAL and
/// STACK_GLOBAL, BINPERSID, REDUCE, BUILD, SETITEM(S), APPEND(S), the memo opcodes, STOP) and
/// refuses every other opcode. Globals are *names* matched against a fixed allow-list
/// (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`,
/// `torch.<Type>Storage`); nothing is imported or called. REDUCE is evaluated only for those
/// names, by building a description of the tensor (storage key, dtype, offset, size, stride).
/// Format reference: CPython `Lib/pickle.py` and `Lib/pickletools.py`; torch's layout:
/// `torch/serialization.py` (`_save`, `persistent_id`) and `torch/_utils.py`.
struct TorchPickle {
    /// A tensor as `_rebuild_tensor_v2` would build it, without the data.
    struct TensorView: Sendable, Equatable {
        /// The storage's key: the name of its zip entry under `data/`.
        var storageKey: String
        var dtype: StorageDType
        /// Elements in the whole storage.
        var storageCount: Int
        /// Offset of element 0, in elements.
        var offset: Int
        var shape: [Int]
        /// Strides in elements.
        var strides: [Int]
    }

    final class DictBox {
        var items: [(Value, Value)] = []
    }

    final class ListBox {
        var items: [Value] = []
    }

    enum Global: String {
        case orderedDict = "collections.OrderedDict"
        case rebuildTensor = "torch._utils._rebuild_tensor_v2"
        case rebuildParameter = "torch._utils._rebuild_parameter"
        case floatStorage = "torch.FloatStorage"
        case halfStorage = "torch.HalfStorage"
        case bfloat16Storage = "torch.BFloat16Storage"
        case doubleStorage = "torch.DoubleStorage"
        case longStorage = "torch.LongStorage"
        case intStorage = "torch.IntStorage"
        case shortStorage = "torch.ShortStorage"
        case charStorage = "torch.CharStorage"
        case byteStorage = "torch.ByteStorage"
        case boolStorage = "torch.BoolStorage"

        var storageDType: StorageDType? {
            switch self {
            case .floatStorage: return .f32
            case .halfStorage: return .f16
            case .bfloat16Storage: return .bf16
            case .doubleStorage: return .f64
            case .longStorage: return .i64
            case .intStorage: return .i32
            case .shortStorage: return .i16
            case .charStorage: return .i8
            case .byteStorage: return .u8
            case .boolStorage: return .bool
            default: return nil
            }
        }
    }

    enum Value {
        case none
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
        case tuple([Value])
        case list(ListBox)
        case dict(DictBox)
        case global(Global)
        case storage(key: String, dtype: StorageDType, count: Int)
        case tensor(TensorView)
        case mark
    }

    let path: String
    let bytes: [UInt8]
    private var position = 0
    private var stack: [Value] = []
    private var marks: [Int] = []
    private var memo: [Int: Value] = [:]

    /// Runs the pickle in `bytes` (from `path`, for messages) and returns the state dict:
    /// tensor name → view, in pickle order.
    static func stateDict(_ bytes: [UInt8], path: String) throws(CheckpointError) -> [(
        String, TensorView
    )] {
        var machine = TorchPickle(path: path, bytes: bytes)
        let result = try machine.run()
        guard case .dict(let box) = result else {
            throw .malformedPickle(
                file: path, offset: bytes.count,
                reason: "the top-level object is not a dict of tensors")
        }
        var entries: [(String, TensorView)] = []
        entries.reserveCapacity(box.items.count)
        for (key, value) in box.items {
            guard case .string(let name) = key else {
                throw .malformedPickle(
                    file: path, offset: bytes.count, reason: "a state-dict key is not a string")
            }
            guard case .tensor(let view) = value else {
                throw .malformedPickle(
                    file: path, offset: bytes.count,
                    reason: "state-dict entry '\(name)' is not a tensor")
            }
            entries.append((name, view))
        }
        return entries
    }

    private init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }

    private func fail(_ reason: String, at offset: Int? = nil) -> CheckpointError {
        .malformedPickle(file: path, offset: offset ?? position, reason: reason)
    }

    // MARK: - Reading operands

    private mutating func take(_ count: Int) throws(CheckpointError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw .truncated(
                file: path, detail: "the pickle ends inside an operand at byte \(position)")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func littleEndian(_ count: Int) throws(CheckpointError) -> UInt64 {
        let slice = try take(count)
        return slice.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func line() throws(CheckpointError) -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else {
            throw .truncated(file: path, detail: "the pickle ends inside a GLOBAL name")
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    private mutating func pop() throws(CheckpointError) -> Value {
        guard let value = stack.popLast() else { throw fail("stack underflow") }
        if case .mark = value { throw fail("unexpected MARK on the stack") }
        return value
    }

    private mutating func popToMark() throws(CheckpointError) -> [Value] {
        guard let mark = marks.popLast(), mark <= stack.count else {
            throw fail("no MARK to pop to")
        }
        let items = Array(stack[(mark + 1)...])
        stack.removeSubrange(mark...)
        return items
    }

    private func global(_ module: String, _ name: String) throws(CheckpointError) -> Value {
        guard let known = Global(rawValue: "\(module).\(name)") else {
            throw .disallowedGlobal(file: path, module: module, name: name)
        }
        return .global(known)
    }

    // MARK: - The interpreter

    /// Runs the pickle to its STOP opcode.
    ///
    /// Longer than 80 lines on purpose: it is one `switch` with a short case per opcode of the
    /// state-dict subset, as the pickle specification lists them; splitting it would scatter
    /// the interpreter without making any case simpler.
    private mutating func run() throws(CheckpointError) -> Value {
        while position < bytes.count {
            let start = position
            let opcode = bytes[position]
            position += 1
            switch opcode {
            case 0x80:  // PROTO
                let version = try take(1).first!
                guard version <= 5 else {
                    throw fail("unsupported pickle protocol \(version)", at: start)
                }
            case 0x95:  // FRAME (length; frames are read as one stream)
                _ = try take(8)
            case 0x28:  // MARK
                marks.append(stack.count)
                stack.append(.mark)
            case 0x7D: stack.append(.dict(DictBox()))  // EMPTY_DICT
            case 0x5D: stack.append(.list(ListBox()))  // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x4E: stack.append(.none)  // NONE
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false))  // NEWFALSE
            case 0x4B: stack.append(.int(Int(try littleEndian(1))))  // BININT1
            case 0x4D: stack.append(.int(Int(try littleEndian(2))))  // BININT2
            case 0x4A:  // BININT
                stack.append(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))
            case 0x8A:  // LONG1
                let count = Int(try littleEndian(1))
                guard count <= 8 else {
                    throw fail("integer of \(count) bytes is too large", at: start)
                }
                let raw = try littleEndian(count)
                let shift = UInt64(64 - 8 * count)
                stack.append(
                    .int(count == 0 ? 0 : Int(Int64(bitPattern: raw << shift) >> Int64(shift))))
            case 0x47:  // BINFLOAT (big-endian)
                let raw = try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                stack.append(.float(Double(bitPattern: raw)))
            case 0x58:  // BINUNICODE
                let count = Int(try littleEndian(4))
                stack.append(.string(String(decoding: try take(count), as: UTF8.self)))
            case 0x8C:  // SHORT_BINUNICODE
                let count = Int(try littleEndian(1))
                stack.append(.string(String(decoding: try take(count), as: UTF8.self)))
            case 0x8D:  // BINUNICODE8
                let count = try littleEndian(8)
                guard count <= UInt64(bytes.count) else {
                    throw fail("string length \(count) exceeds the pickle", at: start)
                }
                stack.append(.string(String(decoding: try take(Int(count)), as: UTF8.self)))
            case 0x74: stack.append(.tuple(try popToMark()))  // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
            case 0x86:  // TUPLE2
                let b = try pop()
                let a = try pop()
                stack.append(.tuple([a, b]))
            case 0x87:  // TUPLE3
                let c = try pop()
                let b = try pop()
                let a = try pop()
                stack.append(.tuple([a, b, c]))
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line()
                let name = try line()
                stack.append(try global(module, name))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop()
                else {
                    throw fail("STACK_GLOBAL operands are not strings", at: start)
                }
                stack.append(try global(module, name))
            case 0x51:  // BINPERSID
                stack.append(try persistentLoad(try pop(), at: start))
            case 0x52:  // REDUCE
                let arguments = try pop()
                let callable = try pop()
                stack.append(try reduce(callable, arguments, at: start))
            case 0x62:  // BUILD: state for OrderedDict (e.g. `_metadata`) is ignored.
                _ = try pop()
                guard let top = stack.last, case .dict = top else {
                    throw fail("BUILD on something other than a dict", at: start)
                }
            case 0x73:  // SETITEM
                let value = try pop()
                let key = try pop()
                guard let top = stack.last, case .dict(let box) = top else {
                    throw fail("SETITEM on something other than a dict", at: start)
                }
                box.items.append((key, value))
            case 0x75:  // SETITEMS
                let items = try popToMark()
                guard items.count % 2 == 0, let top = stack.last, case .dict(let box) = top else {
                    throw fail("SETITEMS on something other than a dict", at: start)
                }
                for i in stride(from: 0, to: items.count, by: 2) {
                    box.items.append((items[i], items[i + 1]))
                }
            case 0x61:  // APPEND
                let value = try pop()
                guard let top = stack.last, case .list(let box) = top else {
                    throw fail("APPEND on something other than a list", at: start)
                }
                box.items.append(value)
            case 0x65:  // APPENDS
                let items = try popToMark()
                guard let top = stack.last, case .list(let box) = top else {
                    throw fail("APPENDS on something other than a list", at: start)
                }
                box.items.append(contentsOf: items)
            case 0x71:  // BINPUT
                memo[Int(try littleEndian(1))] = try top(at: start)
            case 0x72:  // LONG_BINPUT
                memo[Int(try littleEndian(4))] = try top(at: start)
            case 0x94:  // MEMOIZE
                memo[memo.count] = try top(at: start)
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let index = Int(try littleEndian(opcode == 0x68 ? 1 : 4))
                guard let value = memo[index] else {
                    throw fail("memo entry \(index) is not set", at: start)
                }
                stack.append(value)
            case 0x2E:  // STOP
                let result = try pop()
                return result
            default:
                throw fail(
                    "opcode 0x\(String(opcode, radix: 16)) is outside the subset a state dict uses",
                    at: start)
            }
        }
        throw .truncated(file: path, detail: "the pickle ends without a STOP opcode")
    }

    private func top(at offset: Int) throws(CheckpointError) -> Value {
        guard let value = stack.last else {
            throw fail("memo store with an empty stack", at: offset)
        }
        return value
    }

    /// `('storage', storage_type, key, location, numel)`, as torch's `persistent_id` writes it.
    private func persistentLoad(_ id: Value, at offset: Int) throws(CheckpointError) -> Value {
        guard case .tuple(let parts) = id, parts.count == 5, case .string("storage") = parts[0],
            case .global(let type) = parts[1], case .string(let key) = parts[2],
            case .int(let count) = parts[4], count >= 0
        else {
            throw fail("persistent id is not ('storage', type, key, location, numel)", at: offset)
        }
        guard let dtype = type.storageDType else {
            throw fail("persistent id names \(type.rawValue), not a storage type", at: offset)
        }
        return .storage(key: key, dtype: dtype, count: count)
    }

    private func reduce(_ callable: Value, _ arguments: Value, at offset: Int)
        throws(CheckpointError) -> Value
    {
        guard case .global(let function) = callable, case .tuple(let args) = arguments else {
            throw fail("REDUCE of something other than an allowed global", at: offset)
        }
        switch function {
        case .orderedDict:
            guard args.isEmpty else { throw fail("OrderedDict called with arguments", at: offset) }
            return .dict(DictBox())
        case .rebuildParameter:
            // _rebuild_parameter(data, requires_grad, backward_hooks) → the data tensor.
            guard args.count == 3, case .tensor = args[0] else {
                throw fail("_rebuild_parameter arguments are not (tensor, bool, hooks)", at: offset)
            }
            return args[0]
        case .rebuildTensor:
            // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])
            guard args.count == 6 || args.count == 7,
                case .storage(let key, let dtype, let count) = args[0],
                case .int(let storageOffset) = args[1],
                let shape = Self.integers(args[2]), let strides = Self.integers(args[3]),
                shape.count == strides.count, storageOffset >= 0, shape.allSatisfy({ $0 >= 0 })
            else {
                throw fail(
                    "_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, …)",
                    at: offset)
            }
            return .tensor(
                TensorView(
                    storageKey: key, dtype: dtype, storageCount: count, offset: storageOffset,
                    shape: shape, strides: strides))
        default:
            throw fail("\(function.rawValue) cannot be called", at: offset)
        }
    }

    private static func integers(_ value: Value) -> [Int]? {
        guard case .tuple(let items) = value else { return nil }
        var result: [Int] = []
        for item in items {
            guard case .int(let n) = item else { return nil }
            result.append(n)
        }
        return result
    }
}
