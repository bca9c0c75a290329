internal import CDNNL
import Foundation

/// The one door to oneDNN (`libdnnl`, 2.x C API): the bf16 and int8 matrix products of
/// inference-time linear layers (``PackedLinearWeight``). fp32 and training stay on
/// ``BLAS``.
///
/// One CPU engine and one stream serve the process. A matmul primitive is created once per
/// (precision, rows, in, out) and kept in a small cache (row counts are bucketed by
/// ``PackedLinearWeight``, so a weight needs a bounded number of them); its weights argument is
/// the layout oneDNN chose for the weight at load (``PackedLinearWeight``), which is the same
/// for every row count (checked on oneDNN 2.6: brgemm keeps one blocked layout for all `M`).
/// Calls are serialised by one lock: a primitive's scratchpad belongs to the primitive, so one
/// primitive must not run twice at once, and the product is itself multi-threaded (OpenMP,
/// ``BLAS/threads`` threads).
enum DNNL {
    /// What a cached primitive computes.
    struct Key: Hashable {
        var precision: Precision
        var rows: Int
        var inFeatures: Int
        var outFeatures: Int
        /// The product is added to the destination (a `sum` post-op, `beta = 1`).
        var accumulates = false
    }

    static let context = Context()

    /// The engine, the stream and the primitive cache.
    final class Context: @unchecked Sendable {
        // Invariant: `cache` and `order` are only used while `lock` is held; the engine and
        // stream are created once and never change.
        let engine: dnnl_engine_t
        let stream: dnnl_stream_t
        private let lock = NSLock()
        private var cache = [Key: dnnl_primitive_t]()
        private var order = [Key]()
        /// Primitives kept: a model has about six linear shapes per stack, each with at most 21
        /// row counts (``PackedLinearWeight/paddedRows(_:)``: 1, 2, 4, 8, then multiples of 16
        /// up to ``PackedLinearWeight/chunkRows``).
        static let capacity = 512

        init() {
            var engine: dnnl_engine_t?
            DNNL.check(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create")
            var stream: dnnl_stream_t?
            DNNL.check(
                dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue),
                "dnnl_stream_create")
            self.engine = engine!
            self.stream = stream!
        }

        /// Grow-only scratch memory for the products' converted sources, activation scales
        /// and raw outputs (used under the lock only; 64-byte aligned), by index.
        private var scratch: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []

        /// What `withLock`'s body may use while it holds the lock.
        struct Locked {
            fileprivate let context: Context

            /// The primitive for `key`, created on first use (its weights in `weights`, the
            /// layout the weight was packed in).
            func primitive(_ key: Key, weights: dnnl_memory_desc_t) -> dnnl_primitive_t {
                context.primitive(key, weights: weights)
            }

            /// Scratch buffer `index` of at least `bytes` bytes (64-byte aligned), valid until
            /// the lock is released; it starts with whatever an earlier call left in it.
            func buffer(_ index: Int, bytes: Int) -> UnsafeMutableRawPointer {
                context.buffer(index, bytes: bytes)
            }
        }

        /// Runs `body` under the lock with oneDNN's OpenMP threads set to ``BLAS/threads``:
        /// the products' primitives and scratch buffers are used there only.
        func withLock<R>(_ body: (Locked) -> R) -> R {
            lock.lock()
            defer { lock.unlock() }
            // OpenMP's thread count is a per-thread setting: set it on the calling thread.
            DNNL.setOpenMPThreads?(Int32(BLAS.threads))
            return body(Locked(context: self))
        }

        private func primitive(_ key: Key, weights: dnnl_memory_desc_t) -> dnnl_primitive_t {
            if let cached = cache[key] { return cached }
            let primitive = DNNL.makeMatmul(key, weights: weights, engine: engine)
            if order.count == Self.capacity {
                let evicted = order.removeFirst()
                dnnl_primitive_destroy(cache.removeValue(forKey: evicted))
            }
            cache[key] = primitive
            order.append(key)
            return primitive
        }

        /// Scratch buffer `index`, grown (zero-filled) to at least `bytes`.
        private func buffer(_ index: Int, bytes: Int) -> UnsafeMutableRawPointer {
            while scratch.count <= index {
                scratch.append((UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64), 64))
            }
            if scratch[index].bytes < bytes {
                scratch[index].pointer.deallocate()
                let pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
                pointer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
                scratch[index] = (pointer, bytes)
            }
            return scratch[index].pointer
        }

        /// Runs `body` under the lock (a reorder at load shares the stream with the products).
        func locked<R>(_ body: () -> R) -> R {
            lock.lock()
            defer { lock.unlock() }
            return body()
        }

