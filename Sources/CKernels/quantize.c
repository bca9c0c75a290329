// int8 quantization of activation rows and the s32 → f32 rescale around oneDNN's int8 matmul.
// Every operation is exact or element-wise, so the AVX-512 and generic paths give the same bits.
#include "CKernels.h"

#include "exp.h" /* the includes, no-contraction pragmas and MAGIC */

static inline uint32_t bits_of(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    return b;
}

static inline float float_of(uint32_t b) {
    float x;
    memcpy(&x, &b, 4);
    return x;
}

/// `max |x[i]|` as the maximum of the bit patterns with the sign cleared (for non-negative
/// floats their order is the integers' order).
static float max_magnitude_generic(const float *x, size_t count) {
    uint32_t maximum = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t b = bits_of(x[i]) & 0x7FFFFFFFu;
        maximum = b > maximum ? b : maximum;
    }
    return float_of(maximum);
}

static void quantize_generic(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, float levels
) {
    for (size_t r = 0; r < rows; r++) {
        const float *source = x + r * columns;
        int8_t *target = q + r * columns;
        float maximum = max_magnitude_generic(source, columns);
        scales[r] = maximum / levels;
        float inverse = maximum > 0 ? levels / maximum : 0;
        // |x · inverse| ≤ 127: adding 1.5 · 2^23 rounds to the nearest integer (ties to even)
        // and leaves it, two's complement, in the low mantissa bits.
        for (size_t i = 0; i < columns; i++) target[i] = (int8_t)bits_of(source[i] * inverse + MAGIC);
    }
}

/// Columns `from ..< to` of one row of the rescale.
static inline void rescale_columns(
    const int32_t *a, const float *columnScales, float rowScale, float *o, size_t from,
    size_t to, int accumulate
) {
    for (size_t i = from; i < to; i++) {
        float v = (float)a[i] * (columnScales[i] * rowScale);
        o[i] = accumulate ? o[i] + v : v;
    }
}

static void rescale_generic(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, float *out, int accumulate
) {
    for (size_t r = 0; r < rows; r++) {
        rescale_columns(acc + r * columns, columnScales, rowScales[r], out + r * columns, 0, columns, accumulate);
    }
}

/// `1 / √(Σ x² / count + ε)` with the squares summed in 16 lanes (lane l takes elements l,
/// l + 16, …), reduced by `reduce16`, then the tail in order; the AVX-512 path fills the same
/// lanes.
static float inverse_rms(float lanes[16], const float *x, size_t done, size_t count, float epsilon) {
    float sum = reduce16(lanes);
    for (size_t i = done; i < count; i++) sum = sum + x[i] * x[i];
    return 1.0f / sqrtf(sum / (float)count + epsilon);
}

/// The scale and quantized values of a row whose largest magnitude is `maximum` before a
/// positive row factor `factor` (the RMS norm's inverse, or the activation scale of the
/// product the row came from): quantization does not change under a positive factor, so
/// only the scale carries it.
static inline float row_scale(float maximum, float factor, float levels) {
    return maximum * factor / levels;
}

static void rms_quantize_generic(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, int8_t *q,
    float *scales, float levels
) {
    for (size_t r = 0; r < rows; r++) {
        const float *source = x + r * columns;
        int8_t *target = q + r * columns;
        float lanes[16] = {0};
        size_t i = 0;
        for (; i + 16 <= columns; i += 16) {
            for (int l = 0; l < 16; l++) lanes[l] = lanes[l] + source[i + l] * source[i + l];
        }
        float inverse = inverse_rms(lanes, source, i, columns, epsilon);
        uint32_t maximumBits = 0;
        for (i = 0; i < columns; i++) {
            uint32_t b = bits_of(source[i] * weight[i]) & 0x7FFFFFFFu;
            maximumBits = b > maximumBits ? b : maximumBits;
        }
        float maximum = float_of(maximumBits);
        scales[r] = row_scale(maximum, inverse, levels);
        float toLevels = maximum > 0 ? levels / maximum : 0;
        for (i = 0; i < columns; i++) {
            target[i] = (int8_t)bits_of(source[i] * weight[i] * toLevels + MAGIC);
        }
    }
}

/// `relu((float)a · columnScales)` of one element (the row scale is carried by the new scale).
static inline float rectified(int32_t a, float columnScale) {
    float v = (float)a * columnScale;
    return v > 0 ? v : 0;
}

