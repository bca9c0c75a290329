// The int8 matrix product of inference-time linear layers: `out = rescale(q_x · q_wᵀ)` with
// per-row int8 activations and per-output-row int8 weights, s32 accumulation, on AVX-512 VNNI
// (`vpdpbusd`: 64 u8 × s8 multiply-adds a instruction) or a generic C path with the same bits.
//
// The activations are asymmetric s8 codes with a zero point per row (`x ≈ s · (q − z)`,
// `inpars_quantize_activations`). vpdpbusd multiplies unsigned bytes by signed ones, so the
// codes are shifted to u8 (`q + 128`) as a row block is copied into a work buffer, and each
// sum loses `(128 + z[m]) · Σ_k w[n, k]`, from the column sums precomputed when the weight is
// packed. Integer accumulation is exact, so every path (and oneDNN's s8 × s8 matmul followed
// by `inpars_int8_subtract_zeros`) gives the same s32 sums, and the epilogue is the
// element-wise rescale of `inpars_rescale`, so the same floats.
#include "CKernels.h"

#include <pthread.h>
#include <stdlib.h>

#include "exp.h" /* the includes and the no-contraction pragmas */

enum {
    PANEL = INPARS_INT8_PANEL_COLUMNS, /* columns of a weight panel: 4 blocks of 16 */
    TILE_ROWS = 6,                     /* rows of a register tile */
    BLOCK_ROWS = 96,                   /* rows shifted to u8 at once (a multiple of TILE_ROWS) */
};

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

size_t inpars_int8_padded_depth(size_t k) { return round_up(k, 4); }

/// Columns of the panel starting at column `first` of `np` (padded) columns.
static size_t panel_width(size_t np, size_t first) { return np - first < PANEL ? np - first : PANEL; }

size_t inpars_int8_packed_bytes(size_t n, size_t k) {
    return round_up(n, 16) * inpars_int8_padded_depth(k);
}

// Panel p (columns 64p ..< 64p + w, w = min(64, round_up(n, 16) − 64p)) starts at byte
// 64p · kp and holds [kp / 4][w][4]: the four bytes of depth 4t ..< 4t + 4 of column c sit
// together at ((t · w + c) · 4). Padding columns and depths are zero.
void inpars_int8_pack(const int8_t *w, size_t n, size_t k, int8_t *packed, int32_t *columnSums) {
    size_t np = round_up(n, 16), kp = inpars_int8_padded_depth(k);
    memset(packed, 0, np * kp);
    for (size_t p = 0; p * PANEL < np; p++) {
        size_t first = p * PANEL, width = panel_width(np, first);
        int8_t *panel = packed + first * kp;
        for (size_t c = 0; c < width && first + c < n; c++) {
            const int8_t *row = w + (first + c) * k;
            for (size_t i = 0; i < k; i++) panel[((i / 4) * width + c) * 4 + i % 4] = row[i];
        }
    }
    for (size_t c = 0; c < np; c++) {
        int32_t sum = 0;
        if (c < n) {
            for (size_t i = 0; i < k; i++) sum += w[c * k + i];
        }
        columnSums[c] = sum;
    }
}

/// A per-thread work buffer for the u8 rows (grown, freed when the thread ends).
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;

typedef struct {
    uint8_t *bytes;
    size_t capacity;
} work_buffer;

static void free_buffer(void *p) {
    work_buffer *b = p;
    free(b->bytes);
    free(b);
}

static void make_key(void) { pthread_key_create(&buffer_key, free_buffer); }

static uint8_t *thread_buffer(size_t bytes) {
    pthread_once(&buffer_once, make_key);
    work_buffer *b = pthread_getspecific(buffer_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) abort();
        pthread_setspecific(buffer_key, b);
    }
    if (b->capacity < bytes) {
        free(b->bytes);
        b->bytes = aligned_alloc(64, round_up(bytes, 64));
        if (!b->bytes) abort();
        b->capacity = round_up(bytes, 64);
    }
    return b->bytes;
}

#ifdef INPARS_X86
/// 64 bytes of `shift_rows`: `q ^ 0x80` is `q + 128` as u8.
__attribute__((target("avx512f"))) static void shift64(const int8_t *source, uint8_t *target) {
    __m512i v = _mm512_loadu_si512(source);
    _mm512_storeu_si512(target, _mm512_xor_si512(v, _mm512_set1_epi32((int)0x80808080u)));
}
#endif

