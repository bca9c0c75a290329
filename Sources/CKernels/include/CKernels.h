// Hot float kernels in C, so they can use AVX2/AVX-512 chosen at run time: the Swift code is
// compiled for the baseline x86-64 (SSE2) and runs on any CPU. Every path of a kernel computes
// the same operations in the same order (no fused multiply-add, a fixed 16-lane reduction), so
// results are bit-identical whichever instruction set the machine has.
#ifndef INPARS_CKERNELS_H
#define INPARS_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction sets a kernel can run on; `inpars_kernels_isa()` says which one is used.
typedef enum {
    INPARS_ISA_GENERIC = 0,
    INPARS_ISA_AVX2 = 1,
    INPARS_ISA_AVX512 = 2,
} inpars_isa;

/// The best instruction set of this CPU that the kernels use (decided once).
inpars_isa inpars_kernels_isa(void);

/// The vector level of this CPU, as OpenBLAS's kernels need it: 3 = AVX-512 F/CD/BW/DQ/VL
/// (its SkylakeX kernels), 2 = AVX2 + FMA (Haswell), 1 = AVX (Sandybridge), 0 = less or not x86.
int inpars_cpu_vector_level(void);

/// In place over `row[0 ..< count]`: `row[j] = exp(row[j] - max) / sum`.
///
/// `exp` is the Cephes single-precision scheme (relative error about 1e-7) with inputs clamped
/// at -87; the denominator is summed in 16 lanes (lane l takes elements l, l + 16, …), the
/// lanes are added pairwise (l + 8, then + 4, + 2, + 1), then the tail past the last multiple
/// of 16 in order.
void inpars_softmax_row(float *row, size_t count);

/// ``inpars_softmax_row`` on a given instruction set (tests compare the paths bit for bit);
/// an ISA this CPU lacks falls back to the generic path.
void inpars_softmax_row_isa(float *row, size_t count, inpars_isa isa);

/// Statistics of one row of logits for picking a token: `argmax` (the first index of the
/// maximum), `maximum`, and `log_normaliser = maximum + log Σ exp(row[j] − maximum)` (so
/// `row[j] − log_normaliser` is the log-softmax). The sum is taken as in
/// ``inpars_softmax_row`` (16 lanes, pairwise, then the tail in order); `count` ≥ 1.
void inpars_row_statistics(
    const float *row, size_t count, size_t *argmax, float *maximum, float *log_normaliser);
/// ``inpars_row_statistics`` on a given instruction set (tests; AVX2 runs the generic code).
void inpars_row_statistics_isa(
    const float *row, size_t count, size_t *argmax, float *maximum, float *log_normaliser,
    inpars_isa isa);

/// Exact GELU in place, `x = 0.5·x·(1 + erf(x/√2))`, with `erf(z) = 1 − (a₁t + … + a₅t⁵)·
/// e^{−z²}`, `t = 1/(1 + p·|z|)` (Abramowitz & Stegun 7.1.26, absolute error ≤ 1.5e-7) on the
/// exp above; odd in z.
void inpars_gelu(float *x, size_t count);
/// ``inpars_gelu`` on a given instruction set (tests; AVX2 runs the generic code).
void inpars_gelu_isa(float *x, size_t count, inpars_isa isa);

/// The SwiGLU gate: `out[i] = silu(gate[i]) · linear[i]`, `silu(x) = x · σ(x)` with σ from
/// `e = exp(−|x|)` on the exp above (`1/(1+e)` for x ≥ 0, `e/(1+e)` below; no overflow).
void inpars_gated_silu(const float *gate, const float *linear, float *out, size_t count);
/// ``inpars_gated_silu`` on a given instruction set (tests; AVX2 runs the generic code).
void inpars_gated_silu_isa(
    const float *gate, const float *linear, float *out, size_t count, inpars_isa isa);

/// Quantizes each row of a `[rows, columns]` matrix to int8 with its own symmetric scale
/// `scales[r] = max|row| / levels`, `q = round(x · levels / max|row|)` (ties to even; an
/// all-zero row gets scale 0 and zeros). Finite inputs; `levels` ≤ 127.
void inpars_quantize_rows(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, float levels);