static void rescale_relu_quantize_generic(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, int8_t *q, float *scales, float levels
) {
    for (size_t r = 0; r < rows; r++) {
        const int32_t *a = acc + r * columns;
        int8_t *target = q + r * columns;
        uint32_t maximumBits = 0;
        for (size_t i = 0; i < columns; i++) {
            uint32_t b = bits_of(rectified(a[i], columnScales[i]));
            maximumBits = b > maximumBits ? b : maximumBits;
        }
        float maximum = float_of(maximumBits);
        scales[r] = row_scale(maximum, rowScales[r], levels);
        float toLevels = maximum > 0 ? levels / maximum : 0;
        for (size_t i = 0; i < columns; i++) {
            target[i] = (int8_t)bits_of(rectified(a[i], columnScales[i]) * toLevels + MAGIC);
        }
    }
}

#ifdef INPARS_X86

__attribute__((target("avx512f"))) static void quantize_avx512(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, float levels
) {
    const __m512i clear = _mm512_set1_epi32(0x7FFFFFFF);
    for (size_t r = 0; r < rows; r++) {
        const float *source = x + r * columns;
        int8_t *target = q + r * columns;
        __m512i maxima = _mm512_setzero_si512();
        size_t i = 0;
        for (; i + 16 <= columns; i += 16) {
            __m512i b = _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(source + i)), clear);
            maxima = _mm512_max_epu32(maxima, b);
        }
        uint32_t maximumBits = _mm512_reduce_max_epu32(maxima);
        float rest = max_magnitude_generic(source + i, columns - i);
        float maximum = float_of(maximumBits);
        if (rest > maximum) maximum = rest;
        scales[r] = maximum / levels;
        float inverse = maximum > 0 ? levels / maximum : 0;
        __m512 inv = _mm512_set1_ps(inverse), magic = _mm512_set1_ps(MAGIC);
        for (i = 0; i + 16 <= columns; i += 16) {
            __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(source + i), inv), magic);
            _mm_storeu_si128((__m128i *)(target + i), _mm512_cvtepi32_epi8(_mm512_castps_si512(v)));
        }
        for (; i < columns; i++) target[i] = (int8_t)bits_of(source[i] * inverse + MAGIC);
    }
}

__attribute__((target("avx512f"))) static void rescale_avx512(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, float *out, int accumulate
) {
    for (size_t r = 0; r < rows; r++) {
        const int32_t *a = acc + r * columns;
        float *o = out + r * columns;
        float rowScale = rowScales[r];
        __m512 scale = _mm512_set1_ps(rowScale);
        size_t i = 0;
        for (; i + 16 <= columns; i += 16) {
            __m512 v = _mm512_cvtepi32_ps(_mm512_loadu_si512(a + i));
            v = _mm512_mul_ps(v, _mm512_mul_ps(_mm512_loadu_ps(columnScales + i), scale));
            if (accumulate) v = _mm512_add_ps(_mm512_loadu_ps(o + i), v);
            _mm512_storeu_ps(o + i, v);
        }
        rescale_columns(a, columnScales, rowScale, o, i, columns, accumulate);
    }
}

__attribute__((target("avx512f"))) static void rms_quantize_avx512(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, int8_t *q,
    float *scales, float levels
) {
    const __m512i clear = _mm512_set1_epi32(0x7FFFFFFF);
    for (size_t r = 0; r < rows; r++) {
        const float *source = x + r * columns;
        int8_t *target = q + r * columns;
        __m512 sums = _mm512_setzero_ps();
        __m512i maxima = _mm512_setzero_si512();
        size_t i = 0;
        for (; i + 16 <= columns; i += 16) {
            __m512 v = _mm512_loadu_ps(source + i);
            sums = _mm512_add_ps(sums, _mm512_mul_ps(v, v));
            __m512 t = _mm512_mul_ps(v, _mm512_loadu_ps(weight + i));
            maxima = _mm512_max_epu32(maxima, _mm512_and_si512(_mm512_castps_si512(t), clear));
        }
        float lanes[16];
        _mm512_storeu_ps(lanes, sums);
        float inverse = inverse_rms(lanes, source, i, columns, epsilon);
        uint32_t maximumBits = _mm512_reduce_max_epu32(maxima);
        for (size_t j = i; j < columns; j++) {
            uint32_t b = bits_of(source[j] * weight[j]) & 0x7FFFFFFFu;
            maximumBits = b > maximumBits ? b : maximumBits;
        }
        float maximum = float_of(maximumBits);
        scales[r] = row_scale(maximum, inverse, levels);
        float toLevels = maximum > 0 ? levels / maximum : 0;
        __m512 inv = _mm512_set1_ps(toLevels), magic = _mm512_set1_ps(MAGIC);
        for (i = 0; i + 16 <= columns; i += 16) {
            __m512 t = _mm512_mul_ps(_mm512_loadu_ps(source + i), _mm512_loadu_ps(weight + i));
            __m512 v = _mm512_add_ps(_mm512_mul_ps(t, inv), magic);
            _mm_storeu_si128((__m128i *)(target + i), _mm512_cvtepi32_epi8(_mm512_castps_si512(v)));
        }
        for (; i < columns; i++) target[i] = (int8_t)bits_of(source[i] * weight[i] * toLevels + MAGIC);
    }
}

