// Fused multi-head attention forward for inference (flash-attention style); see CKernels.h for
// the contract. Unlike the other kernels, the AVX-512 and generic paths are not bit-identical:
// the AVX-512 path uses fused multiply-adds, a polynomial 2^x on log2-scaled scores and an
// online softmax over key blocks, the generic path an exact two-pass softmax per row; tests
// bound their difference.
#include "CKernels.h"

#include "exp.h"

#include <stdlib.h>
#include <string.h>

/// Keys per block of the AVX-512 path (4 vectors of scores per row).
#define KEY_BLOCK 64
/// Query rows sharing one pass over the keys' registers (4 rows × 4 vectors of scores).
#define MICRO_ROWS 4
/// Query rows whose running output stays in L1 while a key block is reused across them.
#define MACRO_ROWS 16
/// Start of every running maximum: finite, so `exp(old − new)` never sees `−∞ − (−∞)`.
#define NO_MAXIMUM (-1.0e30f)

/// One query row of a unit: where it reads and writes and how many keys it sees.
typedef struct {
    const float *query;
    float *output;
    /// The bias of this row's head and position, indexed by key; NULL for none.
    const float *bias;
    size_t visible;
} attention_row;

/// Keys row `position` of an entry with `columns` real keys sees (causality as a limit).
static size_t row_visible(const inpars_attention *a, size_t columns, size_t position) {
    if (!a->causal) return columns;
    int64_t limit = a->causal_offset + (int64_t)position + 1;
    if (limit <= 0) return 0;
    return (size_t)limit < columns ? (size_t)limit : columns;
}

/// Row `r` of the stacked rows of unit (b, kv): position `r / group`, query head
/// `kv · group + r % group`.
static attention_row describe_row(
    const inpars_attention *a, const float *q, float *out, size_t b, size_t kv, size_t r,
    size_t columns) {
    size_t group = a->num_heads / a->num_kv_heads;
    size_t position = r / group, head = kv * group + r % group, d = a->head_dim;
    attention_row row;
    row.query = q + b * a->queries.batch_stride + a->queries.offset + head * d
        + position * a->queries.row_stride;
    row.output = out + b * a->output.batch_stride + a->output.offset + head * d
        + position * a->output.row_stride;
    row.bias = a->bias ? a->bias + head * a->bias_width + (a->query_length - 1 - position) : NULL;
    row.visible = row_visible(a, columns, position);
    return row;
}

static size_t entry_columns(const inpars_attention *a, size_t b) {
    int64_t visible = a->visible_keys[b];
    if (visible <= 0) return 0;
    return (size_t)visible < a->key_length ? (size_t)visible : a->key_length;
}

/// Keys `start ..< start + count` of a unit, stored as rows of `k` and `v` (a shared prefix's
/// or the entry's own).
typedef struct {
    const float *k, *v;
    size_t k_stride, v_stride, start, count;
    /// The keys in blocks (``inpars_attention_pack_keys``), or NULL.
    const float *packed;
    /// Whether the rows are the shared ones (the same for every unit).
    int shared;
} key_segment;

/// The segments of unit (b, kv) over its first `keys` keys: the shared rows, then the entry's
/// own; returns how many (0 to 2).
static size_t unit_segments(
    const inpars_attention *a, const float *k, const float *v, size_t b, size_t kv, size_t keys,
    key_segment segments[2]) {
    size_t d = a->head_dim, shared = 0, n = 0;
    if (a->shared_keys && a->shared_lengths && a->shared_lengths[b] > 0) {
        shared = (size_t)a->shared_lengths[b] < keys ? (size_t)a->shared_lengths[b] : keys;
        key_segment s = {
            a->shared_keys + a->shared.offset + kv * d, a->shared_values + a->shared.offset + kv * d,
            a->shared.row_stride, a->shared.row_stride, 0, shared,
            a->shared_packed_keys ? a->shared_packed_keys + kv * a->shared_packed_unit_stride : NULL,
            1};
        segments[n++] = s;
    }
    if (keys > shared) {
        key_segment s = {
            k + b * a->keys.batch_stride + a->keys.offset + kv * d,
            v + b * a->values.batch_stride + a->values.offset + kv * d, a->keys.row_stride,
            a->values.row_stride, shared, keys - shared,
            a->packed_keys ? a->packed_keys + (b * a->num_kv_heads + kv) * a->packed_unit_stride
                           : NULL,
            0};
        segments[n++] = s;
    }
    return n;
}

