// Row softmax with a vectorised exp; see CKernels.h for the contract.
#include "CKernels.h"

#include "exp.h"

#include <math.h>

static float row_maximum(const float *row, size_t count) {
    float maximum = -__builtin_inff();
    for (size_t j = 0; j < count; j++) {
        if (row[j] > maximum) maximum = row[j];
    }
    return maximum;
}

/// Exponentiates the tail past the last multiple of 16 and returns `1 / Σ`; shared by every
/// path (each then scales the row, an element-wise product).
static float tail_inverse(float *row, size_t count, size_t done, float maximum, float lanes[16]) {
    float sum = reduce16(lanes);
    for (size_t j = done; j < count; j++) {
        float e = exp_scalar(row[j] - maximum);
        row[j] = e;
        sum = sum + e;
    }
    return 1.0f / sum;
}

static void softmax_generic(float *row, size_t count) {
    float maximum = row_maximum(row, count);
    float lanes[16] = {0};
    size_t j = 0;
    for (; j + 16 <= count; j += 16) {
        for (int l = 0; l < 16; l++) {
            float e = exp_scalar(row[j + l] - maximum);
            row[j + l] = e;
            lanes[l] = lanes[l] + e;
        }
    }
    float inverse = tail_inverse(row, count, j, maximum, lanes);
    for (j = 0; j < count; j++) row[j] = row[j] * inverse;
}

#ifdef INPARS_X86

__attribute__((target("avx2"))) static void softmax_avx2(float *row, size_t count) {
    __m256 maxima = _mm256_set1_ps(-__builtin_inff());
    size_t j = 0;
    for (; j + 8 <= count; j += 8) maxima = _mm256_max_ps(_mm256_loadu_ps(row + j), maxima);
    float lanes[16];
    _mm256_storeu_ps(lanes, maxima);
    float maximum = row_maximum(lanes, 8);
    float rest = row_maximum(row + j, count - j);
    if (rest > maximum) maximum = rest;

    __m256 shift = _mm256_set1_ps(maximum);
    __m256 low = _mm256_setzero_ps(), high = _mm256_setzero_ps();
    for (j = 0; j + 16 <= count; j += 16) {
        __m256 a = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(row + j), shift));
        __m256 b = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(row + j + 8), shift));
        _mm256_storeu_ps(row + j, a);
        _mm256_storeu_ps(row + j + 8, b);
        low = _mm256_add_ps(low, a);
        high = _mm256_add_ps(high, b);
    }
    _mm256_storeu_ps(lanes, low);
    _mm256_storeu_ps(lanes + 8, high);
    float inverse = tail_inverse(row, count, j, maximum, lanes);
    __m256 scale = _mm256_set1_ps(inverse);
    for (j = 0; j + 8 <= count; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), scale));
    for (; j < count; j++) row[j] = row[j] * inverse;
}

__attribute__((target("avx512f"))) static void softmax_avx512(float *row, size_t count) {
    __m512 maxima = _mm512_set1_ps(-__builtin_inff());
    size_t j = 0;
    for (; j + 16 <= count; j += 16) maxima = _mm512_max_ps(_mm512_loadu_ps(row + j), maxima);
    float lanes[16];
    _mm512_storeu_ps(lanes, maxima);
    float maximum = row_maximum(lanes, 16);
    float rest = row_maximum(row + j, count - j);
    if (rest > maximum) maximum = rest;

    __m512 shift = _mm512_set1_ps(maximum);
    __m512 sums = _mm512_setzero_ps();
    for (j = 0; j + 16 <= count; j += 16) {
        __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(row + j), shift));
        _mm512_storeu_ps(row + j, e);
        sums = _mm512_add_ps(sums, e);
    }
    _mm512_storeu_ps(lanes, sums);
    float inverse = tail_inverse(row, count, j, maximum, lanes);
    __m512 scale = _mm512_set1_ps(inverse);
    for (j = 0; j + 16 <= count; j += 16) _mm512_storeu_ps(row + j, _mm512_mul_ps(_mm512_loadu_ps(row + j), scale));
    for (; j < count; j++) row[j] = row[j] * inverse;
}

#endif

// ---- Row statistics of a logits row (greedy choice and log-probabilities) ----

/// The first index holding the largest of 16 lane maxima whose lanes saw elements l, l + 16, …
/// (each lane keeping its first maximum), then the tail; the first index of the row maximum.
static void pick_lanes(
    const float *maxima, const int64_t *indices, const float *row, size_t count, size_t done,
    size_t *argmax, float *maximum) {
    float best = maxima[0];
    int64_t at = indices[0];
    for (int l = 1; l < 16; l++) {
        if (maxima[l] > best || (maxima[l] == best && indices[l] < at)) {
            best = maxima[l];
            at = indices[l];
        }
    }
    for (size_t j = done; j < count; j++) {
        if (row[j] > best || at < 0) {
            best = row[j];
            at = (int64_t)j;
        }
    }
    *argmax = (size_t)at;
    *maximum = best;
}

