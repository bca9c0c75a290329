// Fused multi-head attention forward for inference (flash-attention style); see CKernels.h for
// the contract. Unlike the other kernels, the AVX-512 and generic paths are not bit-identical:
// the AVX-512 path uses fused multiply-adds and an online softmax over key blocks, the generic
// path an exact two-pass softmax per row; tests bound their difference.
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
            a->shared_packed_keys ? a->shared_packed_keys + kv * a->shared_packed_unit_stride : NULL};
        segments[n++] = s;
    }
    if (keys > shared) {
        key_segment s = {
            k + b * a->keys.batch_stride + a->keys.offset + kv * d,
            v + b * a->values.batch_stride + a->values.offset + kv * d, a->keys.row_stride,
            a->values.row_stride, shared, keys - shared,
            a->packed_keys ? a->packed_keys + (b * a->num_kv_heads + kv) * a->packed_unit_stride
                           : NULL};
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

/// `exp` of the Cephes scheme in exp.h with fused multiply-adds (fewer operations; this kernel
/// does not promise the same bits as the generic path).
__attribute__((target("avx512f"))) static inline __m512 exp_fused(__m512 input) {
    __m512 x = _mm512_max_ps(_mm512_set1_ps(-87.0f), input);
    __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(LOG2E), _mm512_set1_ps(MAGIC));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(MAGIC));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(P0), r, _mm512_set1_ps(P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P5));
    __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512i integer = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(MAGIC_BITS));
    __m512i scale = _mm512_slli_epi32(_mm512_add_epi32(integer, _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(scale));
}

/// Lanes of vector `n` of a key block starting at `first` that row `visible` sees.
static inline __mmask16 lane_mask(size_t visible, size_t first) {
    if (visible <= first) return 0;
    if (visible >= first + 16) return 0xFFFF;
    return (__mmask16)((1u << (visible - first)) - 1);
}

/// The running state of a macro tile's rows: output accumulators `[MACRO_ROWS, d]`, running
/// maxima and sums, and the block's probabilities `[MICRO_ROWS, KEY_BLOCK]`.
typedef struct {
    float *output;
    float maximum[MACRO_ROWS];
    float sum[MACRO_ROWS];
    float corrections[MICRO_ROWS];
    float *probabilities;
} tile_state;

/// `acc[r] = acc[r] · correction[r] + Σ_j P[r, j] · V[j, group]` for 4 rows and `CHUNKS` × 16
/// output columns starting at `column` (the running outputs of rows `first ...` of `state`).
#define DEFINE_PV(CHUNKS)                                                                          \
    __attribute__((target("avx512f"), always_inline)) static inline void pv_##CHUNKS(             \
        tile_state *state, size_t first, size_t d, size_t column, const float *v,                   \
        size_t value_stride, size_t keys) {                                                         \
        __m512 acc[MICRO_ROWS][CHUNKS];                                                             \
        for (int r = 0; r < MICRO_ROWS; r++) {                                                      \
            __m512 correction = _mm512_set1_ps(state->corrections[r]);                             \
            for (int n = 0; n < CHUNKS; n++)                                                        \
                acc[r][n] = _mm512_mul_ps(                                                          \
                    _mm512_loadu_ps(state->output + (first + r) * d + column + 16 * n), correction); \
        }                                                                                           \
        const float *p = state->probabilities;                                                      \
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
                _mm512_storeu_ps(state->output + (first + r) * d + column + 16 * n, acc[r][n]);     \
    }
DEFINE_PV(1)
DEFINE_PV(2)
DEFINE_PV(3)
DEFINE_PV(4)