// ---- Generic path: one row at a time, exact softmax over the row's scores ----

static void attend_row_generic(
    const inpars_attention *a, const attention_row *row, const key_segment *segments,
    size_t segment_count, float *scores) {
    size_t d = a->head_dim, n = row->visible;
    for (size_t c = 0; c < d; c++) row->output[c] = 0;
    if (n == 0) return;
    float maximum = -__builtin_inff();
    for (size_t s = 0; s < segment_count; s++) {
        const key_segment *segment = &segments[s];
        for (size_t i = 0; i < segment->count && segment->start + i < n; i++) {
            size_t j = segment->start + i;
            const float *key = segment->k + i * segment->k_stride;
            float score = 0;
            for (size_t c = 0; c < d; c++) score = score + row->query[c] * key[c];
            score = score * a->scale;
            if (row->bias) score = score + row->bias[j];
            scores[j] = score;
            if (score > maximum) maximum = score;
        }
    }
    float sum = 0;
    for (size_t j = 0; j < n; j++) {
        scores[j] = exp_scalar(scores[j] - maximum);
        sum = sum + scores[j];
    }
    for (size_t s = 0; s < segment_count; s++) {
        const key_segment *segment = &segments[s];
        for (size_t i = 0; i < segment->count && segment->start + i < n; i++) {
            const float *value = segment->v + i * segment->v_stride;
            float weight = scores[segment->start + i];
            for (size_t c = 0; c < d; c++) row->output[c] = row->output[c] + weight * value[c];
        }
    }
    float inverse = 1.0f / sum;
    for (size_t c = 0; c < d; c++) row->output[c] = row->output[c] * inverse;
}

static void attention_generic(
    const inpars_attention *a, const float *q, const float *k, const float *v, float *out,
    size_t worker, size_t workers) {
    float *scores = malloc((a->key_length ? a->key_length : 1) * sizeof(float));
    size_t group = a->num_heads / a->num_kv_heads, d = a->head_dim;
    for (size_t unit = worker; unit < a->batch * a->num_kv_heads; unit += workers) {
        size_t b = unit / a->num_kv_heads, kv = unit % a->num_kv_heads;
        size_t columns = entry_columns(a, b);
        key_segment segments[2];
        size_t segment_count = unit_segments(a, k, v, b, kv, columns, segments);
        for (size_t r = 0; r < a->query_length * group; r++) {
            attention_row row = describe_row(a, q, out, b, kv, r, columns);
            attend_row_generic(a, &row, segments, segment_count, scores);
        }
    }
    free(scores);
}

// ---- AVX-512 path: key blocks of 64, micro tiles of 4 rows, online softmax ----

#ifdef INPARS_X86

/// `2^x` for `x ≤ 0` (clamped at −100, so the result stays a normal float; NaN gives 2^−100):
/// `x = n + r`, `n` the nearest integer, `2^r` on [−½, ½] by a degree-5 polynomial with a
/// constant term of exactly 1 (a weighted least-squares fit, relative error 1e-7 before
/// rounding, 2.5e-7 in float), scaled by `2^n` with `vscalefps`. The kernel works in the log2
/// domain (scores times log2 e), so this is its only exponential: 9 operations a vector.
__attribute__((target("avx512f"))) static inline __m512 exp2_fused(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-100.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(x, n);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.326472731307149e-3f), r, _mm512_set1_ps(9.671512991189957e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.550733581185341e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.4022242426872253e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.931470036506653e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/// Lanes of vector `n` of a key block starting at `first` that row `visible` sees.
static inline __mmask16 lane_mask(size_t visible, size_t first) {
    if (visible <= first) return 0;
    if (visible >= first + 16) return 0xFFFF;
    return (__mmask16)((1u << (visible - first)) - 1);
}

/// The maximum (`MAXIMUM` non-zero) or the sum of each of 4 vectors, vector `i` reduced into
/// every lane of 128-bit quadrant `i`: 9 shuffles and 7 operations for the 4 rows of a micro
/// tile together, instead of a serial horizontal reduction per row.
#define DEFINE_REDUCE4(NAME, OP)                                                                   \
    __attribute__((target("avx512f"), always_inline)) static inline __m512 NAME(                  \
        __m512 a, __m512 b, __m512 c, __m512 d) {                                                  \
        __m512 ab = OP(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));       \
        __m512 cd = OP(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));       \
        __m512 x = OP(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));    \
        x = OP(x, _mm512_permute_ps(x, 0x4E));                                                     \
        return OP(x, _mm512_permute_ps(x, 0xB1));                                                  \
    }