        /// How many primitives the cache holds (tests).
        var cachedPrimitives: Int {
            lock.lock()
            defer { lock.unlock() }
            return cache.count
        }
    }

    /// The data types of (source, weights, destination) for a precision.
    static func types(_ precision: Precision) -> (dnnl_data_type_t, dnnl_data_type_t, dnnl_data_type_t) {
        switch precision {
        case .fp32: (dnnl_f32, dnnl_f32, dnnl_f32)
        case .bf16: (dnnl_bf16, dnnl_bf16, dnnl_f32)
        case .int8: (dnnl_s8, dnnl_s8, dnnl_s32)
        }
    }

    /// A plain row-major 2-D memory descriptor.
    static func plain(_ rows: Int, _ columns: Int, _ type: dnnl_data_type_t, transposed: Bool = false)
        -> dnnl_memory_desc_t
    {
        var desc = dnnl_memory_desc_t()
        let dims: [Int64] = [Int64(rows), Int64(columns)]
        check(
            dnnl_memory_desc_init_by_tag(&desc, 2, dims, type, transposed ? dnnl_ba : dnnl_ab),
            "dnnl_memory_desc_init_by_tag")
        return desc
    }

    /// A matmul primitive descriptor `[rows, in] · [in, out]` with the weights in `weights`
    /// (a concrete layout, or `format_kind any` to let oneDNN choose). The caller destroys it.
    static func matmulDescriptor(
        _ key: Key, weights: dnnl_memory_desc_t, engine: dnnl_engine_t
    ) -> dnnl_primitive_desc_t {
        let (sourceType, _, destinationType) = types(key.precision)
        var source = plain(key.rows, key.inFeatures, sourceType)
        var destination = plain(key.rows, key.outFeatures, destinationType)
        var weights = weights
        var operation = dnnl_matmul_desc_t()
        check(
            dnnl_matmul_desc_init(&operation, &source, &weights, nil, &destination),
            "dnnl_matmul_desc_init")
        var attributes: dnnl_primitive_attr_t?
        if key.accumulates {
            var postOps: dnnl_post_ops_t?
            check(dnnl_primitive_attr_create(&attributes), "dnnl_primitive_attr_create")
            check(dnnl_post_ops_create(&postOps), "dnnl_post_ops_create")
            check(dnnl_post_ops_append_sum(postOps, 1), "dnnl_post_ops_append_sum")
            check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "dnnl_primitive_attr_set_post_ops")
            dnnl_post_ops_destroy(postOps)
        }
        defer { if let attributes { dnnl_primitive_attr_destroy(attributes) } }
        var descriptor: dnnl_primitive_desc_t?
        check(
            dnnl_primitive_desc_create(&descriptor, &operation, attributes, engine, nil),
            "dnnl_primitive_desc_create (matmul \(key))")
        return descriptor!
    }

    static func makeMatmul(_ key: Key, weights: dnnl_memory_desc_t, engine: dnnl_engine_t)
        -> dnnl_primitive_t
    {
        let descriptor = matmulDescriptor(key, weights: weights, engine: engine)
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var primitive: dnnl_primitive_t?
        check(dnnl_primitive_create(&primitive, descriptor), "dnnl_primitive_create")
        return primitive!
    }

    /// A memory object over caller-owned storage (no copy; destroyed by the caller).
    static func memory(_ desc: dnnl_memory_desc_t, _ pointer: UnsafeRawPointer) -> dnnl_memory_t {
        var desc = desc
        var memory: dnnl_memory_t?
        check(
            dnnl_memory_create(&memory, &desc, context.engine, UnsafeMutableRawPointer(mutating: pointer)),
            "dnnl_memory_create")
        return memory!
    }

    /// Executes `primitive` on the process stream and waits for it.
    static func execute(_ primitive: dnnl_primitive_t, _ arguments: [(Int32, dnnl_memory_t)]) {
        var args = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
        check(
            dnnl_primitive_execute(primitive, context.stream, Int32(args.count), &args),
            "dnnl_primitive_execute")
        check(dnnl_stream_wait(context.stream), "dnnl_stream_wait")
    }

    /// oneDNN failing on shapes this module built is a programming error, not a user's.
    static func check(_ status: dnnl_status_t, _ call: @autoclosure () -> String) {
        precondition(status == dnnl_success, "oneDNN: \(call()) failed with status \(status.rawValue)")
    }

    /// `omp_set_num_threads` of the OpenMP runtime libdnnl runs on (Debian's is built with
    /// `DNNL_CPU_RUNTIME=OMP` and loads libgomp), looked up at run time: the unversioned
    /// `libgomp.so` link name lives in GCC's private folder, so the module cannot link it.
    /// `nil` (threads left to `OMP_NUM_THREADS`) for a oneDNN built on another runtime.
    static let setOpenMPThreads: (@convention(c) (Int32) -> Void)? = {
        // RTLD_DEFAULT: every library loaded into the process.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_set_num_threads")
        else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Void).self)
    }()

    static let argumentSource = Int32(DNNL_ARG_SRC)
    static let argumentWeights = Int32(DNNL_ARG_WEIGHTS)
    static let argumentDestination = Int32(DNNL_ARG_DST)
}