/// `out[m, n] (+)= (float)acc[m, n] · (columnScales[n] · rowScales[m])`: an int8 product's
/// s32 accumulators back to fp32.
void inpars_rescale(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, float *out, int accumulate);

/// The two kernels above on a given instruction set (for tests; AVX2 runs the generic code).
void inpars_quantize_rows_isa(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, float levels,
    inpars_isa isa);
void inpars_rescale_isa(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, float *out, int accumulate, inpars_isa isa);

/// Quantizes each activation row of a `[rows, columns]` matrix asymmetrically to 256 codes:
/// with `lo = min(0, min row)`, `hi = max(0, max row)`, `scales[r] = (hi − lo) / 255`,
/// `zeros[r] = round(−lo · 255 / (hi − lo)) − 128` (the s8 code of 0.0) and `q =
/// round(clamp(x · 255 / (hi − lo) + zeros[r], −128, 127))` (ties to even), so `x ≈
/// scales[r] · (q − zeros[r])`. An all-zero row gets scale 0, zero −128 and codes −128. A
/// one-sided row (ReLU outputs) uses all 256 codes. Finite inputs.
void inpars_quantize_activations(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, int32_t *zeros);
void inpars_quantize_activations_isa(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, int32_t *zeros,
    inpars_isa isa);

/// RMS-normalises and quantizes each row in one pass, for an int8 product whose input is
/// `rmsNorm(x) = x / √(mean(x²) + ε) · weight`: the codes and zero points of
/// ``inpars_quantize_activations`` of `x ⊙ weight`, and `scales[r] = (hi − lo) · (1 /
/// √(mean(x²) + ε)) / 255` (the norm's positive row factor moves into the scale; the codes do
/// not depend on it). The squares are summed in 16 lanes (lane l takes elements l, l + 16, …),
/// added pairwise, then the tail in order, so every path gives the same bits.
void inpars_rms_quantize_rows(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, int8_t *q,
    float *scales, int32_t *zeros);
void inpars_rms_quantize_rows_isa(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, int8_t *q,
    float *scales, int32_t *zeros, inpars_isa isa);

/// RMS normalisation of each row of a `[rows, columns]` matrix (T5LayerNorm / LlamaRMSNorm):
/// `out[r, i] = x[r, i] · (1 / √(Σ x[r]² / columns + ε)) · weight[i]`, the squares summed as
/// ``inpars_rms_quantize_rows`` sums them, so every path gives the same bits. `out` may be `x`.
void inpars_rms_normalize_rows(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, float *out);
void inpars_rms_normalize_rows_isa(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, float *out,
    inpars_isa isa);

/// An int8 product's s32 sums (zero points already taken off) through ReLU into the next
/// product's int8 input, in one pass: `t[m, n] = max(0, (float)acc[m, n] · columnScales[n])`,
/// quantized as ``inpars_quantize_activations`` does (lo = 0, so `zeros[m] = −128` and the
/// codes span −128 … 127), `scales[m] = max_n t[m, n] · rowScales[m] / 255` (the positive
/// activation scale of row m moves into the new scale).
void inpars_rescale_relu_quantize(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, int8_t *q, float *scales, int32_t *zeros);
void inpars_rescale_relu_quantize_isa(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, int8_t *q, float *scales, int32_t *zeros, inpars_isa isa);

/// `acc[m, c] −= zeros[m] · columnSums[c]`: an s8 × s8 product of asymmetric activation rows
/// (oneDNN's) to the sums of `(q − zero) · w`, which ``inpars_rescale`` takes.
void inpars_int8_subtract_zeros(
    int32_t *acc, size_t rows, size_t columns, const int32_t *zeros, const int32_t *columnSums);

/// The int8 matrix product behind inference-time linear layers (`int8gemm.c`): weights packed
/// once in panels of `INPARS_INT8_PANEL_COLUMNS` columns for AVX-512 VNNI (`vpdpbusd`), s8
/// activation codes shifted to u8 on the fly (`q + 128`), the shift and the row's zero point
/// taken off per element as `(128 + zeros[m]) · Σ_k w[c, k]`, exact s32 sums, and the rescale
/// of ``inpars_rescale`` in the register epilogue.
/// The AVX-512 VNNI and generic paths give the same bits (and the same s32 sums as any exact
/// s8 × s8 product).
#define INPARS_INT8_PANEL_COLUMNS 64

