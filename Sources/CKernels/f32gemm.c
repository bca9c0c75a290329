// The fp32 product of a few rows (a decoding step) by a weight oneDNN has already packed in
// its `BA16a64b` layout: panels of 64 output columns, each `[kp][64]` floats with the depth
// padded to a multiple of 16. The product reads that memory in place (no second copy of the
// weights) and streams each panel once from memory for all the rows: the depth runs in blocks
// of 128 (32 KB of a panel), and each block runs over register tiles of up to 6 rows × 64
// columns (24 zmm accumulators) that find it in L1/L2; the partial sums wait in a small
// buffer between blocks. oneDNN's brgemm reaches 180–240 GFLOP/s at 32 rows here against
// 290–320 at 256 (Docs/performance.md, issue 11).
//
// Every path computes `acc = fma(a[m, k], w[k, n], acc)` from zero in increasing `k`, then
// stores `acc` or adds it to the output once (a partial sum kept between depth blocks is the
// fp32 register's value), so the AVX-512 and generic paths (and a plain loop doing the same)
// give the same bits, whatever the row count, tile or block.
#include "CKernels.h"

#include <math.h>
#include <stddef.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define INPARS_F32_X86 1
#endif

enum {
    PANEL = INPARS_F32_PANEL_COLUMNS, /* columns of a panel: 4 vectors of 16 */
    TILE_ROWS = 6,                    /* rows of a register tile */
    DEPTH_BLOCK = 128,                /* depths a block runs over all row tiles: 32 KB a panel */
};

/// The generic path: one row and one panel at a time, `fmaf` in increasing `k`.
static void panel_generic(
    const float *a, size_t lda, size_t rows, size_t k, const float *panel, size_t width,
    float *out, size_t ldo, int accumulate
) {
    float acc[PANEL];
    for (size_t m = 0; m < rows; m++) {
        for (size_t c = 0; c < width; c++) acc[c] = 0;
        const float *row = a + m * lda;
        for (size_t i = 0; i < k; i++) {
            const float x = row[i];
            const float *w = panel + i * PANEL;
            for (size_t c = 0; c < width; c++) acc[c] = fmaf(x, w[c], acc[c]);
        }
        float *o = out + m * ldo;
        for (size_t c = 0; c < width; c++) o[c] = accumulate ? o[c] + acc[c] : acc[c];
    }
}

#ifdef INPARS_F32_X86

/// One tile of `R` rows × the panel's 64 columns over depths `k0 ..< k1`. The accumulators
/// start from zero (`first`) or from `partial` (`[R][64]`, the sums of the earlier depths),
/// and go back to `partial` or, after the last depth (`last`), to `out` (added when
/// `accumulate`); `width` < 64 masks the last panel's columns (the padding is never written).
/// A sum kept in `partial` is the fp32 register's value, so blocking the depth gives the bits
/// of one pass. `pull` (or NULL): lines of the weights the next block reads, `lines` (0–4) a
/// depth step, pulled toward L2 meanwhile, so that memory is read all through the tiles.
__attribute__((target("avx512f"), always_inline)) static inline void tile_avx512(
    const int R, const float *a, size_t lda, size_t k0, size_t k1, const float *panel,
    size_t width, float *partial, int first, int last, float *out, size_t ldo, int accumulate,
    const float *pull, size_t lines
) {
    __m512 acc[TILE_ROWS][4];
    for (int r = 0; r < R; r++) {
        for (int v = 0; v < 4; v++) {
            acc[r][v] = first ? _mm512_setzero_ps() : _mm512_load_ps(partial + r * PANEL + v * 16);
        }
    }
    for (size_t i = k0; i < k1; i++) {
        const float *w = panel + i * PANEL;
        for (size_t l = 0; l < lines; l++) {
            _mm_prefetch((const char *)(pull + ((i - k0) * lines + l) * 16), _MM_HINT_T1);
        }
        const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16);
        const __m512 w2 = _mm512_loadu_ps(w + 32), w3 = _mm512_loadu_ps(w + 48);
        for (int r = 0; r < R; r++) {
            const __m512 x = _mm512_set1_ps(a[r * lda + i]);
            acc[r][0] = _mm512_fmadd_ps(x, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, w1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(x, w2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(x, w3, acc[r][3]);
        }
    }
    if (!last) {
        for (int r = 0; r < R; r++) {
            for (int v = 0; v < 4; v++) _mm512_store_ps(partial + r * PANEL + v * 16, acc[r][v]);
        }
        return;
    }
    for (int v = 0; v < 4; v++) {
        size_t first = (size_t)v * 16;
        if (first >= width) break;
        __mmask16 mask = width - first >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (width - first)) - 1);
        for (int r = 0; r < R; r++) {
            float *o = out + r * ldo + first;
            __m512 value = acc[r][v];
            if (accumulate) value = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, o), value);
            _mm512_mask_storeu_ps(o, mask, value);
        }
    }
}

