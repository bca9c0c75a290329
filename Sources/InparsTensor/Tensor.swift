/// A dense, row-major tensor of 32-bit floats.
///
/// `Tensor` is a value type: copies share storage until one of them is written (copy on write,
/// inherited from `Array`). Shapes are written outermost first, e.g. `[batch, seqLen, dModel]`;
/// the last axis is contiguous. Every matrix product goes through ``BLAS/sgemm`` (see
/// `Tensor+GEMM.swift`); everything else is a plain loop over `storage`.
public struct Tensor: Sendable, Equatable {
    /// The extent of each axis, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `storage.count == shape.reduce(1, *)`.
    public var storage: [Float]

    /// Wraps `storage` (row-major) with `shape`.
    ///
    /// - Precondition: the product of `shape` equals `storage.count`.
    public init(shape: [Int], storage: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(
            shape.reduce(1, *) == storage.count,
            "shape \(shape) needs \(shape.reduce(1, *)) elements, storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, storage: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor of `shape` filled with zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, repeating: 0)
    }

    /// A tensor of `shape` whose every element is written by `initializer` before it is read.
    ///
    /// The buffer passed to `initializer` is uninitialised; it must write all `count` elements.
    @inlinable
    public init(
        shape: [Int], uninitialized initializer: (UnsafeMutableBufferPointer<Float>) -> Void
    ) {
        let count = shape.reduce(1, *)
        let storage = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            initializer(buffer)
            initialized = count
        }
        self.init(shape: shape, storage: storage)
    }

    /// A tensor of shape `leading + row.shape` whose every row is a copy of `row` (a bias
    /// broadcast before a GEMM accumulates into it: one write pass instead of zeros plus an add).
    public init(leading: [Int], repeatingRow row: Tensor) {
        let width = row.count
        self.init(shape: leading + row.shape) { out in
            row.storage.withUnsafeBufferPointer { source in
                var offset = 0
                while offset < out.count {
                    (out.baseAddress! + offset).initialize(from: source.baseAddress!, count: width)
                    offset += width
                }
            }
        }
    }

    /// The number of elements.
    @inlinable public var count: Int { storage.count }

    /// The number of axes.
    @inlinable public var rank: Int { shape.count }

    /// Row-major strides, in elements.
    public var strides: [Int] { Tensor.strides(for: shape) }

    /// Row-major strides for `shape`, in elements.
    public static func strides(for shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }

    /// The extent of the last axis (1 for a scalar).
    @inlinable public var lastDimension: Int { shape.last ?? 1 }

    /// The number of rows when the tensor is seen as a matrix `[count / lastDimension, lastDimension]`.
    @inlinable public var rowCount: Int { lastDimension == 0 ? 0 : count / lastDimension }

    /// Reads or writes one element by its multi-index.
    public subscript(_ index: Int...) -> Float {
        get { storage[flatIndex(index)] }
        set { storage[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var flat = 0
        for (axis, i) in index.enumerated() {
            precondition(i >= 0 && i < shape[axis], "index \(index) out of range for shape \(shape)")
            flat = flat * shape[axis] + i
        }
        return flat
    }

    /// The same elements seen with another shape; one extent may be `-1` (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var result = self
        result.reshape(newShape)
        return result
    }

    /// Changes the shape in place, keeping the elements; one extent may be `-1` (inferred).
    public mutating func reshape(_ newShape: [Int]) {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element)
                .reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[inferred] = count / known
        }
        precondition(
            resolved.reduce(1, *) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        shape = resolved
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = storage.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > 8 ? ", …" : "")])"
    }
}