/// What the product writes: `out = rescaled` (f32), `out += rescaled` (f32), or the exact
/// s32 sums (`out` is then `int32_t *`; the scales are not read).
enum { INPARS_INT8_STORE = 0, INPARS_INT8_ADD = 1, INPARS_INT8_STORE_S32 = 2 };

/// Whether this CPU runs the VNNI path (AVX-512 F and VNNI with OS support).
int inpars_int8_has_vnni(void);

/// `k` rounded up to a multiple of 4 (the packed weights' depth).
size_t inpars_int8_padded_depth(size_t k);

/// Bytes of a packed `[n, k]` weight: `round_up(n, 16) · inpars_int8_padded_depth(k)`.
size_t inpars_int8_packed_bytes(size_t n, size_t k);

/// Packs a row-major s8 weight `w` `[n, k]` (PyTorch's `[out, in]`) into `packed`
/// (`inpars_int8_packed_bytes(n, k)` bytes) and writes `columnSums[c] = Σ_k w[c, k]` for the
/// `round_up(n, 16)` columns (0 for the padding).
void inpars_int8_pack(const int8_t *w, size_t n, size_t k, int8_t *packed, int32_t *columnSums);

/// `out[m, c] (+)= (float)Σ_k (a[m, k] − zeros[m]) · w[c, k] · (columnScales[c] ·
/// rowScales[m])`, or those s32 sums, for rows `0 ..< rows` and the columns of panels `panelFrom ..< panelTo` (columns
/// `64 · panelFrom ..< min(n, 64 · panelTo)`; pass 0 and `SIZE_MAX` for all).
///
/// - a: `[rows, k]` s8 codes, row stride `lda`; zeros: `[rows]`, each row's code of 0.0
///   (``inpars_quantize_activations``); out: `[rows, ldo]` f32 or s32.
/// Single-threaded; callers split rows or panels over threads (disjoint outputs).
void inpars_int8_gemm(
    const int8_t *a, size_t lda, size_t rows, size_t k, const int8_t *packed,
    const int32_t *columnSums, size_t n, size_t panelFrom, size_t panelTo,
    const int32_t *zeros, const float *rowScales, const float *columnScales, void *out,
    size_t ldo, int mode);
/// ``inpars_int8_gemm`` on a given instruction set (tests; AVX-512 without VNNI and AVX2 run
/// the generic code).
void inpars_int8_gemm_isa(
    const int8_t *a, size_t lda, size_t rows, size_t k, const int8_t *packed,
    const int32_t *columnSums, size_t n, size_t panelFrom, size_t panelTo,
    const int32_t *zeros, const float *rowScales, const float *columnScales, void *out,
    size_t ldo, int mode,
    inpars_isa isa);

/// The fp32 product of a few rows by a weight in oneDNN's packed `BA16a64b` layout
/// (`f32gemm.c`, used for decoding steps): panel `p` (columns `64p ..< 64p + 64`) starts
/// `p · panelStride` floats into `packed` and holds `[kp][64]` (depth `i`, column `c` at
/// `i · 64 + c`). Every path computes `fma(a[m, i], w[i, c], acc)` from zero in increasing `i`
/// and then stores `acc` or adds it to `out` once, so all paths give the same bits.
#define INPARS_F32_PANEL_COLUMNS 64
/// Rows the AVX-512 path keeps in flight over a panel (its partial sums, 16 KB, on the stack);
/// more rows run as groups of this many.
#define INPARS_F32_MAX_ROWS 64

/// Whether this CPU runs the AVX-512 path.
int inpars_f32_gemm_has_avx512(void);

/// `out[m, c] (+)= Σ_i a[m, i] · w[i, c]` for rows `0 ..< rows` and the columns of panels
/// `panelFrom ..< panelTo` (columns `64 · panelFrom ..< min(n, 64 · panelTo)`).
///
/// - a: `[rows, k]`, row stride `lda`; out: `[rows, ldo]`; `accumulate`: add instead of store.
/// Single-threaded; callers split the panels over threads (disjoint outputs).
void inpars_f32_gemm(
    const float *a, size_t lda, size_t rows, size_t k, const float *packed, size_t panelStride,
    size_t n, size_t panelFrom, size_t panelTo, float *out, size_t ldo, int accumulate);