/// Rows `0 ..< rows` of `a` (stride `lda`) into `u` as u8 (`q + 128`), `kp` bytes a row, the
/// depth padding and rows `rows ..< total` set to 128 (the u8 of 0).
static void shift_rows(const int8_t *a, size_t lda, size_t rows, size_t total, size_t k, size_t kp, uint8_t *u) {
    for (size_t r = 0; r < total; r++) {
        uint8_t *target = u + r * kp;
        size_t i = 0;
        if (r < rows) {
            const int8_t *source = a + r * lda;
#ifdef INPARS_X86
            if (inpars_kernels_isa() == INPARS_ISA_AVX512) {
                // The same bytes as the loop below, 64 at a time.
                for (; i + 64 <= k; i += 64) shift64(source + i, target + i);
            }
#endif
            for (; i < k; i++) target[i] = (uint8_t)(source[i] ^ 0x80);
        }
        for (; i < kp; i++) target[i] = 0x80;
    }
}

/// One output element from its exact s32 sum: the rescale of `inpars_rescale`, or the sum.
static inline void finish(int32_t s, size_t m, size_t c, const float *rowScales, const float *columnScales, void *out, size_t ldo, int mode) {
    if (mode == INPARS_INT8_STORE_S32) {
        ((int32_t *)out)[m * ldo + c] = s;
        return;
    }
    float v = (float)s * (columnScales[c] * rowScales[m]);
    float *o = (float *)out + m * ldo + c;
    *o = mode == INPARS_INT8_ADD ? *o + v : v;
}

/// Generic path: rows `0 ..< rows` of the u8 block against panels `p0 ..< p1`.
static void block_generic(
    const uint8_t *u, size_t rows, size_t kp, const int8_t *packed, const int32_t *columnSums,
    size_t n, size_t p0, size_t p1, const int32_t *zeros, const float *rowScales,
    const float *columnScales, void *out, size_t ldo, int mode
) {
    size_t np = round_up(n, 16);
    for (size_t p = p0; p < p1; p++) {
        size_t first = p * PANEL, width = panel_width(np, first);
        const int8_t *panel = packed + first * kp;
        for (size_t m = 0; m < rows; m++) {
            const uint8_t *row = u + m * kp;
            for (size_t c = 0; c < width && first + c < n; c++) {
                int32_t sum = 0;
                for (size_t t = 0; t < kp / 4; t++) {
                    const int8_t *b = panel + (t * width + c) * 4;
                    const uint8_t *a = row + t * 4;
                    sum += a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
                }
                int32_t shift = (128 + zeros[m]) * columnSums[first + c];
                finish(sum - shift, m, first + c, rowScales, columnScales, out, ldo, mode);
            }
        }
    }
}

#ifdef INPARS_X86

#define VNNI __attribute__((target("avx512f,avx512vnni")))

/// The register tile: 6 rows × `blocks` · 16 columns of s32 sums over the whole depth, then
/// the epilogue on rows `< rows` and columns `< n` (masked), so s32 never reaches memory
/// unless `mode` asks for it.
static inline __attribute__((always_inline)) VNNI void tile_vnni(
    const uint8_t *u, size_t kp, const int8_t *panel, int blocks, size_t rows, size_t m0,
    size_t first, size_t n, const int32_t *columnSums, const int32_t *zeros,
    const float *rowScales, const float *columnScales, void *out, size_t ldo, int mode
) {
    // Constant bounds, so the accumulators live in registers (a loop to `blocks` became a
    // memset of the array on the stack and a reload of every accumulator).
    __m512i acc[TILE_ROWS][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < TILE_ROWS; r++) {
#pragma clang loop unroll(full)
        for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_si512();
    }
    size_t width = (size_t)blocks * 16;
    const uint8_t *a0 = u, *a1 = u + kp, *a2 = u + 2 * kp, *a3 = u + 3 * kp, *a4 = u + 4 * kp, *a5 = u + 5 * kp;
    for (size_t t = 0; t < kp / 4; t++) {
        const int8_t *b = panel + t * width * 4;
        __m512i w[4];
        for (int j = 0; j < blocks; j++) w[j] = _mm512_loadu_si512(b + j * 64);
        __m512i x;
#define ROW(r, ar)                                                          \
        x = _mm512_set1_epi32(*(const int32_t *)(ar + t * 4));              \
        for (int j = 0; j < blocks; j++) acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], x, w[j]);
        ROW(0, a0) ROW(1, a1) ROW(2, a2) ROW(3, a3) ROW(4, a4) ROW(5, a5)
