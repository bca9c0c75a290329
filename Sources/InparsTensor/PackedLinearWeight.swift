internal import CDNNL
internal import CKernels

/// A linear layer's weight converted once for oneDNN: fp32 (packed only), bf16, or int8 with
/// one scale per output row, reordered into the blocked layout oneDNN's matmul prefers on this
/// CPU.
///
/// fp32 packing is for inference: OpenBLAS packs a weight again at every call, which a
/// decoding step of a few rows pays in full (the copy costs as much as the product), while a
/// packed oneDNN weight is streamed once per product.
///
/// Built from the fp32 `[out, in]` matrix (PyTorch layout), which the caller may then drop:
/// the packed copy is all a product needs. Immutable after `init`, so it is shared freely.
final class PackedLinearWeight: @unchecked Sendable {
    // Invariant: nothing is mutated after init; `memory` is destroyed once, in deinit.
    let precision: Precision
    let outFeatures: Int
    let inFeatures: Int
    /// The weights' layout, `[in, out]` logically (oneDNN's `B`), blocked; unused (zero) when
    /// the int8 products run on ``int8Panels``.
    let layout: dnnl_memory_desc_t
    /// int8: `max|w[n, :]| / levels` per output row `n` (``DNNLInfo/int8WeightLevels``);
    /// empty for bf16.
    let rowScales: [Float]
    /// int8 on CPUs with AVX-512 VNNI: the weights packed for our own product, which replaces
    /// oneDNN's there (``Int8Panels``); nil elsewhere.
    let int8Panels: Int8Panels?
    /// fp32 on CPUs with AVX-512: the packed weights as our few-row product reads them
    /// (oneDNN's memory, in place), for decoding steps; nil elsewhere.
    let f32Panels: F32Panels?
    /// int8 on oneDNN: `Σ_k w[n, k]` of the int8 weights per output row `n`, with which
    /// ``multiplyChunk(_:rows:into:accumulate:)`` takes the activations' zero points off
    /// oneDNN's s8 × s8 sums; empty otherwise (``Int8Panels`` holds its own).
    let int8ColumnSums: [Int32]
    /// int8 and bf16: every product also multiplies what rounding the activations left out
    /// (int8: `x − scale · (q − zero)`, quantized again; bf16: `x − bf16(x)`, rounded to bf16
    /// again), so the activations carry about 16 bits for twice the product's work: for
    /// products of a few rows, which stream the weights either way and whose rounding is not
    /// averaged away (T5's decoder; ``multiplyRefined(_:rows:into:accumulate:)``).
    let refinesActivations: Bool
    /// Bytes held: the packed weights (with oneDNN's or our int8 compensation) and the scales.
    let byteCount: Int
    /// The weights for oneDNN; nil when ``int8Panels`` holds them.
    private let memory: dnnl_memory_t?

    /// The row count used to ask oneDNN for its preferred weight layout (any count gives the
    /// same layout on oneDNN 2.6; see ``DNNL``).
    static let layoutRows = 64

