// The SwiGLU gate, out = silu(gate) · linear; see CKernels.h for the contract.
#include "CKernels.h"

#include "exp.h"

/// `x · σ(x)` with `σ` from `e = exp(−|x|)` (never overflows): `1/(1+e)` for x ≥ 0, `e/(1+e)`
/// below.
static inline float silu_scalar(float x) {
    float a = x < 0 ? -x : x;
    float e = exp_scalar(0.0f - a);
    float numerator = x < 0 ? e : 1.0f;
    return x * (numerator / (1.0f + e));
}

static void gated_silu_generic(const float *gate, const float *linear, float *out, size_t count) {
    for (size_t i = 0; i < count; i++) out[i] = silu_scalar(gate[i]) * linear[i];
}

#ifdef INPARS_X86

__attribute__((target("avx512f"))) static void gated_silu_avx512(
    const float *gate, const float *linear, float *out, size_t count
) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512 x = _mm512_loadu_ps(gate + i);
        __mmask16 negative = _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ);
        __m512 a = _mm512_mask_sub_ps(x, negative, zero, x);
        __m512 e = exp_avx512(_mm512_sub_ps(zero, a));
        __m512 numerator = _mm512_mask_blend_ps(negative, one, e);
        __m512 s = _mm512_div_ps(numerator, _mm512_add_ps(one, e));
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(x, s), _mm512_loadu_ps(linear + i));
        _mm512_storeu_ps(out + i, v);
    }
    gated_silu_generic(gate + i, linear + i, out + i, count - i);
}

#endif

void inpars_gated_silu_isa(
    const float *gate, const float *linear, float *out, size_t count, inpars_isa isa
) {
#ifdef INPARS_X86
    if (isa == INPARS_ISA_AVX512 && inpars_kernels_isa() == INPARS_ISA_AVX512) {
        gated_silu_avx512(gate, linear, out, count);
        return;
    }
#endif
    gated_silu_generic(gate, linear, out, count);
}

void inpars_gated_silu(const float *gate, const float *linear, float *out, size_t count) {
    inpars_gated_silu_isa(gate, linear, out, count, inpars_kernels_isa());
}