/// One key block against 4 rows: scores from the packed keys (`[d, KEY_BLOCK]`) times the
/// scale, bias, masks (keys from `limit` on, the end of the block's segment, are masked too),
/// the online-softmax update of the rows' maxima and sums, then `P·V` into their running
/// outputs.
__attribute__((target("avx512f"))) static void micro_tile(
    const inpars_attention *a, const attention_row *rows, tile_state *state, size_t first,
    const float *packed, const float *v, size_t value_stride, size_t block_start, size_t limit) {
    size_t d = a->head_dim;
    __m512 s[MICRO_ROWS][4];
    for (int r = 0; r < MICRO_ROWS; r++)
        for (int n = 0; n < 4; n++) s[r][n] = _mm512_setzero_ps();
    for (size_t c = 0; c < d; c++) {
        const float *kt = packed + c * KEY_BLOCK;
        __m512 k0 = _mm512_loadu_ps(kt), k1 = _mm512_loadu_ps(kt + 16);
        __m512 k2 = _mm512_loadu_ps(kt + 32), k3 = _mm512_loadu_ps(kt + 48);
        for (int r = 0; r < MICRO_ROWS; r++) {
            __m512 qc = _mm512_set1_ps(rows[r].query[c]);
            s[r][0] = _mm512_fmadd_ps(qc, k0, s[r][0]);
            s[r][1] = _mm512_fmadd_ps(qc, k1, s[r][1]);
            s[r][2] = _mm512_fmadd_ps(qc, k2, s[r][2]);
            s[r][3] = _mm512_fmadd_ps(qc, k3, s[r][3]);
        }
    }
    const __m512 negative_infinity = _mm512_set1_ps(-__builtin_inff());
    const __m512 scale = _mm512_set1_ps(a->scale);
    size_t keys = 0;
    for (int r = 0; r < MICRO_ROWS; r++) {
        for (int n = 0; n < 4; n++) s[r][n] = _mm512_mul_ps(s[r][n], scale);
        size_t visible = rows[r].visible < limit ? rows[r].visible : limit;
        __mmask16 mask[4];
        for (int n = 0; n < 4; n++) {
            mask[n] = lane_mask(visible, block_start + 16 * n);
            if (rows[r].bias)
                s[r][n] = _mm512_add_ps(
                    s[r][n], _mm512_maskz_loadu_ps(mask[n], rows[r].bias + block_start + 16 * n));
            s[r][n] = _mm512_mask_blend_ps(mask[n], negative_infinity, s[r][n]);
        }
        __m512 block_max = _mm512_max_ps(_mm512_max_ps(s[r][0], s[r][1]), _mm512_max_ps(s[r][2], s[r][3]));
        float old_max = state->maximum[first + r];
        float new_max = _mm512_reduce_max_ps(block_max);
        if (new_max < old_max) new_max = old_max;
        __m512 shift = _mm512_set1_ps(new_max);
        __m512 total = _mm512_setzero_ps();
        for (int n = 0; n < 4; n++) {
            __m512 p = _mm512_maskz_mov_ps(mask[n], exp_fused(_mm512_sub_ps(s[r][n], shift)));
            _mm512_storeu_ps(state->probabilities + r * KEY_BLOCK + 16 * n, p);
            total = _mm512_add_ps(total, p);
        }
        // After the first blocks the maximum rarely moves: no rescaling then.
        float correction = new_max == old_max ? 1.0f : exp_scalar(old_max - new_max);
        state->corrections[r] = correction;
        state->sum[first + r] = state->sum[first + r] * correction + _mm512_reduce_add_ps(total);
        state->maximum[first + r] = new_max;
        if (visible > block_start) {
            size_t seen = visible - block_start;
            if (seen > keys) keys = seen > KEY_BLOCK ? KEY_BLOCK : seen;
        }
    }
    for (size_t column = 0; column < d; column += 64) {
        switch ((d - column) / 16) {
        case 1: pv_1(state, first, d, column, v, value_stride, keys); break;
        case 2: pv_2(state, first, d, column, v, value_stride, keys); break;
        case 3: pv_3(state, first, d, column, v, value_stride, keys); break;
        default: pv_4(state, first, d, column, v, value_stride, keys); break;
        }
    }
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
    for (size_t r = 0; r < padded; r++) {
        rows[r] = describe_row(a, q, out, b, kv, first + (r < count ? r : count - 1), columns);
        if (rows[r].visible > keys) keys = rows[r].visible;
        state->maximum[r] = NO_MAXIMUM;
        state->sum[r] = 0;
    }
    memset(state->output, 0, padded * d * sizeof(float));
    for (size_t s = 0; s < segment_count; s++) {
        const key_segment *segment = &segments[s];
        const float *block = segment->packed;
        size_t limit = segment->start + segment->count;
        for (size_t offset = 0; offset < segment->count; offset += KEY_BLOCK) {
            size_t start = segment->start + offset;
            if (start >= keys) break;
            for (size_t r = 0; r < padded; r += MICRO_ROWS) {
                size_t seen = 0;
                for (int i = 0; i < MICRO_ROWS; i++)
                    if (rows[r + i].visible > seen) seen = rows[r + i].visible;
                if (seen <= start) continue;  // causal: the whole block is masked for these rows
                micro_tile(
                    a, rows + r, state, r, block, segment->v + offset * segment->v_stride,
                    segment->v_stride, start, limit);
            }
            block += d * KEY_BLOCK;
        }
    }
    for (size_t r = 0; r < count; r++) {
        float inverse = state->sum[r] > 0 ? 1.0f / state->sum[r] : 0.0f;
        __m512 scale = _mm512_set1_ps(inverse);
        for (size_t c = 0; c < d; c += 16)
            _mm512_storeu_ps(
                rows[r].output + c, _mm512_mul_ps(_mm512_loadu_ps(state->output + r * d + c), scale));
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
    state.output = aligned_alloc(64, MACRO_ROWS * d * sizeof(float));
    state.probabilities = aligned_alloc(64, MICRO_ROWS * KEY_BLOCK * sizeof(float));
    for (size_t unit = worker; unit < a->batch * a->num_kv_heads; unit += workers) {
        size_t b = unit / a->num_kv_heads, kv = unit % a->num_kv_heads;
        size_t columns = entry_columns(a, b);
        // Keys the last position sees: the most any row of the unit sees.
        size_t keys = row_visible(a, columns, a->query_length - 1);
        key_segment segments[2];
        size_t segment_count = unit_segments(a, k, v, b, kv, keys, segments);
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
            macro_tile(
                a, q, out, b, kv, first, count, columns, segments, segment_count, &state);
        }
    }
    free(contiguous);
    free(state.probabilities);
    free(state.output);
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