/// ``inpars_f32_gemm`` on a given instruction set (tests; AVX2 runs the generic code).
void inpars_f32_gemm_isa(
    const float *a, size_t lda, size_t rows, size_t k, const float *packed, size_t panelStride,
    size_t n, size_t panelFrom, size_t panelTo, float *out, size_t ldo, int accumulate,
    inpars_isa isa);

/// Where one operand of multi-head attention lives (elements): head `h` of batch entry `b`,
/// position `i` starts at `b·batch_stride + offset + h·head_dim + i·row_stride`.
typedef struct {
    size_t row_stride;
    size_t batch_stride;
    size_t offset;
} inpars_head_layout;

/// One inference attention call: `out = softmax(scale · q·kᵀ + bias) · v` per (batch entry,
/// query head), query head `h` reading key/value head `h / (num_heads / num_kv_heads)`.
typedef struct {
    size_t batch, num_heads, num_kv_heads, head_dim, query_length, key_length;
    inpars_head_layout queries, keys, values, output;
    /// Per batch entry, keys `0 ..< visible_keys[b]` are real (capped at `key_length`).
    const int64_t *visible_keys;
    /// Non-zero: query row `i` sees keys `0 ... causal_offset + i` only.
    int causal;
    int64_t causal_offset;
    float scale;
    /// `[num_heads, bias_width]`, the bias of row `i`, key `j`, head `h` at `h·bias_width +
    /// (query_length − 1 − i) + j` (a relative-offset bias), or NULL.
    const float *bias;
    size_t bias_width;
    /// Keys and values every batch entry shares (a forked prompt prefix, stored once), or
    /// NULL: key `j < shared_lengths[b]` of entry `b` is row `j` of `shared_keys` /
    /// `shared_values` (layout `shared`, its batch stride unused), key `j ≥ shared_lengths[b]`
    /// row `j − shared_lengths[b]` of the entry's own `keys` / `values`.
    const float *shared_keys;
    const float *shared_values;
    inpars_head_layout shared;
    const int64_t *shared_lengths;
    /// The own keys again, unscaled, in the AVX-512 path's blocks (see
    /// ``inpars_attention_pack_keys``), unit (b, kv) at `packed_keys + (b·num_kv_heads + kv) ·
    /// packed_unit_stride`; or NULL to pack them at each call. Likewise the shared keys, key/value
    /// head `kv` at `shared_packed_keys + kv · shared_packed_unit_stride`. The generic path
    /// reads the rows only.
    const float *packed_keys;
    size_t packed_unit_stride;
    const float *shared_packed_keys;
    size_t shared_packed_unit_stride;
} inpars_attention;

/// Whether the attention forward reads packed keys for heads of `head_dim` on this CPU.
int inpars_attention_reads_packed_keys(size_t head_dim);
/// Writes keys `first ..< first + count` of one key/value head (`keys` points at key `first`,
/// rows `row_stride` apart, `head_dim` values each) into `packed`, the head's blocks of 64 keys
/// stored `[head_dim, 64]` (key `j`, dimension `c` at `(j / 64)·head_dim·64 + c·64 + j % 64`).
void inpars_attention_pack_keys(
    const float *keys, size_t row_stride, size_t first, size_t count, size_t head_dim,
    float *packed);

/// The attention forward for inference, fused: per (batch entry, key/value head) unit the
/// group's query heads are stacked (rows ordered position, head) and taken against blocks of
/// 64 keys with an online softmax (running maximum and sum per row), the context accumulated
/// in L1, so no score matrix is written. Runs the units `worker, worker + workers, …` (each
/// output row is written by one unit). A row that sees no key gets zeros. The AVX-512 path
/// (head_dim a multiple of 16) uses fused multiply-adds; the generic path an exact two-pass
/// softmax; they agree to float rounding (about 1e-6 relative), not bit for bit.
void inpars_attention_forward(
    const inpars_attention *attention, const float *queries, const float *keys,
    const float *values, float *output, size_t worker, size_t workers);