static void statistics_generic(
    const float *row, size_t count, size_t *argmax, float *maximum, float *log_normaliser) {
    float maxima[16];
    int64_t indices[16];
    for (int l = 0; l < 16; l++) {
        maxima[l] = -__builtin_inff();
        indices[l] = -1;
    }
    size_t j = 0;
    for (; j + 16 <= count; j += 16) {
        for (int l = 0; l < 16; l++) {
            if (row[j + l] > maxima[l] || indices[l] < 0) {
                maxima[l] = row[j + l];
                indices[l] = (int64_t)(j + l);
            }
        }
    }
    pick_lanes(maxima, indices, row, count, j, argmax, maximum);
    float lanes[16] = {0};
    for (j = 0; j + 16 <= count; j += 16) {
        for (int l = 0; l < 16; l++) lanes[l] = lanes[l] + exp_scalar(row[j + l] - *maximum);
    }
    float sum = reduce16(lanes);
    for (; j < count; j++) sum = sum + exp_scalar(row[j] - *maximum);
    *log_normaliser = *maximum + logf(sum);
}

#ifdef INPARS_X86

__attribute__((target("avx512f"))) static void statistics_avx512(
    const float *row, size_t count, size_t *argmax, float *maximum, float *log_normaliser) {
    size_t j = 0;
    float maxima[16];
    int64_t indices[16];
    if (count >= 16) {
        // Lane l's running maximum and the block it came from (the first block wins ties).
        __m512 best = _mm512_loadu_ps(row);
        __m512i block = _mm512_setzero_si512(), at = _mm512_setzero_si512();
        for (j = 16; j + 16 <= count; j += 16) {
            block = _mm512_add_epi32(block, _mm512_set1_epi32(1));
            __m512 x = _mm512_loadu_ps(row + j);
            __mmask16 greater = _mm512_cmp_ps_mask(x, best, _CMP_GT_OQ);
            best = _mm512_mask_mov_ps(best, greater, x);
            at = _mm512_mask_mov_epi32(at, greater, block);
        }
        int32_t blocks[16];
        _mm512_storeu_ps(maxima, best);
        _mm512_storeu_si512(blocks, at);
        for (int l = 0; l < 16; l++) indices[l] = (int64_t)blocks[l] * 16 + l;
    } else {
        for (int l = 0; l < 16; l++) {
            maxima[l] = -__builtin_inff();
            indices[l] = -1;
        }
    }
    pick_lanes(maxima, indices, row, count, j, argmax, maximum);
    __m512 shift = _mm512_set1_ps(*maximum);
    __m512 sums = _mm512_setzero_ps();
    for (j = 0; j + 16 <= count; j += 16) {
        sums = _mm512_add_ps(sums, exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(row + j), shift)));
    }
    float lanes[16];
    _mm512_storeu_ps(lanes, sums);
    float sum = reduce16(lanes);
    for (; j < count; j++) sum = sum + exp_scalar(row[j] - *maximum);
    *log_normaliser = *maximum + logf(sum);
}

#endif

void inpars_row_statistics_isa(
    const float *row, size_t count, size_t *argmax, float *maximum, float *log_normaliser,
    inpars_isa isa) {
    if (isa > inpars_kernels_isa()) isa = INPARS_ISA_GENERIC;
#ifdef INPARS_X86
    if (isa == INPARS_ISA_AVX512) {
        statistics_avx512(row, count, argmax, maximum, log_normaliser);
        return;
    }
#endif
    statistics_generic(row, count, argmax, maximum, log_normaliser);
}

void inpars_row_statistics(
    const float *row, size_t count, size_t *argmax, float *maximum, float *log_normaliser) {
    inpars_row_statistics_isa(row, count, argmax, maximum, log_normaliser, inpars_kernels_isa());
}

inpars_isa inpars_kernels_isa(void) {
    static int cached = -1;
    int isa = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (isa >= 0) return (inpars_isa)isa;
    isa = INPARS_ISA_GENERIC;
#ifdef INPARS_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) isa = INPARS_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2")) isa = INPARS_ISA_AVX2;
#endif
    __atomic_store_n(&cached, isa, __ATOMIC_RELAXED);
    return (inpars_isa)isa;
}

int inpars_cpu_vector_level(void) {
#ifdef INPARS_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx")) return 1;
#endif
    return 0;
}

void inpars_softmax_row_isa(float *row, size_t count, inpars_isa isa) {
    if (isa > inpars_kernels_isa()) isa = INPARS_ISA_GENERIC;
    switch (isa) {
#ifdef INPARS_X86
    case INPARS_ISA_AVX512: softmax_avx512(row, count); return;
    case INPARS_ISA_AVX2: softmax_avx2(row, count); return;
#endif
    default: softmax_generic(row, count); return;
    }
}

void inpars_softmax_row(float *row, size_t count) {
    inpars_softmax_row_isa(row, count, inpars_kernels_isa());
}
