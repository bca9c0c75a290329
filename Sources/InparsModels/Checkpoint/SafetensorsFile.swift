import Foundation
import InparsCore
import InparsTensor

/// A memory-mapped `.safetensors` file whose tensors are converted to `Float` on demand.
///
/// Layout (https://github.com/huggingface/safetensors, "Format"): an 8-byte little-endian
/// unsigned header length `N`, `N` bytes of UTF-8 JSON mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data section that
/// starts at byte `8 + N`), and an optional `"__metadata__"` string map. `init` maps the file and
/// validates every entry (dtype size × element count = byte count, ranges inside the file);
/// ``tensor(named:)`` copies one tensor out of the mapping, converting `F16`/`BF16` exactly.
public struct SafetensorsFile: Sendable {
    struct Entry: Sendable {
        /// `nil` when the dtype string is not one we convert (reported by `tensor(named:)`).
        var dtype: StorageDType?
        var dtypeName: String
        var shape: [Int]
        /// Absolute byte range in the file.
        var range: Range<Int>
    }

    /// The file this was read from.
    public let url: URL
    /// Every tensor name, sorted.
    public let names: [String]
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    let entries: [String: Entry]
    let file: MappedFile

    /// Maps `url` and parses and validates its header.
    ///
    /// - Throws: ``CheckpointError`` naming the file (and tensor) when the file is missing,
    ///   truncated, its header is out of bounds or malformed, or a tensor's range or byte count
    ///   is wrong.
    public init(url: URL) throws(CheckpointError) {
        self.url = url
        file = try MappedFile.checkpoint(url)
        let path = url.path
        let fileSize = file.size
        guard fileSize >= 8 else {
            throw .truncated(
                file: path, detail: "\(fileSize) bytes, fewer than the 8-byte header length")
        }
        let headerLength = file.withBytes { $0.loadUnaligned(as: UInt64.self) }
        guard headerLength <= UInt64(fileSize - 8) else {
            throw .headerOutOfBounds(file: path, headerLength: headerLength, fileSize: fileSize)
        }
        let dataStart = 8 + Int(headerLength)
        let headerData = file.withBytes { Data($0[8..<dataStart]) }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw .malformedHeader(file: path, reason: "the JSON header does not parse")
        }
        guard let header = parsed as? [String: Any] else {
            throw .malformedHeader(file: path, reason: "the JSON header is not an object")
        }
        let dataSize = fileSize - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw .malformedHeader(file: path, reason: "__metadata__ is not an object")
                }
                for (key, item) in map { metadata[key] = item as? String ?? "\(item)" }
                continue
            }
            entries[name] = try Self.entry(
                name: name, value: value, path: path, dataStart: dataStart, dataSize: dataSize)
        }
        self.entries = entries
        self.metadata = metadata
        names = entries.keys.sorted()
    }

    private static func entry(
        name: String, value: Any, path: String, dataStart: Int, dataSize: Int
    ) throws(CheckpointError) -> Entry {
        guard let object = value as? [String: Any],
            let dtypeName = object["dtype"] as? String,
            let shapeValues = object["shape"] as? [Any],
            let offsetValues = object["data_offsets"] as? [Any], offsetValues.count == 2
        else {
            throw .malformedHeader(
                file: path,
                reason: "entry '\(name)' lacks a string dtype, a shape list or two data_offsets")
        }
        let shape = shapeValues.compactMap(Self.integer)
        let offsets = offsetValues.compactMap(Self.integer)
        guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }),
            offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1]
        else {
            throw .malformedHeader(
                file: path, reason: "entry '\(name)' has a negative or non-integer shape or offset")
        }
        guard offsets[1] <= dataSize else {
            throw .tensorOutOfBounds(
                file: path, tensor: name, begin: offsets[0], end: offsets[1], dataSize: dataSize)
        }
        let dtype = StorageDType(rawValue: dtypeName)
        if let dtype {
            var expected = dtype.byteSize
            for extent in shape {
                let (product, overflow) = expected.multipliedReportingOverflow(by: extent)
                guard !overflow else {
                    throw .malformedHeader(file: path, reason: "entry '\(name)' shape overflows")
                }
                expected = product
            }
            let actual = offsets[1] - offsets[0]
            guard expected == actual else {
                throw .byteCountMismatch(
                    file: path, tensor: name, shape: shape, dtype: dtypeName, expected: expected,
                    actual: actual)
            }
        }
        return Entry(
            dtype: dtype, dtypeName: dtypeName, shape: shape,
            range: (dataStart + offsets[0])..<(dataStart + offsets[1]))
    }

    /// A JSON number that is a whole number in `0..<2^53`, else `nil` (2.5, -1, 1e300, strings).
    private static func integer(_ value: Any) -> Int? {
        guard let number = value as? NSNumber else {
            return nil
        }
        let double = number.doubleValue
        guard double >= 0, double < 0x1p53, double == double.rounded(.towardZero) else {
            return nil
        }
        return Int(double)
    }

    /// The shape of tensor `name`, or `nil` when the file has no such tensor.
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// The stored dtype name (`"F32"`, `"BF16"`, …) of tensor `name`, or `nil` when absent.
    public func dtype(of name: String) -> String? { entries[name]?.dtypeName }

    /// Tensor `name` converted to `Float`, with its stored shape.
    ///
    /// - Throws: ``CheckpointError/missingTensor(file:tensor:)`` or
    ///   ``CheckpointError/unsupportedDType(file:tensor:dtype:)``.
    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let entry = entries[name] else {
            throw .missingTensor(file: url.path, tensor: name)
        }
        guard let dtype = entry.dtype else {
            throw .unsupportedDType(file: url.path, tensor: name, dtype: entry.dtypeName)
        }
        file.adviseWillNeed(entry.range)
        return file.withBytes { bytes in
            Tensor(shape: entry.shape) { out in
                guard let base = bytes.baseAddress else { return }
                dtype.convert(from: base + entry.range.lowerBound, into: out)
            }
        }
    }

    /// Every tensor in the file, converted to `Float`.
    public func allTensors() throws(CheckpointError) -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        result.reserveCapacity(names.count)
        for name in names { result[name] = try tensor(named: name) }
        return result
    }
}