DEFINE_REDUCE4(reduce4_max, _mm512_max_ps)
DEFINE_REDUCE4(reduce4_add, _mm512_add_ps)

/// Lane `4r` of `x` in every lane (row `r`'s value of a micro tile's state vector).
#define QUADRANT(x, r) _mm512_permutexvar_ps(_mm512_set1_epi32(4 * (r)), (x))

/// The running state of a macro tile's rows: the queries times `scale · log2 e` `[MACRO_ROWS,
/// d]`, output accumulators `[MACRO_ROWS, d]`, per micro tile the running maxima and sums of
/// its 4 rows (log2 domain; row `r` in quadrant `r` of a vector), and the block's
/// probabilities `[MICRO_ROWS, KEY_BLOCK]`.
typedef struct {
    float *queries;
    float *output;
    float *maximum;
    float *sum;
    float *probabilities;
} tile_state;

/// `acc[r] = acc[r] · correction[r] + Σ_j P[r, j] · V[j, group]` for 4 rows and `CHUNKS` × 16
/// output columns starting at `column` (`output` the running outputs of the 4 rows, `d` apart;
/// `correction` row `r`'s factor in quadrant `r`). Always multiplied: whether a maximum moved
/// is a coin toss in the early blocks, and a mispredicted branch on it, resolved at the end
/// of the softmax's dependency chain, would discard the speculated `P·V` work.
#define DEFINE_PV(CHUNKS)                                                                          \
    __attribute__((target("avx512f"), always_inline)) static inline void pv_##CHUNKS(             \
        float *output, const float *p, __m512 correction, size_t d, size_t column,                 \
        const float *v, size_t value_stride, size_t keys) {                                         \
        __m512 acc[MICRO_ROWS][CHUNKS];                                                             \
        for (int r = 0; r < MICRO_ROWS; r++) {                                                      \
            __m512 factor = QUADRANT(correction, r);                                                \
            for (int n = 0; n < CHUNKS; n++)                                                        \
                acc[r][n] = _mm512_mul_ps(                                                          \
                    _mm512_loadu_ps(output + r * d + column + 16 * n), factor);                     \
        }                                                                                           \
        for (size_t j = 0; j < keys; j++) {                                                         \
            __m512 value[CHUNKS];                                                                   \
            for (int n = 0; n < CHUNKS; n++)                                                        \
                value[n] = _mm512_loadu_ps(v + j * value_stride + column + 16 * n);                 \
            for (int r = 0; r < MICRO_ROWS; r++) {                                                  \
                __m512 weight = _mm512_set1_ps(p[r * KEY_BLOCK + j]);                               \
                for (int n = 0; n < CHUNKS; n++)                                                    \
                    acc[r][n] = _mm512_fmadd_ps(weight, value[n], acc[r][n]);                       \
            }                                                                                       \
        }                                                                                           \
        for (int r = 0; r < MICRO_ROWS; r++)                                                        \
            for (int n = 0; n < CHUNKS; n++)                                                        \
                _mm512_storeu_ps(output + r * d + column + 16 * n, acc[r][n]);                      \
    }
DEFINE_PV(1)
DEFINE_PV(2)
DEFINE_PV(3)
DEFINE_PV(4)

/// `s[r][n] = q[r]·K[:, 16n ..< 16n + 16]` for the 4 rows of a micro tile (`query` `[4, d]`)
/// and a packed key block (`[d, KEY_BLOCK]`).
__attribute__((target("avx512f"), always_inline)) static inline void scores_product(
    const float *query, const float *packed, size_t d, __m512 s[MICRO_ROWS][4]) {
    for (int r = 0; r < MICRO_ROWS; r++)
        for (int n = 0; n < 4; n++) s[r][n] = _mm512_setzero_ps();
    for (size_t c = 0; c < d; c++) {
        const float *kt = packed + c * KEY_BLOCK;
        __m512 k0 = _mm512_loadu_ps(kt), k1 = _mm512_loadu_ps(kt + 16);
        __m512 k2 = _mm512_loadu_ps(kt + 32), k3 = _mm512_loadu_ps(kt + 48);
        for (int r = 0; r < MICRO_ROWS; r++) {
            __m512 qc = _mm512_set1_ps(query[r * d + c]);
            s[r][0] = _mm512_fmadd_ps(qc, k0, s[r][0]);
            s[r][1] = _mm512_fmadd_ps(qc, k1, s[r][1]);
            s[r][2] = _mm512_fmadd_ps(qc, k2, s[r][2]);
            s[r][3] = _mm512_fmadd_ps(qc, k3, s[r][3]);
        }
    }
}