    /// Converts and packs `matrix`.
    ///
    /// - Parameters:
    ///   - matrix: `[out, in]`, fp32.
    ///   - precision: `.fp32` (values kept), `.bf16` (round to nearest even) or `.int8`
    ///     (symmetric per output row).
    ///   - panels: int8 only: pack for ``Int8Panels`` (the default where it runs) or for
    ///     oneDNN (tests compare the two).
    ///   - refiningActivations: int8 and bf16: see ``refinesActivations``.
    init(
        _ matrix: Tensor, precision: Precision, panels: Bool = Int8Panels.isAvailable,
        refiningActivations: Bool = false
    ) {
        precondition(matrix.rank == 2, "a linear weight is [out, in], got \(matrix.shape)")
        let (n, k) = (matrix.shape[0], matrix.shape[1])
        self.precision = precision
        outFeatures = n
        inFeatures = k
        refinesActivations = precision != .fp32 && refiningActivations
        var quantized = [Int8]()
        if precision == .int8 {
            quantized = [Int8](repeating: 0, count: n * k)
            var scales = [Float](repeating: 0, count: n)
            matrix.storage.withUnsafeBufferPointer { w in
                quantized.withUnsafeMutableBufferPointer { q in
                    scales.withUnsafeMutableBufferPointer { s in
                        Quantization.quantizeRows(
                            w.baseAddress!, rows: n, columns: k, into: q.baseAddress!,
                            scales: s.baseAddress!, levels: Float(DNNLInfo.int8WeightLevels))
                    }
                }
            }
            rowScales = scales
        } else {
            rowScales = []
        }
        if precision == .int8 && panels {
            let packed = Int8Panels(quantized, outFeatures: n, inFeatures: k)
            int8Panels = packed
            layout = dnnl_memory_desc_t()
            memory = nil
            byteCount = packed.byteCount + n * MemoryLayout<Float>.size
            rowOffsets = []
            f32Panels = nil
            int8ColumnSums = []
            return
        }
        int8Panels = nil
        int8ColumnSums = (0..<(precision == .int8 ? n : 0)).map { row in
            quantized[(row * k)..<(row * k + k)].reduce(Int32(0)) { $0 + Int32($1) }
        }
        let key = DNNL.Key(precision: precision, rows: Self.layoutRows, inFeatures: k, outFeatures: n)
        let engine = DNNL.context.engine
        let descriptor = DNNL.matmulDescriptor(key, weights: Self.anyLayout(key), engine: engine)
        layout = dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0)!.pointee
        dnnl_primitive_desc_destroy(descriptor)
        var layout = layout
        var packed: dnnl_memory_t?
        DNNL.check(
            dnnl_memory_create(&packed, &layout, engine, UnsafeMutableRawPointer(bitPattern: UInt.max)),
            "dnnl_memory_create (weights)")
        memory = packed!
        switch precision {
        case .int8:
            quantized.withUnsafeBytes { Self.reorder($0.baseAddress!, dnnl_s8, k, n, into: packed!) }
        case .bf16, .fp32:
            matrix.storage.withUnsafeBytes { Self.reorder($0.baseAddress!, dnnl_f32, k, n, into: packed!) }
        }
        byteCount = dnnl_memory_desc_get_size(&layout) + rowScales.count * MemoryLayout<Float>.size
            + int8ColumnSums.count * MemoryLayout<Int32>.size
        rowOffsets = precision == .fp32 ? Self.offsets(layout, dimension: 0, indices: 0..<k) : []
        var handle: UnsafeMutableRawPointer?
        DNNL.check(dnnl_memory_get_data_handle(packed, &handle), "dnnl_memory_get_data_handle")
        f32Panels =
            precision == .fp32 && F32Panels.isAvailable
            ? F32Panels(
                layout, base: UnsafePointer(handle!.assumingMemoryBound(to: Float.self)),
                inFeatures: k, outFeatures: n) : nil
    }

    deinit { if let memory { dnnl_memory_destroy(memory) } }

    /// Copies row `n` of the `[out, in]` weight (fp32 only: the packed values are the
    /// matrix's) out of the blocked layout into `row` (`inFeatures` floats): a tied embedding
    /// looked up in its packed LM head, with no second fp32 copy.
    func copyRow(_ n: Int, into row: UnsafeMutablePointer<Float>) {
        precondition(precision == .fp32, "a \(precision) weight does not hold its fp32 rows")
        precondition(n >= 0 && n < outFeatures, "row \(n) outside \(outFeatures)")
        var handle: UnsafeMutableRawPointer?
        DNNL.check(dnnl_memory_get_data_handle(memory, &handle), "dnnl_memory_get_data_handle")
        let base = UnsafePointer(handle!.assumingMemoryBound(to: Float.self))
        let column = Self.offsets(layout, dimension: 1, indices: n..<(n + 1))[0]
        rowOffsets.withUnsafeBufferPointer { offsets in
            for k in 0..<inFeatures { row[k] = base[column + offsets[k]] }
        }
    }

    /// fp32: the element offset of `[k, ·]` in the packed memory for every `k` (the layout's
    /// offset is a sum of one term per dimension); empty at bf16/int8.
    private let rowOffsets: [Int]

    /// The offset contributions of `indices` along `dimension` of a blocked layout (oneDNN's
    /// `blocking_desc_t`: outer strides, then the inner blocks row-major in their order), the
    /// layout's `offset0` counted in dimension 0's.
    static func offsets(_ layout: dnnl_memory_desc_t, dimension: Int, indices: Range<Int>) -> [Int] {
        precondition(layout.format_kind == dnnl_blocked, "a packed weight has a blocked layout")
        var blocking = layout.format_desc.blocking
        let count = Int(blocking.inner_nblks)
        let (strides, sizes, dimensions) = withUnsafeBytes(of: &blocking.strides) { s in
            withUnsafeBytes(of: &blocking.inner_blks) { b in
                withUnsafeBytes(of: &blocking.inner_idxs) { i in
                    (s.bindMemory(to: Int64.self).map(Int.init), b.bindMemory(to: Int64.self).map(Int.init),
                     i.bindMemory(to: Int64.self).map(Int.init))
                }
            }
        }
        // Inner blocks: the stride of each (row-major over the list) and, for this
        // dimension's, the product of its later blocks.
        var innerStride = [Int](repeating: 1, count: count)
        for j in stride(from: count - 2, through: 0, by: -1) { innerStride[j] = innerStride[j + 1] * sizes[j + 1] }
        let mine = (0..<count).filter { dimensions[$0] == dimension }
        let block = mine.reduce(1) { $0 * sizes[$1] }
        let base = dimension == 0 ? Int(layout.offset0) : 0
        return indices.map { index in
            var offset = base + index / block * strides[dimension]
            var later = block
            for j in mine {
                later /= sizes[j]
                offset += index / later % sizes[j] * innerStride[j]
            }
            return offset
        }
    }

    /// The weights' descriptor with layout left to oneDNN (`format_tag any`).
    static func anyLayout(_ key: DNNL.Key) -> dnnl_memory_desc_t {
        var desc = dnnl_memory_desc_t()
        let dims: [Int64] = [Int64(key.inFeatures), Int64(key.outFeatures)]
        DNNL.check(
            dnnl_memory_desc_init_by_tag(&desc, 2, dims, DNNL.types(key.precision).1, dnnl_format_tag_any),
            "dnnl_memory_desc_init_by_tag (any)")
        return desc
    }

    /// Reorders a plain `[out, in]` row-major matrix of `type` (seen by oneDNN as `[in, out]`
    /// with tag `ba`) into `destination`, converting the type on the way (f32 → bf16).
    private static func reorder(
        _ source: UnsafeRawPointer, _ type: dnnl_data_type_t, _ k: Int, _ n: Int,
        into destination: dnnl_memory_t
    ) {
        let engine = DNNL.context.engine
        var sourceDesc = DNNL.plain(k, n, type, transposed: true)
        var destinationDesc: UnsafePointer<dnnl_memory_desc_t>?
        DNNL.check(dnnl_memory_get_memory_desc(destination, &destinationDesc), "memory_get_desc")
        var descriptor: dnnl_primitive_desc_t?
        DNNL.check(
            dnnl_reorder_primitive_desc_create(
                &descriptor, &sourceDesc, engine, destinationDesc, engine, nil),
            "dnnl_reorder_primitive_desc_create")
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var primitive: dnnl_primitive_t?
        DNNL.check(dnnl_primitive_create(&primitive, descriptor), "dnnl_primitive_create (reorder)")
        defer { dnnl_primitive_destroy(primitive) }
        let sourceMemory = DNNL.memory(sourceDesc, source)
        defer { dnnl_memory_destroy(sourceMemory) }
        DNNL.context.locked {
            DNNL.execute(
                primitive!, [(DNNL.argumentSource, sourceMemory), (DNNL.argumentDestination, destination)])
        }
    }

    /// Rows per oneDNN call: longer inputs run as several calls of this many rows.
    static let chunkRows = 256
    /// Above 16 rows a call's row count is rounded up to a multiple of this (zero rows, results
    /// dropped), so one weight needs at most 5 + `chunkRows / rowGranularity` primitives
    /// whatever the batch lengths; without it each new batch length would create (JIT-compile)
    /// new kernels.
    static let rowGranularity = 16

    /// The row count a call of `rows` rows runs with: 1, 2, 4, 8 or 16 up to 16 rows (decoding
    /// steps of a small batch, where padding to 16 would multiply 16 rows for one), then the
    /// next multiple of ``rowGranularity``.
    static func paddedRows(_ rows: Int) -> Int {
        if rows <= rowGranularity {
            var padded = 1
            while padded < rows { padded *= 2 }
            return padded
        }
        return (rows + rowGranularity - 1) / rowGranularity * rowGranularity
    }

    /// `out = x · Wᵀ` (or `out += x · Wᵀ` when `accumulate`) for `rows` rows.
    ///
    /// - Parameters:
    ///   - x: `[rows, in]`, fp32, contiguous.
    ///   - out: `[rows, out]`, fp32, contiguous.
    func multiply(
        _ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        if refinesActivations {
            return multiplyRefined(x, rows: rows, into: out, accumulate: accumulate)
        }
        StepProfile.measure(
            rows <= F32Panels.maxRows
                ? "product \(outFeatures)×\(inFeatures), \(rows) rows"
                : "long product \(outFeatures)×\(inFeatures)"
        ) {
            multiplyOnce(x, rows: rows, into: out, accumulate: accumulate)
        }
    }

    /// ``multiply(_:rows:into:accumulate:)`` with ``refinesActivations``: `out (+)= q(x) · Wᵀ +
    /// q(r) · Wᵀ`, `r = x − dequantized(q(x))` at int8
    /// (``Quantization/activationResiduals(_:rows:columns:into:)``) and `r = x − bf16(x)` at
    /// bf16 (``Quantization/bfloat16Residuals(_:count:into:)``). `x` and `r` are stacked into
    /// one product of `2 · rows` rows, so the weights, which a product of a few rows is bound
    /// by, are streamed once; each row's result is the one a product of that row alone gives,
    /// and the two halves are added as `(out + x·Wᵀ) + r·Wᵀ`.
    private func multiplyRefined(
        _ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        let (k, n) = (inFeatures, outFeatures)
        let stacked = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rows * k)
        let products = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rows * n)
        defer {
            stacked.deallocate()
            products.deallocate()
        }
        stacked.update(from: x, count: rows * k)
        if precision == .bf16 {
            Quantization.bfloat16Residuals(x, count: rows * k, into: stacked + rows * k)
        } else {
            Quantization.activationResiduals(x, rows: rows, columns: k, into: stacked + rows * k)
        }
        multiplyOnce(stacked, rows: 2 * rows, into: products, accumulate: false)
        let residualProducts = products + rows * n
        if accumulate {
            for i in 0..<(rows * n) { out[i] = out[i] + products[i] + residualProducts[i] }
        } else {
            for i in 0..<(rows * n) { out[i] = products[i] + residualProducts[i] }
        }
    }

    /// One product with the activations quantized once (see ``multiply(_:rows:into:accumulate:)``).
    private func multiplyOnce(
        _ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        if int8Panels != nil {
            let k = inFeatures
            return multiplyPanels(
                rows: rows,
                quantize: { part, q, scales, zeros in
                    inpars_quantize_activations(x + part.lowerBound * k, part.count, k, q, scales, zeros)
                }, into: out, accumulate: accumulate)
        }
        if let f32Panels, rows <= F32Panels.maxRows {
            return f32Panels.multiply(
                x, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, into: out,
                accumulate: accumulate)
        }
        var start = 0
        if precision == .fp32 {
            start = multiplyInPlace(x, rows: rows, into: out, accumulate: accumulate)
        }
        while start < rows {
            let count = min(Self.chunkRows, rows - start)
            multiplyChunk(
                x + start * inFeatures, rows: count, into: out + start * outFeatures,
                accumulate: accumulate)
            start += count
        }
    }

    /// The fp32 product of the leading rows that need no padding, straight from `x` into
    /// `out` (no scratch copies; `accumulate` through oneDNN's `sum` post-op): whole chunks of
    /// ``chunkRows``, then a last part whose row count is its own ``paddedRows(_:)``.
    ///
    /// - Returns: the rows done; the caller runs the rest through the scratch path.
    private func multiplyInPlace(
        _ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) -> Int {
        let (k, n) = (inFeatures, outFeatures)
        let chunk = Self.chunkRows
        var start = 0
        while start < rows {
            var count = min(chunk, rows - start)
            if Self.paddedRows(count) != count {
                guard count > Self.rowGranularity else { break }
                count -= count % Self.rowGranularity
            }
            let key = DNNL.Key(
                precision: .fp32, rows: count, inFeatures: k, outFeatures: n,
                accumulates: accumulate)
            DNNL.context.withLock { locked in
                run(locked.primitive(key, weights: layout), key,
                    source: UnsafeMutableRawPointer(mutating: x + start * k),
                    destination: UnsafeMutableRawPointer(out + start * n))
            }
            start += count
        }
        return start
    }

    /// ``multiply(_:rows:into:accumulate:)`` for at most ``chunkRows`` rows: the source is
    /// copied (fp32), converted (bf16) or quantized (int8) into a buffer of ``paddedRows(_:)`` rows, oneDNN
    /// writes f32 (bf16) or s32 (int8) into a second one, and the real rows are copied, added
    /// or rescaled into `out`. Both buffers are the context's scratch memory (no allocation
    /// per call); the padding rows hold whatever an earlier call left, and their results are
    /// dropped.
    private func multiplyChunk(
        _ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        let (k, n) = (inFeatures, outFeatures)
        let padded = Self.paddedRows(rows)
        let key = DNNL.Key(precision: precision, rows: padded, inFeatures: k, outFeatures: n)
        // Source elements are 4 (fp32), 2 (bf16) or 1 (int8) bytes; products 4 (f32 or s32).
        let sourceBytes = padded * k * precision.bytesPerWeight
        DNNL.context.withLock { locked in
            let primitive = locked.primitive(key, weights: layout)
            let source = locked.buffer(Scratch.source, bytes: sourceBytes)
            let product = locked.buffer(Scratch.product, bytes: padded * n * 4)
            switch precision {
            case .bf16, .fp32:
                if precision == .bf16 {
                    Quantization.roundToBFloat16(
                        x, count: rows * k, into: source.assumingMemoryBound(to: UInt16.self))
                } else {
                    source.assumingMemoryBound(to: Float.self).update(from: x, count: rows * k)
                }
                run(primitive, key, source: source, destination: product)
                let p = UnsafePointer(product.assumingMemoryBound(to: Float.self))
                if accumulate {
                    for i in 0..<(rows * n) { out[i] += p[i] }
                } else {
                    out.update(from: p, count: rows * n)
                }
            case .int8:
                let rowScales = locked.buffer(Scratch.sourceScales, bytes: padded * 4)
                    .assumingMemoryBound(to: Float.self)
                let zeros = locked.buffer(Scratch.sourceZeros, bytes: padded * 4)
                    .assumingMemoryBound(to: Int32.self)
                Quantization.quantizeActivations(
                    x, rows: rows, columns: k, into: source.assumingMemoryBound(to: Int8.self),
                    scales: rowScales, zeros: zeros)
                run(primitive, key, source: source, destination: product)
                rescale(
                    product, rows: rows, activationScales: rowScales, zeros: zeros, into: out,
                    accumulate: accumulate)
            }
        }
    }

    /// The context's scratch buffers a product uses (``DNNL/Context/Locked/buffer(_:bytes:)``).
    enum Scratch {
        /// The converted or quantized source rows, and their int8 scales.
        static let source = 0, sourceScales = 1
        /// The raw product (f32 or s32).
        static let product = 2
        /// A fused feed-forward's quantized hidden rows, their scales and the second product.
        static let hidden = 3, hiddenScales = 4, secondProduct = 5
        /// The int8 zero points of the source rows and of the hidden rows.
        static let sourceZeros = 6, hiddenZeros = 7
    }

    /// An int8 product's s32 rows (oneDNN's s8 × s8 sums) back to fp32 into `out` (added when
    /// `accumulate`): the activations' zero points taken off in place
    /// (``subtractZeros(_:rows:zeros:)``), then this weight's row scales as the column scales.
    func rescale(
        _ product: UnsafeMutableRawPointer, rows: Int, activationScales: UnsafePointer<Float>,
        zeros: UnsafePointer<Int32>, into out: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        subtractZeros(product, rows: rows, zeros: zeros)
        rowScales.withUnsafeBufferPointer { w in
            Quantization.rescale(
                product.assumingMemoryBound(to: Int32.self), rows: rows, columns: outFeatures,
                rowScales: activationScales, columnScales: w.baseAddress!, into: out,
                accumulate: accumulate)
        }
    }

    /// `product[m, n] −= zeros[m] · Σ_k w[n, k]` in place: oneDNN's s8 × s8 sums of asymmetric
    /// activation codes to the sums of `(q − zero) · w` (``int8ColumnSums``).
    func subtractZeros(_ product: UnsafeMutableRawPointer, rows: Int, zeros: UnsafePointer<Int32>) {
        int8ColumnSums.withUnsafeBufferPointer { sums in
            inpars_int8_subtract_zeros(
                product.assumingMemoryBound(to: Int32.self), rows, outFeatures, zeros, sums.baseAddress!)
        }
    }

    /// Runs `primitive` (the cached matmul of `key`) over the scratch source and destination.
    func run(
        _ primitive: dnnl_primitive_t, _ key: DNNL.Key, source: UnsafeMutableRawPointer,
        destination: UnsafeMutableRawPointer
    ) {
        let (sourceType, _, destinationType) = DNNL.types(key.precision)
        let sourceMemory = DNNL.memory(DNNL.plain(key.rows, key.inFeatures, sourceType), source)
        let destinationMemory = DNNL.memory(
            DNNL.plain(key.rows, key.outFeatures, destinationType), destination)
        defer {
            dnnl_memory_destroy(sourceMemory)
            dnnl_memory_destroy(destinationMemory)
        }
        DNNL.execute(
            primitive,
            [
                (DNNL.argumentSource, sourceMemory), (DNNL.argumentWeights, memory!),
                (DNNL.argumentDestination, destinationMemory),
            ])
    }
}