__attribute__((target("avx512f"))) static void rescale_relu_quantize_avx512(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, int8_t *q, float *scales, float levels
) {
    const __m512 zero = _mm512_setzero_ps();
    for (size_t r = 0; r < rows; r++) {
        const int32_t *a = acc + r * columns;
        int8_t *target = q + r * columns;
        __m512i maxima = _mm512_setzero_si512();
        size_t i = 0;
        for (; i + 16 <= columns; i += 16) {
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(a + i)), _mm512_loadu_ps(columnScales + i));
            maxima = _mm512_max_epu32(maxima, _mm512_castps_si512(_mm512_max_ps(v, zero)));
        }
        uint32_t maximumBits = _mm512_reduce_max_epu32(maxima);
        for (size_t j = i; j < columns; j++) {
            uint32_t b = bits_of(rectified(a[j], columnScales[j]));
            maximumBits = b > maximumBits ? b : maximumBits;
        }
        float maximum = float_of(maximumBits);
        scales[r] = row_scale(maximum, rowScales[r], levels);
        float toLevels = maximum > 0 ? levels / maximum : 0;
        __m512 inv = _mm512_set1_ps(toLevels), magic = _mm512_set1_ps(MAGIC);
        for (i = 0; i + 16 <= columns; i += 16) {
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(a + i)), _mm512_loadu_ps(columnScales + i));
            v = _mm512_add_ps(_mm512_mul_ps(_mm512_max_ps(v, zero), inv), magic);
            _mm_storeu_si128((__m128i *)(target + i), _mm512_cvtepi32_epi8(_mm512_castps_si512(v)));
        }
        for (; i < columns; i++) target[i] = (int8_t)bits_of(rectified(a[i], columnScales[i]) * toLevels + MAGIC);
    }
}

#endif

void inpars_quantize_rows_isa(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, float levels,
    inpars_isa isa
) {
#ifdef INPARS_X86
    if (isa == INPARS_ISA_AVX512 && inpars_kernels_isa() == INPARS_ISA_AVX512) {
        quantize_avx512(x, rows, columns, q, scales, levels);
        return;
    }
#endif
    quantize_generic(x, rows, columns, q, scales, levels);
}

void inpars_rescale_isa(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, float *out, int accumulate, inpars_isa isa
) {
#ifdef INPARS_X86
    if (isa == INPARS_ISA_AVX512 && inpars_kernels_isa() == INPARS_ISA_AVX512) {
        rescale_avx512(acc, rows, columns, rowScales, columnScales, out, accumulate);
        return;
    }
#endif
    rescale_generic(acc, rows, columns, rowScales, columnScales, out, accumulate);
}

void inpars_quantize_rows(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, float levels
) {
    inpars_quantize_rows_isa(x, rows, columns, q, scales, levels, inpars_kernels_isa());
}

void inpars_rescale(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, float *out, int accumulate
) {
    inpars_rescale_isa(acc, rows, columns, rowScales, columnScales, out, accumulate, inpars_kernels_isa());
}

void inpars_rms_quantize_rows_isa(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, int8_t *q,
    float *scales, float levels, inpars_isa isa
) {
#ifdef INPARS_X86
    if (isa == INPARS_ISA_AVX512 && inpars_kernels_isa() == INPARS_ISA_AVX512) {
        rms_quantize_avx512(x, rows, columns, weight, epsilon, q, scales, levels);
        return;
    }
#endif
    rms_quantize_generic(x, rows, columns, weight, epsilon, q, scales, levels);
}

void inpars_rms_quantize_rows(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, int8_t *q,
    float *scales, float levels
) {
    inpars_rms_quantize_rows_isa(x, rows, columns, weight, epsilon, q, scales, levels, inpars_kernels_isa());
}

void inpars_rescale_relu_quantize_isa(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, int8_t *q, float *scales, float levels, inpars_isa isa
) {
#ifdef INPARS_X86
    if (isa == INPARS_ISA_AVX512 && inpars_kernels_isa() == INPARS_ISA_AVX512) {
        rescale_relu_quantize_avx512(acc, rows, columns, rowScales, columnScales, q, scales, levels);
        return;
    }
#endif
    rescale_relu_quantize_generic(acc, rows, columns, rowScales, columnScales, q, scales, levels);
}

void inpars_rescale_relu_quantize(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, int8_t *q, float *scales, float levels
) {
    inpars_rescale_relu_quantize_isa(acc, rows, columns, rowScales, columnScales, q, scales, levels, inpars_kernels_isa());
}