/// One key block against the 4 rows of micro tile `tile`: scores from the packed keys (`[d,
/// KEY_BLOCK]`) and the pre-scaled queries, the bias times log2 e, masks (`MASKED`: keys at or
/// past a row's `visible` or `limit`, the end of the block's segment, are −∞; unmasked blocks
/// are whole for all 4 rows), the online-softmax update of the rows' maxima and sums (all 4
/// rows in one vector), then `P·V` into their running outputs.
__attribute__((target("avx512f"), always_inline)) static inline void micro_tile(
    const inpars_attention *a, const attention_row *rows, tile_state *state, size_t tile,
    const float *packed, const float *v, size_t value_stride, size_t block_start, size_t limit,
    int masked) {
    size_t d = a->head_dim;
    __m512 s[MICRO_ROWS][4];
    scores_product(state->queries + tile * MICRO_ROWS * d, packed, d, s);
    const __m512 log2e = _mm512_set1_ps(LOG2E);
    __mmask16 mask[MICRO_ROWS][4];
    size_t keys = KEY_BLOCK;
    if (masked) {
        const __m512 negative_infinity = _mm512_set1_ps(-__builtin_inff());
        keys = 0;
        for (int r = 0; r < MICRO_ROWS; r++) {
            size_t visible = rows[r].visible < limit ? rows[r].visible : limit;
            for (int n = 0; n < 4; n++) {
                mask[r][n] = lane_mask(visible, block_start + 16 * n);
                if (rows[r].bias)
                    s[r][n] = _mm512_fmadd_ps(
                        _mm512_maskz_loadu_ps(mask[r][n], rows[r].bias + block_start + 16 * n),
                        log2e, s[r][n]);
                s[r][n] = _mm512_mask_blend_ps(mask[r][n], negative_infinity, s[r][n]);
            }
            if (visible > block_start) {
                size_t seen = visible - block_start;
                if (seen > keys) keys = seen > KEY_BLOCK ? KEY_BLOCK : seen;
            }
        }
    } else if (rows[0].bias) {
        for (int r = 0; r < MICRO_ROWS; r++)
            for (int n = 0; n < 4; n++)
                s[r][n] = _mm512_fmadd_ps(
                    _mm512_loadu_ps(rows[r].bias + block_start + 16 * n), log2e, s[r][n]);
    }
    __m512 block_max[MICRO_ROWS];
    for (int r = 0; r < MICRO_ROWS; r++)
        block_max[r] = _mm512_max_ps(_mm512_max_ps(s[r][0], s[r][1]), _mm512_max_ps(s[r][2], s[r][3]));
    float *maximum = state->maximum + tile * 16, *sum = state->sum + tile * 16;
    __m512 old_max = _mm512_load_ps(maximum);
    __m512 new_max = _mm512_max_ps(
        old_max, reduce4_max(block_max[0], block_max[1], block_max[2], block_max[3]));
    // 1 exactly where the maximum did not move (2^0 = 1 · 2^0).
    __m512 correction = exp2_fused(_mm512_sub_ps(old_max, new_max));
    __m512 total[MICRO_ROWS];
    float *probabilities = state->probabilities;
    for (int r = 0; r < MICRO_ROWS; r++) {
        __m512 shift = QUADRANT(new_max, r);
        total[r] = _mm512_setzero_ps();
        for (int n = 0; n < 4; n++) {
            __m512 p = exp2_fused(_mm512_sub_ps(s[r][n], shift));
            if (masked) p = _mm512_maskz_mov_ps(mask[r][n], p);
            _mm512_store_ps(probabilities + r * KEY_BLOCK + 16 * n, p);
            total[r] = _mm512_add_ps(total[r], p);
        }
    }
    _mm512_store_ps(
        sum, _mm512_fmadd_ps(
                 _mm512_load_ps(sum), correction, reduce4_add(total[0], total[1], total[2], total[3])));
    _mm512_store_ps(maximum, new_max);
    float *output = state->output + tile * MICRO_ROWS * d;
    for (size_t column = 0; column < d; column += 64) {
        switch ((d - column) / 16) {
        case 1: pv_1(output, probabilities, correction, d, column, v, value_stride, keys); break;
        case 2: pv_2(output, probabilities, correction, d, column, v, value_stride, keys); break;
        case 3: pv_3(output, probabilities, correction, d, column, v, value_stride, keys); break;
        default: pv_4(output, probabilities, correction, d, column, v, value_stride, keys); break;
        }
    }
}