/// What oneDNN runs on this machine, for benchmark and `--help`-adjacent reports.
public enum DNNLInfo {
    /// `nil` when oneDNN is loaded (it is loaded on first use, here if need be: see
    /// `Sources/CDNNL/include/cdnnl.h`), else why it cannot be: model loaders check this before they
    /// convert anything (`ModelError.requireSupported`).
    public static var loadFailure: String? { cdnnl_load_failure().map { String(cString: $0) } }

    /// The instruction set oneDNN dispatches to (`avx512_core_vnni`, `avx2`, …), after any
    /// `DNNL_MAX_CPU_ISA` limit in the environment.
    public static var effectiveISA: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_sse41: "sse41"
        case dnnl_cpu_isa_avx: "avx"
        case dnnl_cpu_isa_avx2: "avx2"
        case dnnl_cpu_isa_avx2_vnni: "avx2_vnni"
        case dnnl_cpu_isa_avx512_core: "avx512_core"
        case dnnl_cpu_isa_avx512_core_vnni: "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core_bf16: "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_amx: "avx512_core_amx"
        case let other: "isa 0x\(String(other.rawValue, radix: 16))"
        }
    }

    /// Whether oneDNN's int8 kernels use VNNI (`vpdpbusd`, exact s32 sums of u8 × s8 pairs).
    public static var hasVNNI: Bool {
        [dnnl_cpu_isa_avx512_core_vnni, dnnl_cpu_isa_avx512_core_bf16, dnnl_cpu_isa_avx512_core_amx,
         dnnl_cpu_isa_avx2_vnni].contains(dnnl_get_effective_cpu_isa())
    }

    /// Whether oneDNN multiplies bf16 with the CPU's own bf16 instructions (AVX512-BF16 or
    /// AMX). Without them a bf16 product is oneDNN's emulation, slower than fp32: bf16 then
    /// saves memory only.
    public static var hasNativeBF16: Bool {
        [dnnl_cpu_isa_avx512_core_bf16, dnnl_cpu_isa_avx512_core_amx].contains(dnnl_get_effective_cpu_isa())
    }

    /// The largest |q| of an int8 weight: 127 with VNNI, else 63. Without VNNI oneDNN
    /// multiplies with `vpmaddubsw`, which adds two u8 × s8 products into a saturating s16
    /// (s8 activations are shifted to u8): `2 · 255 · 127` overflows it, `2 · 255 · 63` does
    /// not. Weights keep 7 bits there, as oneDNN's int8 guide and FBGEMM's `reduce_range` do.
    /// Read once: the ISA cannot change during a run.
    public static let int8WeightLevels = hasVNNI ? 127 : 63

    /// Whether oneDNN can multiply at `precision` on this CPU (oneDNN 2.6 has no bf16 matmul
    /// below AVX-512; int8 and f32 run everywhere). Loaders check it before converting, since
    /// a conversion oneDNN cannot do is a programming error past that point.
    public static func supports(_ precision: Precision) -> Bool {
        if precision == .fp32 { return true }
        let key = DNNL.Key(precision: precision, rows: 16, inFeatures: 64, outFeatures: 64)
        let (sourceType, _, destinationType) = DNNL.types(precision)
        var source = DNNL.plain(16, 64, sourceType)
        var destination = DNNL.plain(16, 64, destinationType)
        var weights = PackedLinearWeight.anyLayout(key)
        var operation = dnnl_matmul_desc_t()
        guard dnnl_matmul_desc_init(&operation, &source, &weights, nil, &destination) == dnnl_success
        else { return false }
        var descriptor: dnnl_primitive_desc_t?
        let status = dnnl_primitive_desc_create(
            &descriptor, &operation, nil, DNNL.context.engine, nil)
        if let descriptor { dnnl_primitive_desc_destroy(descriptor) }
        return status == dnnl_success
    }

    /// Whether int8 products run on our AVX-512 VNNI kernel (`Int8Panels`) rather than on
    /// oneDNN's matmul: on CPUs with VNNI unless `INPARS_INT8_GEMM=onednn`.
    public static var int8RunsOnInparsKernel: Bool { Int8Panels.isAvailable }

    /// The library's version, `major.minor.patch`.
    public static var version: String {
        guard let v = dnnl_version()?.pointee else { return "unknown" }
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    /// The implementation oneDNN picks for a `[rows, in] · [in, out]` product at `precision`
    /// (`brg:avx512_core_vnni`, `gemm:jit`, …): what the benchmarks report beside the figures.
    public static func implementation(
        precision: Precision, rows: Int, inFeatures: Int, outFeatures: Int
    ) -> String {
        let key = DNNL.Key(
            precision: precision, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        let weights = PackedLinearWeight.anyLayout(key)
        let descriptor = DNNL.matmulDescriptor(key, weights: weights, engine: DNNL.context.engine)
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var name: UnsafePointer<CChar>?
        DNNL.check(
            dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name),
            "dnnl_primitive_desc_query")
        return name.map { String(cString: $0) } ?? "unknown"
    }

    /// Primitives held by the cache (tests check that repeated shapes reuse them).
    public static var cachedPrimitives: Int { DNNL.context.cachedPrimitives }
}