#undef ROW
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++) {
        size_t c = first + (size_t)j * 16;
        if (j >= blocks || c >= n) break;
        __mmask16 mask = n - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - c)) - 1);
        __m512i sums = _mm512_loadu_si512(columnSums + c);
        __m512 scales = mode == INPARS_INT8_STORE_S32 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, columnScales + c);
#pragma clang loop unroll(full)
        for (size_t r = 0; r < TILE_ROWS; r++) {
            if (r >= rows) break;
            size_t m = m0 + r;
            __m512i shift = _mm512_mullo_epi32(sums, _mm512_set1_epi32(128 + zeros[m]));
            __m512i s = _mm512_sub_epi32(acc[r][j], shift);
            if (mode == INPARS_INT8_STORE_S32) {
                _mm512_mask_storeu_epi32((int32_t *)out + m * ldo + c, mask, s);
                continue;
            }
            float *o = (float *)out + m * ldo + c;
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(scales, _mm512_set1_ps(rowScales[m])));
            if (mode == INPARS_INT8_ADD) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, o), v);
            _mm512_mask_storeu_ps(o, mask, v);
        }
    }
}

static VNNI void block_vnni(
    const uint8_t *u, size_t rows, size_t kp, const int8_t *packed, const int32_t *columnSums,
    size_t n, size_t p0, size_t p1, const int32_t *zeros, const float *rowScales,
    const float *columnScales, void *out, size_t ldo, int mode
) {
    size_t np = round_up(n, 16);
    for (size_t p = p0; p < p1; p++) {
        size_t first = p * PANEL, width = panel_width(np, first);
        const int8_t *panel = packed + first * kp;
        for (size_t m = 0; m < rows; m += TILE_ROWS) {
            const uint8_t *tile = u + m * kp;
            size_t left = rows - m;
#define TILE(b) tile_vnni(tile, kp, panel, b, left, m, first, n, columnSums, zeros, rowScales, columnScales, out, ldo, mode)
            switch (width / 16) {
            case 4: TILE(4); break;
            case 3: TILE(3); break;
            case 2: TILE(2); break;
            default: TILE(1); break;
            }
#undef TILE
        }
    }
}

#endif

int inpars_int8_has_vnni(void) {
#ifdef INPARS_X86
    return inpars_kernels_isa() == INPARS_ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

void inpars_int8_gemm_isa(
    const int8_t *a, size_t lda, size_t rows, size_t k, const int8_t *packed,
    const int32_t *columnSums, size_t n, size_t panelFrom, size_t panelTo,
    const int32_t *zeros, const float *rowScales, const float *columnScales, void *out,
    size_t ldo, int mode, inpars_isa isa
) {
    size_t kp = inpars_int8_padded_depth(k);
    size_t panels = (round_up(n, 16) + PANEL - 1) / PANEL;
    if (panelTo > panels) panelTo = panels;
    if (rows == 0 || panelFrom >= panelTo) return;
    int vnni = isa == INPARS_ISA_AVX512 && inpars_int8_has_vnni();
    uint8_t *u = thread_buffer(BLOCK_ROWS * kp);
    for (size_t m = 0; m < rows; m += BLOCK_ROWS) {
        size_t count = rows - m < BLOCK_ROWS ? rows - m : BLOCK_ROWS;
        shift_rows(a + m * lda, lda, count, round_up(count, TILE_ROWS), k, kp, u);
        const float *rs = rowScales ? rowScales + m : NULL;
        const int32_t *zs = zeros + m;
        void *o = mode == INPARS_INT8_STORE_S32 ? (void *)((int32_t *)out + m * ldo) : (void *)((float *)out + m * ldo);
#ifdef INPARS_X86
        if (vnni) {
            block_vnni(u, count, kp, packed, columnSums, n, panelFrom, panelTo, zs, rs, columnScales, o, ldo, mode);
            continue;
        }
#endif
        (void)vnni;
        block_generic(u, count, kp, packed, columnSums, n, panelFrom, panelTo, zs, rs, columnScales, o, ldo, mode);
    }
}

void inpars_int8_gemm(
    const int8_t *a, size_t lda, size_t rows, size_t k, const int8_t *packed,
    const int32_t *columnSums, size_t n, size_t panelFrom, size_t panelTo,
    const int32_t *zeros, const float *rowScales, const float *columnScales, void *out,
    size_t ldo, int mode
) {
    inpars_int8_gemm_isa(
        a, lda, rows, k, packed, columnSums, n, panelFrom, panelTo, zeros, rowScales,
        columnScales, out, ldo, mode, inpars_kernels_isa());
}
