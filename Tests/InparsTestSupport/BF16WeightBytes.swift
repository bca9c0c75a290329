/// The bytes linear weights converted to bf16 hold, from their shapes and the instruction set
/// oneDNN runs on (`DNNLInfo.effectiveISA`), worked out here rather than read from the
/// converted weights: the layout is oneDNN's choice, and on CPUs with bf16 instructions it pads.
///
/// `PackedLinearWeight` asks oneDNN 2.6's matmul for its preferred weights layout
/// (`format_tag any`, 64 rows) and holds exactly that memory (`dnnl_memory_desc_get_size`).
/// Which implementation answers is `src/cpu/matmul/cpu_matmul_list.cpp`; brgemm's layouts are
/// `pick_blocked_B_layout` and `init_brgemm_matmul_conf` in
/// `src/cpu/x64/matmul/brgemm_matmul_utils.cpp` (tag v2.6.3):
///
/// - Without AVX512-BF16 (`avx512_core`, `avx512_core_vnni`): bf16 is emulated by
///   `gemm_bf16_matmul_t` (`gemm:jit`), which keeps the plain `ab` layout: 2 bytes a weight.
/// - With AVX512-BF16 (`avx512_core_bf16`: Cooper Lake, Zen 4): `brgemm_matmul_t`
///   (`brg:avx512_core_bf16`) takes `BA16a64b2a`: the weight, seen as `[in, out]`, in blocks of
///   32 inputs × 64 outputs with pairs of inputs side by side (what `vdpbf16ps` reads), so
///   `in` is padded with zeros to a multiple of 32 and `out` to a multiple of 64. The block
///   stays 64 at every width: the configuration narrows it to the heuristic's `N_blk` only
///   when `out >= 64` (`IMPLICATION(N == N_blk, N >= wei_n_blk)`), and for 64 rows the
///   AVX-512 heuristic keeps `N_blk = min(64, out)` (it narrows to 32 below 41 rows only).
/// - With AMX (`avx512_core_amx`; not run on our machines): the same `BA16a{n}b2a` family, `n`
///   one of 16, 32, 48, 64 as the AMX heuristic picks it for the thread count: a range.
///
/// Checked on Zen 4 (`avx512_core_bf16`) and with `ONEDNN_MAX_CPU_ISA=AVX512_CORE` by printing
/// the descriptors' padded dimensions, inner blocks and sizes for the fixtures' shapes. Real
/// layers (`out` a multiple of 64, `in` of 32) hold 2 bytes a weight in every layout; the
/// fixtures' 32- and 48-wide layers and 1005-row heads hold more where the weights are blocked.
public enum BF16WeightBytes {
    /// The bytes of bf16 weights shaped `[out, in]` each, summed, on `isa`: one value unless
    /// the layout depends on a heuristic (AMX).
    public static func of(_ shapes: [[Int]], isa: String) -> ClosedRange<Int> {
        let blocks = outputBlocks(isa: isa)
        var low = 0, high = 0
        for shape in shapes {
            precondition(shape.count == 2, "a linear weight is [out, in], got \(shape)")
            let (out, `in`) = (shape[0], shape[1])
            guard let blocks else {
                low += 2 * out * `in`
                high += 2 * out * `in`
                continue
            }
            let sizes = blocks.map { 2 * roundUp(`in`, 32) * roundUp(out, $0) }
            low += sizes.min()!
            high += sizes.max()!
        }
        return low...high
    }

    /// The output blocks oneDNN may pad to on `isa`; nil for the plain layout.
    static func outputBlocks(isa: String) -> [Int]? {
        if isa == "avx512_core_bf16" { return [64] }
        if isa.hasPrefix("avx512_core_amx") { return [16, 32, 48, 64] }
        return nil
    }

    static func roundUp(_ value: Int, _ multiple: Int) -> Int {
        (value + multiple - 1) / multiple * multiple
    }
}