/// ``inpars_attention_forward`` on a given instruction set (tests; AVX2 runs the generic code).
void inpars_attention_forward_isa(
    const inpars_attention *attention, const float *queries, const float *keys,
    const float *values, float *output, size_t worker, size_t workers, inpars_isa isa);

/// glibc's allocator keeps blocks up to 256 MiB on the heap (reused, no page fault per first
/// touch) and returns freed memory only above 1 GiB of slack; does nothing elsewhere.
void inpars_keep_large_allocations(void);

/// BM25 posting blocks (`postings.c`, InparsBM25's `PostingBlocks`): up to
/// `INPARS_POSTING_BLOCK` postings, three bit-packed arrays (least-significant bit first,
/// widths 0–32; a width of 0 stores nothing and every value is 0).
#define INPARS_POSTING_BLOCK 128

/// One block: its arrays of document offsets from `base`, `tf − 1` and `norm − min_norm`.
typedef struct {
    const uint8_t *docs;
    const uint8_t *tfs;
    const uint8_t *norms;
    uint32_t count;
    uint32_t base;
    uint32_t min_norm;
    uint32_t doc_bits;
    uint32_t tf_bits;
    uint32_t norm_bits;
} inpars_posting_block;

/// How one query term scores a posting: `table[(tf − 1)·256 + norm]` for tf = 1 … `table_tf`
/// (the term's tabulated scores), above that `weight − weight / (1 + (float)tf · cache[norm])`
/// (float operations in that order, no fused multiply-add).
typedef struct {
    const float *table;
    uint32_t table_tf;
    float weight;
    const float *cache;
} inpars_term_scorer;

/// `out[i] = add + value i` for the `count` values of `bits` bits (0 … 32) packed at `packed`
/// (wrapping modulo 2^32). Reads no byte past the last value's.
void inpars_unpack_bits(
    const uint8_t *packed, size_t count, unsigned bits, uint32_t add, uint32_t *out);
void inpars_unpack_bits_isa(
    const uint8_t *packed, size_t count, unsigned bits, uint32_t add, uint32_t *out,
    inpars_isa isa);

/// `scores[i]` = the term's score of a posting with `tfs[i]` (≥ 1) and `norms[i]` (< 256).
void inpars_score_postings_isa(
    const uint32_t *tfs, const uint32_t *norms, size_t count, const inpars_term_scorer *scorer,
    float *scores, inpars_isa isa);

/// Decodes a block (`count` ≤ `INPARS_POSTING_BLOCK`): `docs[i]` its documents, `scores[i]`
/// their term scores.
void inpars_decode_block(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, uint32_t *docs,
    float *scores);
void inpars_decode_block_isa(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, uint32_t *docs,
    float *scores, inpars_isa isa);

/// Documents per range bound of InparsBM25's index, as a shift: range `r` is documents
/// `r << INPARS_RANGE_SHIFT ..< (r + 1) << INPARS_RANGE_SHIFT` (`IndexFormat.rangeShift`).
#define INPARS_RANGE_SHIFT 4

/// One look-up step of InparsBM25's windowed search over `count` candidates (window offsets
/// `offsets[c]` in ascending order, score bounds `bounds[c]`) for a term whose scores are
/// recorded in `slots` (per offset: `generation << 32 | float bits`, absent when the
/// generation differs): `bound = (bounds[c] − drop) + score` with
/// `drop = drops[(offsets[c] + phase) >> INPARS_RANGE_SHIFT] · scale` (score 0 when absent;
/// `drops` holds the term's bound per range in units of `scale`, readable one unit past the
/// last range, the window starting `phase` documents into its first range), and the
/// candidates with `bound > cutoff` are kept, compacted to the front in order with their new
/// bounds. Returns how many are kept.
size_t inpars_refine_candidates(
    uint16_t *offsets, double *bounds, size_t count, const uint64_t *slots, uint64_t generation,
    const uint16_t *drops, double scale, uint32_t phase, double cutoff);
size_t inpars_refine_candidates_isa(
    uint16_t *offsets, double *bounds, size_t count, const uint64_t *slots, uint64_t generation,
    const uint16_t *drops, double scale, uint32_t phase, double cutoff, inpars_isa isa);

