// Exact GELU, 0.5·x·(1 + erf(x/√2)), in place; see CKernels.h for the contract.
#include "CKernels.h"

#include "exp.h"

#define SQRT_HALF 0.70710678118654752440f
#define AS_P 0.3275911f
#define A1 1.061405429f
#define A2 1.453152027f
#define A3 1.421413741f
#define A4 0.284496736f
#define A5 0.254829592f

static inline float gelu_scalar(float x) {
    float z = x * SQRT_HALF;
    float a = z < 0 ? -z : z;
    float t = 1.0f / (1.0f + AS_P * a);
    float poly = A1;
    poly = poly * t - A2;
    poly = poly * t + A3;
    poly = poly * t - A4;
    poly = poly * t + A5;
    poly = poly * t;
    float magnitude = 1.0f - poly * exp_scalar(-(a * a));
    float erf = z < 0 ? -magnitude : magnitude;
    return 0.5f * x * (1.0f + erf);
}

static void gelu_generic(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = gelu_scalar(x[i]);
}

#ifdef INPARS_X86

__attribute__((target("avx512f"))) static void gelu_avx512(float *x, size_t count) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 z = _mm512_mul_ps(v, _mm512_set1_ps(SQRT_HALF));
        __mmask16 negative = _mm512_cmp_ps_mask(z, zero, _CMP_LT_OQ);
        __m512 a = _mm512_mask_sub_ps(z, negative, zero, z);
        __m512 t = _mm512_div_ps(one, _mm512_add_ps(one, _mm512_mul_ps(_mm512_set1_ps(AS_P), a)));
        __m512 poly = _mm512_set1_ps(A1);
        poly = _mm512_sub_ps(_mm512_mul_ps(poly, t), _mm512_set1_ps(A2));
        poly = _mm512_add_ps(_mm512_mul_ps(poly, t), _mm512_set1_ps(A3));
        poly = _mm512_sub_ps(_mm512_mul_ps(poly, t), _mm512_set1_ps(A4));
        poly = _mm512_add_ps(_mm512_mul_ps(poly, t), _mm512_set1_ps(A5));
        poly = _mm512_mul_ps(poly, t);
        __m512 e = exp_avx512(_mm512_sub_ps(zero, _mm512_mul_ps(a, a)));
        __m512 magnitude = _mm512_sub_ps(one, _mm512_mul_ps(poly, e));
        __m512 erf = _mm512_mask_sub_ps(magnitude, negative, zero, magnitude);
        __m512 half = _mm512_mul_ps(_mm512_set1_ps(0.5f), v);
        _mm512_storeu_ps(x + i, _mm512_mul_ps(half, _mm512_add_ps(one, erf)));
    }
    gelu_generic(x + i, count - i);
}

#endif

void inpars_gelu_isa(float *x, size_t count, inpars_isa isa) {
#ifdef INPARS_X86
    if (isa == INPARS_ISA_AVX512 && inpars_kernels_isa() == INPARS_ISA_AVX512) {
        gelu_avx512(x, count);
        return;
    }
#endif
    gelu_generic(x, count);
}

void inpars_gelu(float *x, size_t count) { inpars_gelu_isa(x, count, inpars_kernels_isa()); }