/// All the rows (at most ``INPARS_F32_MAX_ROWS``) on one panel: the depth in blocks of
/// `DEPTH_BLOCK` (so the block's weights stay in L1/L2 for every row tile, however deep the
/// panel: a whole 4864-deep panel is 1.2 MB), each block over row tiles of at most 6 rows
/// spread evenly (32 rows: 6, 6, 5, 5, 5, 5). While a block runs, its tiles pull the next
/// block's weights (or, after the last, the first block of `next`, the next panel, or NULL).
__attribute__((target("avx512f"))) static void panel_avx512(
    const float *a, size_t lda, size_t rows, size_t k, const float *panel, size_t width,
    float *out, size_t ldo, int accumulate, const float *next
) {
    float partial[INPARS_F32_MAX_ROWS * PANEL] __attribute__((aligned(64)));
    size_t tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
    size_t base = rows / tiles, extra = rows % tiles;
    for (size_t k0 = 0; k0 < k; k0 += DEPTH_BLOCK) {
        size_t k1 = k - k0 < DEPTH_BLOCK ? k : k0 + DEPTH_BLOCK;
        /* the next block's weights: 4 lines per depth, shared out over the tiles */
        const float *pull = k1 < k ? panel + k1 * PANEL : next;
        size_t pullDepth = k1 < k ? (k - k1 < DEPTH_BLOCK ? k - k1 : DEPTH_BLOCK) : (k < DEPTH_BLOCK ? k : DEPTH_BLOCK);
        size_t pullLines = pull ? pullDepth * (PANEL / 16) : 0;
        size_t share = (pullLines + tiles - 1) / tiles, steps = k1 - k0;
        size_t lines = (share + steps - 1) / steps;
        if (lines > 4) lines = 4;
        for (size_t t = 0, m = 0; t < tiles; t++) {
            size_t R = base + (t < extra);
            size_t from = t * share;
            const float *p = pull && from < pullLines ? pull + from * 16 : NULL;
            size_t l = p ? lines : 0;
            const float *am = a + m * lda;
            float *om = out + m * ldo, *pm = partial + m * PANEL;
            int first = k0 == 0, last = k1 == k;
            switch (R) {
            case 1: tile_avx512(1, am, lda, k0, k1, panel, width, pm, first, last, om, ldo, accumulate, p, l); break;
            case 2: tile_avx512(2, am, lda, k0, k1, panel, width, pm, first, last, om, ldo, accumulate, p, l); break;
            case 3: tile_avx512(3, am, lda, k0, k1, panel, width, pm, first, last, om, ldo, accumulate, p, l); break;
            case 4: tile_avx512(4, am, lda, k0, k1, panel, width, pm, first, last, om, ldo, accumulate, p, l); break;
            case 5: tile_avx512(5, am, lda, k0, k1, panel, width, pm, first, last, om, ldo, accumulate, p, l); break;
            default: tile_avx512(6, am, lda, k0, k1, panel, width, pm, first, last, om, ldo, accumulate, p, l); break;
            }
            m += R;
        }
    }
}

#endif

int inpars_f32_gemm_has_avx512(void) {
#ifdef INPARS_F32_X86
    return inpars_kernels_isa() == INPARS_ISA_AVX512;
#else
    return 0;
#endif
}

void inpars_f32_gemm_isa(
    const float *a, size_t lda, size_t rows, size_t k, const float *packed, size_t panelStride,
    size_t n, size_t panelFrom, size_t panelTo, float *out, size_t ldo, int accumulate,
    inpars_isa isa
) {
    size_t panels = (n + PANEL - 1) / PANEL;
    if (panelTo > panels) panelTo = panels;
    if (rows == 0 || panelFrom >= panelTo) return;
    int wide = isa == INPARS_ISA_AVX512 && inpars_f32_gemm_has_avx512();
    for (size_t p = panelFrom; p < panelTo; p++) {
        const float *panel = packed + p * panelStride;
        size_t first = p * PANEL, width = n - first < PANEL ? n - first : PANEL;
#ifdef INPARS_F32_X86
        if (wide) {
            const float *next = p + 1 < panelTo ? panel + panelStride : NULL;
            for (size_t m = 0; m < rows; m += INPARS_F32_MAX_ROWS) {
                size_t count = rows - m < INPARS_F32_MAX_ROWS ? rows - m : INPARS_F32_MAX_ROWS;
                panel_avx512(
                    a + m * lda, lda, count, k, panel, width, out + m * ldo + first, ldo,
                    accumulate, next);
            }
            continue;
        }
#endif
        (void)wide;
        panel_generic(a, lda, rows, k, panel, width, out + first, ldo, accumulate);
    }
}

void inpars_f32_gemm(
    const float *a, size_t lda, size_t rows, size_t k, const float *packed, size_t panelStride,
    size_t n, size_t panelFrom, size_t panelTo, float *out, size_t ldo, int accumulate
) {
    inpars_f32_gemm_isa(
        a, lda, rows, k, packed, panelStride, n, panelFrom, panelTo, out, ldo, accumulate,
        inpars_kernels_isa());
}