/// The largest of `count` bytes (0 when `count` is 0): a term's largest range bound byte in
/// a window of InparsBM25's windowed search.
uint8_t inpars_max_byte(const uint8_t *bytes, size_t count);
uint8_t inpars_max_byte_isa(const uint8_t *bytes, size_t count, inpars_isa isa);

/// One term's bounds in the `count` ranges of a window, in units: `v = table[bytes[r]]`,
/// `out[r] = v` and `sum[r] += v` (each skipped when its pointer is NULL; the caller keeps
/// the sums below 65,536).
void inpars_range_units(
    const uint8_t *bytes, size_t count, const uint16_t *table, uint16_t *out, uint16_t *sum);
void inpars_range_units_isa(
    const uint8_t *bytes, size_t count, const uint16_t *table, uint16_t *out, uint16_t *sum,
    inpars_isa isa);

/// Which ranges of a window can hold a candidate (InparsBM25's windowed search), in units:
/// `live[r] = own[r] + sum[r] > cutoff` for the `ranges` ranges (`own`: the essential terms'
/// range bounds, `sum`: the non-essential ones'); `bits` (`(ranges + 63) / 64` words) gets
/// the same as bits, range `r` at bit `r % 64` of word `r / 64`; `sums[r] = sum[r] · scale`.
/// Returns how many are live.
uint32_t inpars_live_ranges(
    const uint16_t *own, const uint16_t *sum, size_t ranges, int32_t cutoff, double scale,
    double *sums, uint8_t *live, uint64_t *bits);
uint32_t inpars_live_ranges_isa(
    const uint16_t *own, const uint16_t *sum, size_t ranges, int32_t cutoff, double scale,
    double *sums, uint8_t *live, uint64_t *bits, inpars_isa isa);

/// A window of InparsBM25's windowed search, for `inpars_essential_block`: documents
/// `from ..< to`, starting `phase` documents into its first range; per range, whether
/// it is live (`live`, a byte each, readable 3 bytes past the last range: it is read by
/// 32-bit gathers) and the non-essential terms' bounds summed (`sums`); the score a bound must
/// exceed; the generation recorded with scores.
typedef struct {
    uint32_t from;
    uint32_t to;
    uint32_t phase;
    const uint8_t *live;
    const double *sums;
    double cutoff;
    uint64_t generation;
} inpars_essential_window;

/// The candidates of a window among one block of its one essential term: the postings from
/// position `begin` with documents below `window->to` (at least `window->from`) whose range
/// is live are scored, and a posting whose bound
/// `(double)score + sums[(o + phase) >> INPARS_RANGE_SHIFT]` (`o = doc − from`) is above the
/// cutoff has its score recorded (`slots[o] = generation << 32 | float bits`) and is appended
/// at `candidates[*count]`, `bounds[*count]` (`*count` updated). Postings in ranges that are
/// not live are not scored: none of them can pass (their range bound plus the sum is not
/// above the cutoff). Returns the position of the
/// first posting whose document is ≥ `window->to` (the block's count when there is none).
size_t inpars_essential_block(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *window, uint64_t *slots, uint16_t *candidates, double *bounds,
    size_t *count);
size_t inpars_essential_block_isa(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *window, uint64_t *slots, uint16_t *candidates, double *bounds,
    size_t *count, inpars_isa isa);

/// One of several essential terms of a window, straight from a block: its postings from
/// position `begin` with documents below `window->to` (at least `window->from`) in live ranges
/// are scored, recorded (`slots[o] = generation << 32 | float bits`, `o = doc − from`) and
/// added to the window's sums: `partial[o] = (bit o of matched set ? partial[o] : 0) + score`,
/// then the bit is set. (`window->sums` and `cutoff` are not used.) Returns the position of the
/// first posting whose document is ≥ `window->to` (the block's count when there is none).
size_t inpars_accumulate_block(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *window, uint64_t *slots, double *partial, uint64_t *matched);
size_t inpars_accumulate_block_isa(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *window, uint64_t *slots, double *partial, uint64_t *matched,
    inpars_isa isa);

