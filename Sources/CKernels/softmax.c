// Row softmax with a vectorised exp; see CKernels.h for the contract.
#include "CKernels.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define INPARS_X86 1
#endif

// Multiplications and additions stay separate in every path (a fused multiply-add would round
// once instead of twice and make the paths differ).
#pragma STDC FP_CONTRACT OFF
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

#define LOG2E 1.44269504088896341f
#define MAGIC 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer in the low mantissa bits */
#define MAGIC_BITS 0x4B400000
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f

static inline float exp_scalar(float input) {
    float x = input < -87.0f ? -87.0f : input;
    float t = x * LOG2E + MAGIC;
    float n = t - MAGIC;
    float r = x - n * LN2_HI;
    r = r - n * LN2_LO;
    float p = P0;
    p = p * r + P1;
    p = p * r + P2;
    p = p * r + P3;
    p = p * r + P4;
    p = p * r + P5;
    float y = p * (r * r) + r + 1.0f;
    int32_t tb, integer;
    memcpy(&tb, &t, 4);
    integer = tb - MAGIC_BITS;
    int32_t sb = (int32_t)((uint32_t)(integer + 127) << 23);
    float scale;
    memcpy(&scale, &sb, 4);
    return y * scale;
}

/// Adds the 16 lane sums pairwise (l + 8, + 4, + 2, + 1).
static inline float reduce16(float *lanes) {
    for (int width = 8; width >= 1; width /= 2) {
        for (int l = 0; l < width; l++) lanes[l] = lanes[l] + lanes[l + width];
    }
    return lanes[0];
}

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

__attribute__((target("avx2"))) static inline __m256 exp_avx2(__m256 input) {
    // max(-87, x) returns x when x is NaN, as the scalar comparison does.
    __m256 x = _mm256_max_ps(_mm256_set1_ps(-87.0f), input);
    __m256 t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _mm256_set1_ps(MAGIC));
    __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(MAGIC));
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(LN2_HI)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(LN2_LO)));
    __m256 p = _mm256_set1_ps(P0);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(P1));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(P2));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(P3));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(P4));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(P5));
    __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, _mm256_mul_ps(r, r)), r), _mm256_set1_ps(1.0f));
    __m256i integer = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(MAGIC_BITS));
    __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(integer, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(scale));
}

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

__attribute__((target("avx512f"))) static inline __m512 exp_avx512(__m512 input) {
    __m512 x = _mm512_max_ps(_mm512_set1_ps(-87.0f), input);
    __m512 t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _mm512_set1_ps(MAGIC));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(MAGIC));
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(LN2_HI)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(LN2_LO)));
    __m512 p = _mm512_set1_ps(P0);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(P1));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(P2));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(P3));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(P4));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(P5));
    __m512 y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(r, r)), r), _mm512_set1_ps(1.0f));
    __m512i integer = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(MAGIC_BITS));
    __m512i scale = _mm512_slli_epi32(_mm512_add_epi32(integer, _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(scale));
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
