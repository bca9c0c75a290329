// The Cephes single-precision exp shared by the kernels (private to CKernels): scalar, AVX2
// and AVX-512 versions with the same operations in the same order, so the same bits.
// `exp(x) = 2^n · exp(r)`, `n = round(x / ln 2)`, `r = x − n·ln 2` (two constants), `exp(r)`
// by a degree-6 polynomial; relative error ≈ 1e-7; inputs clamped at −87.
#ifndef INPARS_EXP_H
#define INPARS_EXP_H

#include <stdint.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define INPARS_X86 1
#endif

// The body of an `inpars_*_isa` entry point: `name_avx512 arguments` when `use_avx512` (an
// expression: the caller asked for AVX-512 and the CPU has what the kernel needs) holds on an
// x86 build, else `name_generic arguments`; then returns.
#ifdef INPARS_X86
#define INPARS_AVX512_OR_GENERIC(use_avx512, name, arguments) \
    do {                                                      \
        if (use_avx512) {                                     \
            name##_avx512 arguments;                          \
            return;                                           \
        }                                                     \
        name##_generic arguments;                             \
    } while (0)
#else
#define INPARS_AVX512_OR_GENERIC(use_avx512, name, arguments) \
    do {                                                      \
        (void)sizeof(use_avx512);                             \
        name##_generic arguments;                             \
    } while (0)
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

/// Adds 16 lane sums pairwise (l + 8, + 4, + 2, + 1): the fixed reduction every path of a
/// kernel ends its 16-lane sums with.
static inline float reduce16(float *lanes) {
    for (int width = 8; width >= 1; width /= 2) {
        for (int l = 0; l < width; l++) lanes[l] = lanes[l] + lanes[l + width];
    }
    return lanes[0];
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

#endif

#endif
