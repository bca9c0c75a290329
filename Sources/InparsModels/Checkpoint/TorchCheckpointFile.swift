import Foundation
import InparsCore
import InparsTensor

/// A `torch.save` checkpoint such as `pytorch_model.bin`, read without running Python.
///
/// The file is a zip archive (entries stored uncompressed, ZIP64 past 4 GiB) holding, under one
/// top-level folder whose name varies (`archive/`, `pytorch_model/`, …): `data.pkl`, the pickled
/// state dict; `data/<key>`, one raw little-endian storage per key; `byteorder` and `version`.
/// ``TorchPickle`` interprets the pickle with an allow-list of globals and never executes it;
/// tensors are then copied out of the memory-mapped storages, honouring storage offset and
/// strides (non-contiguous views such as a transposed weight become row-major copies; tensors
/// sharing one storage, like tied embeddings, are each materialised).
public struct TorchCheckpointFile: Sendable {
    /// The file this was read from.
    public let url: URL
    /// The state dict's keys, in the order the pickle lists them.
    public let names: [String]
    let views: [String: TorchPickle.TensorView]
    let storages: [String: Range<Int>]
    let file: MappedFile

    /// Maps `url`, reads its zip directory and interprets its pickle.
    ///
    /// - Throws: ``CheckpointError`` naming the file: not a zip or truncated, compressed entries,
    ///   a big-endian archive, a pickle outside the state-dict subset or with a disallowed
    ///   global, or a tensor whose view lies outside its storage.
    public init(url: URL) throws(CheckpointError) {
        self.url = url
        let path = url.path
        file = try MappedFile.checkpoint(url)
        let archive = try Self.openArchive(file, path: path)
        guard
            let pickleName = archive.names.first(where: {
                $0 == "data.pkl" || $0.hasSuffix("/data.pkl")
            })
        else {
            throw .malformedArchive(file: path, reason: "it has no data.pkl entry")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if let order = try Self.storedContents(archive, prefix + "byteorder", path: path) {
            let text = String(decoding: order, as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard text == "little" else {
                throw .malformedArchive(
                    file: path,
                    reason: "byteorder is '\(text)'; only little-endian archives are read")
            }
        }
        let entries = try TorchPickle.stateDict(
            Self.storedContents(archive, pickleName, path: path) ?? [], path: path)
        var views: [String: TorchPickle.TensorView] = [:]
        var storages: [String: Range<Int>] = [:]
        for (name, view) in entries {
            guard views[name] == nil else { throw .duplicateTensor(file: path, tensor: name) }
            guard let range = archive.entries[prefix + "data/" + view.storageKey]?.data else {
                throw .malformedArchive(
                    file: path,
                    reason:
                        "tensor '\(name)' refers to storage '\(view.storageKey)', which has no data/\(view.storageKey) entry"
                )
            }
            try Self.validate(view, name: name, storageBytes: range.count, path: path)
            views[name] = view
            storages[view.storageKey] = range
        }
        self.names = entries.map(\.0)
        self.views = views
        self.storages = storages
    }

    /// Reads the zip directory of a `torch.save` file, whose entries must all be stored.
    private static func openArchive(
        _ file: MappedFile, path: String
    ) throws(CheckpointError) -> ZipArchive {
        let archive: ZipArchive
        if file.size >= 4,
            file.withBytes({ $0.loadUnaligned(as: UInt32.self) }) != UInt32(0x0403_4B50).littleEndian
        {
            throw .malformedArchive(
                file: path,
                reason:
                    "it does not start with a zip local header (the legacy pre-1.6 torch.save format is not supported; re-save it with a current torch)"
            )
        }
        do {
            archive = try ZipArchive(file: file)
        } catch .truncated(let detail) {
            throw .truncated(file: path, detail: detail)
        } catch {
            throw .malformedArchive(file: path, reason: error.reason)
        }
        for name in archive.names where archive.entries[name]!.method != 0 {
            throw .malformedArchive(
                file: path,
                reason:
                    "entry '\(name)' is compressed (method \(archive.entries[name]!.method)); torch.save stores entries uncompressed"
            )
        }
        return archive
    }

    /// The bytes of a (stored) entry, `nil` when absent.
    private static func storedContents(
        _ archive: ZipArchive, _ name: String, path: String
    ) throws(CheckpointError) -> [UInt8]? {
        do {
            return try archive.contents(of: name)
        } catch let failure as ZipArchive.Failure {
            if case .truncated(let detail) = failure { throw .truncated(file: path, detail: detail) }
            throw .malformedArchive(file: path, reason: failure.reason)
        } catch {
            throw .malformedArchive(file: path, reason: "\(error)")
        }
    }

    /// Checks that `view` lies inside its storage of `storageBytes` bytes, with overflow-checked
    /// arithmetic (the numbers come from an untrusted pickle).
    ///
    /// A view may not have more elements than its storage: this refuses stride-0 broadcast views,
    /// which state dicts do not contain, and bounds every allocation by the file's size.
    private static func validate(
        _ view: TorchPickle.TensorView, name: String, storageBytes: Int, path: String
    ) throws(CheckpointError) {
        let size = view.dtype.byteSize
        guard view.storageCount <= storageBytes / size else {
            let (needed, overflow) = view.storageCount.multipliedReportingOverflow(by: size)
            throw .byteCountMismatch(
                file: path, tensor: name, shape: [view.storageCount], dtype: view.dtype.rawValue,
                expected: overflow ? Int.max : needed, actual: storageBytes)
        }
        var elements = 1
        for extent in view.shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= max(view.storageCount, 1) || extent == 0 else {
                throw .malformedArchive(
                    file: path,
                    reason:
                        "tensor '\(name)' of shape \(view.shape) has more elements than its storage of \(view.storageCount)"
                )
            }
            elements = product
        }
        guard elements > 0 else { return }
        var last = view.offset
        var overflowed = false
        for (extent, stride) in zip(view.shape, view.strides) {
            guard stride >= 0 else {
                throw .malformedArchive(
                    file: path, reason: "tensor '\(name)' has a negative stride")
            }
            let (step, overflow1) = (extent - 1).multipliedReportingOverflow(by: stride)
            let (sum, overflow2) = last.addingReportingOverflow(step)
            overflowed = overflowed || overflow1 || overflow2
            last = sum
        }
        guard !overflowed, last < view.storageCount else {
            throw .tensorOutOfBounds(
                file: path, tensor: name,
                begin: view.offset.multipliedReportingOverflow(by: size).partialValue,
                end: overflowed ? Int.max : (last + 1) * size, dataSize: view.storageCount * size)
        }
    }

    /// The shape of tensor `name`, or `nil` when the state dict has no such key.
    public func shape(of name: String) -> [Int]? { views[name]?.shape }

    /// The stored dtype (`"F32"`, `"BF16"`, … in safetensors spelling) of tensor `name`.
    public func dtype(of name: String) -> String? { views[name]?.dtype.rawValue }

    /// Tensor `name` converted to `Float` and laid out row-major.
    ///
    /// - Throws: ``CheckpointError/missingTensor(file:tensor:)``.
    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let view = views[name], let range = storages[view.storageKey] else {
            throw .missingTensor(file: url.path, tensor: name)
        }
        let size = view.dtype.byteSize
        let contiguous = view.strides == Tensor.strides(for: view.shape)
        if contiguous {
            let count = view.shape.reduce(1, *)
            let start = range.lowerBound + view.offset * size
            file.adviseWillNeed(start..<(start + count * size))
        }
        return file.withBytes { bytes in
            Tensor(shape: view.shape) { out in
                guard out.count > 0, let base = bytes.baseAddress else { return }
                let storage = base + range.lowerBound
                if contiguous {
                    view.dtype.convert(from: storage + view.offset * size, into: out)
                } else {
                    Self.gather(view, from: storage, into: out)
                }
            }
        }
    }

    /// Copies a strided view into row-major order, converting each element.
    private static func gather(
        _ view: TorchPickle.TensorView, from storage: UnsafeRawPointer,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        let rank = view.shape.count
        let inner = view.shape[rank - 1]
        let innerStride = view.strides[rank - 1]
        var index = [Int](repeating: 0, count: rank - 1)
        var source = view.offset
        var flat = 0
        let dtype = view.dtype
        while flat < out.count {
            for j in 0..<inner { out[flat + j] = dtype.element(storage, source + j * innerStride) }
            flat += inner
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                source += view.strides[axis]
                if index[axis] < view.shape[axis] { break }
                source -= view.strides[axis] * view.shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// Every tensor in the state dict, converted to `Float`.
    public func allTensors() throws(CheckpointError) -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        result.reserveCapacity(names.count)
        for name in names { result[name] = try tensor(named: name) }
        return result
    }
}