/// ``micro_tile`` for a block every row of the tile sees whole (no masks).
__attribute__((target("avx512f"))) static void micro_tile_whole(
    const inpars_attention *a, const attention_row *rows, tile_state *state, size_t tile,
    const float *packed, const float *v, size_t value_stride, size_t block_start) {
    micro_tile(a, rows, state, tile, packed, v, value_stride, block_start, 0, 0);
}

/// ``micro_tile`` for a block some row of the tile sees in part.
__attribute__((target("avx512f"))) static void micro_tile_masked(
    const inpars_attention *a, const attention_row *rows, tile_state *state, size_t tile,
    const float *packed, const float *v, size_t value_stride, size_t block_start, size_t limit) {
    micro_tile(a, rows, state, tile, packed, v, value_stride, block_start, limit, 1);
}

/// Transposes a 16 × 16 tile in registers: `rows[i]` lane `l` becomes `rows[l]` lane `i`.
__attribute__((target("avx512f"))) static inline void transpose16(__m512 rows[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(rows[i], rows[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(rows[i], rows[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        rows[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        rows[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        rows[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        rows[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    // rows[4a + b] now holds, per 128-bit lane q, column 4q + (b's column) of rows 4a .. 4a+3.
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(rows[i], rows[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(rows[i], rows[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(rows[i + 8], rows[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(rows[i + 8], rows[i + 12], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        rows[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        rows[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
        rows[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        rows[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
    }
}

/// Copies `keys[0 ..< count]` into blocks of `[d, KEY_BLOCK]` (zeros past `count`), 16 keys ×
/// 16 dimensions at a time through a register transpose.
__attribute__((target("avx512f"))) static void pack_keys(
    const float *k, size_t stride, size_t count, size_t d, float *packed) {
    size_t blocks = (count + KEY_BLOCK - 1) / KEY_BLOCK;
    for (size_t j0 = 0; j0 < blocks * KEY_BLOCK; j0 += 16) {
        float *block = packed + (j0 / KEY_BLOCK) * d * KEY_BLOCK + j0 % KEY_BLOCK;
        for (size_t c0 = 0; c0 < d; c0 += 16) {
            __m512 rows[16];
            for (size_t i = 0; i < 16; i++)
                rows[i] = j0 + i < count
                    ? _mm512_loadu_ps(k + (j0 + i) * stride + c0)
                    : _mm512_setzero_ps();
            transpose16(rows);
            for (size_t i = 0; i < 16; i++) _mm512_storeu_ps(block + (c0 + i) * KEY_BLOCK, rows[i]);
        }
    }
}

/// Rows `first ..< first + count` of unit (b, kv): every key block of every segment (packed
/// one after the other) against micro tiles of 4 rows (the last row repeated to fill the last
/// tile), then `output = O / sum`.
__attribute__((target("avx512f"))) static void macro_tile(
    const inpars_attention *a, const float *q, float *out, size_t b, size_t kv, size_t first,
    size_t count, size_t columns, const key_segment *segments, size_t segment_count,
    tile_state *state) {
    size_t d = a->head_dim;
    attention_row rows[MACRO_ROWS];
    size_t padded = (count + MICRO_ROWS - 1) / MICRO_ROWS * MICRO_ROWS, keys = 0;
    // The queries times scale · log2 e: scores come out in the log2 domain of ``exp2_fused``.
    __m512 factor = _mm512_set1_ps(a->scale * LOG2E);
    for (size_t r = 0; r < padded; r++) {
        rows[r] = describe_row(a, q, out, b, kv, first + (r < count ? r : count - 1), columns);
        if (rows[r].visible > keys) keys = rows[r].visible;
        for (size_t c = 0; c < d; c += 16)
            _mm512_store_ps(
                state->queries + r * d + c, _mm512_mul_ps(_mm512_loadu_ps(rows[r].query + c), factor));
    }
    for (size_t t = 0; t < padded / MICRO_ROWS; t++) {
        _mm512_store_ps(state->maximum + 16 * t, _mm512_set1_ps(NO_MAXIMUM));
        _mm512_store_ps(state->sum + 16 * t, _mm512_setzero_ps());
    }
    memset(state->output, 0, padded * d * sizeof(float));
    for (size_t s = 0; s < segment_count; s++) {
        const key_segment *segment = &segments[s];
        const float *block = segment->packed;
        size_t limit = segment->start + segment->count;
        for (size_t offset = 0; offset < segment->count; offset += KEY_BLOCK) {
            size_t start = segment->start + offset;
            if (start >= keys) break;
            const float *values = segment->v + offset * segment->v_stride;
            for (size_t r = 0; r < padded; r += MICRO_ROWS) {
                size_t most = 0, least = SIZE_MAX;
                for (int i = 0; i < MICRO_ROWS; i++) {
                    if (rows[r + i].visible > most) most = rows[r + i].visible;
                    if (rows[r + i].visible < least) least = rows[r + i].visible;
                }
                if (most <= start) continue;  // causal: the whole block is masked for these rows
                if (least >= start + KEY_BLOCK && limit >= start + KEY_BLOCK)
                    micro_tile_whole(
                        a, rows + r, state, r / MICRO_ROWS, block, values, segment->v_stride, start);
                else
                    micro_tile_masked(
                        a, rows + r, state, r / MICRO_ROWS, block, values, segment->v_stride, start,
                        limit);
            }
            block += d * KEY_BLOCK;
        }
    }
    for (size_t r = 0; r < count; r++) {
        float total = state->sum[16 * (r / MICRO_ROWS) + 4 * (r % MICRO_ROWS)];
        __m512 scale = _mm512_set1_ps(total > 0 ? 1.0f / total : 0.0f);
        for (size_t c = 0; c < d; c += 16)
            _mm512_storeu_ps(
                rows[r].output + c, _mm512_mul_ps(_mm512_loadu_ps(state->output + r * d + c), scale));
    }
}

/// Prefetches part `part` of `parts` of the own rows the unit of `segments` will read from
/// their strided buffers (keys to pack, values to `copy`), so that unit's preparation finds
/// them in cache: rows 9 KB apart (T5's fused projections) each start a new page, which the
/// hardware prefetchers do not cross.
static void prefetch_segments(
    const key_segment *segments, size_t count, size_t part, size_t parts, size_t d, int copy) {
    for (size_t s = 0; s < count; s++) {
        const key_segment *segment = &segments[s];
        if (segment->shared || (segment->packed && !copy)) continue;
        size_t from = segment->count * part / parts, to = segment->count * (part + 1) / parts;
        for (size_t j = from; j < to; j++)
            for (size_t line = 0; line < d * sizeof(float); line += 64) {
                if (!segment->packed)
                    _mm_prefetch((const char *)(segment->k + j * segment->k_stride) + line, _MM_HINT_T1);
                if (copy)
                    _mm_prefetch((const char *)(segment->v + j * segment->v_stride) + line, _MM_HINT_T1);
            }
    }
}

__attribute__((target("avx512f"))) static void attention_avx512(
    const inpars_attention *a, const float *q, const float *k, const float *v, float *out,
    size_t worker, size_t workers) {
    size_t d = a->head_dim, group = a->num_heads / a->num_kv_heads;
    // One more block than the keys fill: each of the two segments may end in a partial one.
    size_t blocks = (a->key_length + KEY_BLOCK - 1) / KEY_BLOCK + 1;
    float *packed = aligned_alloc(64, (blocks ? blocks : 1) * d * KEY_BLOCK * sizeof(float));
    size_t rows = a->query_length * group;
    // Values are copied contiguous when several micro tiles reread them: rows of a wide
    // projection (2 KB apart in T5-small) alias to a few L1 sets and would not stay cached.
    int copy_values = rows > 2 * MICRO_ROWS && a->values.row_stride != d;
    float *contiguous = copy_values ? aligned_alloc(64, (a->key_length ? a->key_length : 1) * d * sizeof(float)) : NULL;
    tile_state state;
    state.queries = aligned_alloc(64, MACRO_ROWS * d * sizeof(float));
    state.output = aligned_alloc(64, MACRO_ROWS * d * sizeof(float));
    state.maximum = aligned_alloc(64, MACRO_ROWS * 4 * sizeof(float));
    state.sum = aligned_alloc(64, MACRO_ROWS * 4 * sizeof(float));
    state.probabilities = aligned_alloc(64, MICRO_ROWS * KEY_BLOCK * sizeof(float));
    size_t units = a->batch * a->num_kv_heads;
    for (size_t unit = worker; unit < units; unit += workers) {
        size_t b = unit / a->num_kv_heads, kv = unit % a->num_kv_heads;
        size_t columns = entry_columns(a, b);
        // Keys the last position sees: the most any row of the unit sees.
        size_t keys = row_visible(a, columns, a->query_length - 1);
        key_segment segments[2], upcoming[2];
        size_t segment_count = unit_segments(a, k, v, b, kv, keys, segments), upcoming_count = 0;
        if (unit + workers < units) {
            size_t b2 = (unit + workers) / a->num_kv_heads, kv2 = (unit + workers) % a->num_kv_heads;
            size_t columns2 = entry_columns(a, b2);
            upcoming_count = unit_segments(
                a, k, v, b2, kv2, row_visible(a, columns2, a->query_length - 1), upcoming);
        }
        float *next = packed;
        for (size_t s = 0; s < segment_count; s++) {
            key_segment *segment = &segments[s];
            if (copy_values) {
                float *copy = contiguous + segment->start * d;
                for (size_t j = 0; j < segment->count; j++)
                    memcpy(copy + j * d, segment->v + j * segment->v_stride, d * sizeof(float));
                segment->v = copy;
                segment->v_stride = d;
            }
            if (segment->packed) continue;
            pack_keys(segment->k, segment->k_stride, segment->count, d, next);
            segment->packed = next;
            next += (segment->count + KEY_BLOCK - 1) / KEY_BLOCK * d * KEY_BLOCK;
        }
        for (size_t first = 0; first < rows; first += MACRO_ROWS) {
            size_t count = rows - first < MACRO_ROWS ? rows - first : MACRO_ROWS;
            // The next tile's query rows (strided, out of cache) arrive while this one runs,
            // its output rows are owned for writing.
            for (size_t r = first + MACRO_ROWS; r < first + 2 * MACRO_ROWS && r < rows; r++) {
                attention_row row = describe_row(a, q, out, b, kv, r, columns);
                for (size_t line = 0; line < d * sizeof(float); line += 64) {
                    _mm_prefetch((const char *)row.query + line, _MM_HINT_T0);
                    _mm_prefetch((const char *)row.output + line, _MM_HINT_ET0);
                }
            }
            prefetch_segments(
                upcoming, upcoming_count, first / MACRO_ROWS, (rows + MACRO_ROWS - 1) / MACRO_ROWS,
                d, copy_values);
            macro_tile(
                a, q, out, b, kv, first, count, columns, segments, segment_count, &state);
        }
    }
    free(contiguous);
    free(state.probabilities);
    free(state.sum);
    free(state.maximum);
    free(state.output);
    free(state.queries);
    free(packed);
}

#endif

int inpars_attention_reads_packed_keys(size_t head_dim) {
    return inpars_kernels_isa() == INPARS_ISA_AVX512 && head_dim % 16 == 0;
}

void inpars_attention_pack_keys(
    const float *keys, size_t row_stride, size_t first, size_t count, size_t head_dim,
    float *packed) {
    for (size_t i = 0; i < count; i++) {
        size_t j = first + i;
        float *column = packed + (j / KEY_BLOCK) * head_dim * KEY_BLOCK + j % KEY_BLOCK;
        const float *key = keys + i * row_stride;
        for (size_t c = 0; c < head_dim; c++) column[c * KEY_BLOCK] = key[c];
    }
}

void inpars_attention_forward_isa(
    const inpars_attention *a, const float *q, const float *k, const float *v, float *out,
    size_t worker, size_t workers, inpars_isa isa) {
#ifdef INPARS_X86
    if (isa == INPARS_ISA_AVX512 && inpars_kernels_isa() == INPARS_ISA_AVX512
        && a->head_dim % 16 == 0) {
        attention_avx512(a, q, k, v, out, worker, workers);
        return;
    }
#endif
    (void)isa;
    attention_generic(a, q, k, v, out, worker, workers);
}

void inpars_attention_forward(
    const inpars_attention *a, const float *q, const float *k, const float *v, float *out,
    size_t worker, size_t workers) {
    inpars_attention_forward_isa(a, q, k, v, out, worker, workers, inpars_kernels_isa());
}