/// Asks the CPU to bring the 4 cache lines from `address` in (a hint: it never faults).
static inline void inpars_prefetch_lines(const void *address) {
    const char *p = (const char *)address;
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + 128);
    __builtin_prefetch(p + 192);
}

/// Whether the posting kernels run their AVX-512 path here (AVX-512 F/BW/DQ and VBMI, for
/// `vpermb`); the generic path gives the same values.
int inpars_postings_vectorized(void);

/// Continues zlib's CRC-32 `*crc` over the longest prefix of `bytes` that this CPU folds with
/// carry-less multiplication (`crc32.c`: PCLMULQDQ; a multiple of 16 bytes, at least 64) and
/// returns its length; 0 (nothing done) without PCLMULQDQ or below 64 bytes. The caller
/// finishes the rest with zlib's `crc32`.
size_t inpars_crc32_prefix(uint32_t *crc, const uint8_t *bytes, size_t length);

/// Sorts `count` 64-bit keys into descending order (`sortkeys.c`: LSD radix passes on the high
/// 32 bits, then runs of equal high bits on the low 32); `scratch` holds `count` keys.
/// Counts below 2^32.
void inpars_sort_keys_descending(uint64_t *keys, size_t count, uint64_t *scratch);

/// Radix select: afterwards the `k` largest of `a[0..<count]` are in `a[0..<k]` (any order; the
/// rest of `a` is overwritten). Most significant varying bits first, 11 at a time: a histogram
/// of that digit finds the bucket holding the k-th largest key, keys above it go to the front,
/// the bucket's keys are narrowed on the next digit, and a few left are sorted. Equal keys are
/// fine. `scratch` holds `count` keys; counts below 2^32.
void inpars_select_largest(uint64_t *a, size_t count, size_t k, uint64_t *scratch);

/// The scores as Anserini's `ScoreTiesAdjusterReranker` writes them (`runlines.c`,
/// InparsBM25's `BM25BatchSearch.writtenScores`): `scores[i · stride]`, already ranked, rounded
/// to 4 decimals by `Math.round(s * 1e4f) / 1e4f` (floor(x + 0.5) in float), and the j-th
/// score in a row within 1e-4 of the previous written one lowered by j·1e-6, into `out[i]`.
void inpars_anserini_scores(const float *scores, size_t stride, size_t count, float *out);

/// TREC run lines (`runlines.c`, InparsCore's `RunLineBuffer`).
///
/// The most decimals a score may ask for, and the most bytes a score's text then takes
/// (sign, 309 integer digits of the largest double, point, decimals).
#define INPARS_FIXED_DECIMALS_MAX 40
#define INPARS_FIXED_MAX 351 /* 1 + 309 + 1 + INPARS_FIXED_DECIMALS_MAX */

/// Writes `value` as printf's `"%.<decimals>f"` (decimals ≤ INPARS_FIXED_DECIMALS_MAX) and
/// returns the bytes written (at most INPARS_FIXED_MAX; no terminating zero).
size_t inpars_write_fixed(double value, unsigned decimals, uint8_t *out);

/// The fixed parts of a run's lines: the query id, the run tag, the score's decimals.
typedef struct {
    const uint8_t *query_id;
    size_t query_id_length;
    const uint8_t *tag;
    size_t tag_length;
    unsigned decimals;
} inpars_run_line_format;

/// The most bytes a line takes besides its query id, document id and tag.
#define INPARS_RUN_LINE_EXTRA 380 /* " Q0 ", space, sign and 20 digits, space, score, space, newline */

/// Writes `qid Q0 doc_id rank score tag\n`; returns the bytes written.
size_t inpars_format_run_line(
    const inpars_run_line_format *format, const uint8_t *doc_id, size_t doc_id_length,
    int64_t rank, double score, uint8_t *out);

/// Writes `count` lines: line i has document `documents[i · document_stride]` (its id is
/// `id_bytes[id_offsets[d] ..< id_offsets[d + 1]]`), rank `first_rank + i` and score
/// `scores[i]`. Returns the bytes written.
size_t inpars_format_run_lines(
    const inpars_run_line_format *format, const int32_t *documents, size_t document_stride,
    const float *scores, size_t count, int64_t first_rank, const uint64_t *id_offsets,
    const uint8_t *id_bytes, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif
