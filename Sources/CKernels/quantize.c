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

/// ``inverse_rms`` of a whole row, the 16 lanes filled in plain C.
static float inverse_rms_generic(const float *x, size_t count, float epsilon) {
    float lanes[16] = {0};
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        for (int l = 0; l < 16; l++) lanes[l] = lanes[l] + x[i + l] * x[i + l];
    }
    return inverse_rms(lanes, x, i, count, epsilon);
}

// Activation rows are quantized asymmetrically: a row whose values span [lo, hi] (widened to
// hold 0) gets 256 codes, `x ≈ scale · (q − zero)` with `q` s8, `scale = (hi − lo) / 255`
// and `zero` the code of 0.0, so a one-sided row (ReLU outputs) uses all 256 codes instead
// of 128. A positive row factor (the RMS norm's inverse, or the scale of the product the row
// came from) changes neither the codes nor the zero point, only the scale.

/// `255 / (hi − lo)` (0 for an all-zero row) and, in `zero`, the s8 code of 0.0:
/// `round(−lo · 255 / (hi − lo)) − 128` (−128 when lo = 0).
static inline float codes_per_unit(float lo, float hi, int32_t *zero) {
    float range = hi - lo;
    float toCodes = range > 0 ? 255.0f / range : 0;
    *zero = (int8_t)bits_of(-lo * toCodes - 128.0f + MAGIC);
    return toCodes;
}

/// The s8 code of `t`: `round(clamp(t · toCodes + zero, −128, 127))`.
static inline int8_t code(float t, float toCodes, float zero) {
    float v = t * toCodes + zero;
    v = v < -128.0f ? -128.0f : v;
    v = v > 127.0f ? 127.0f : v;
    return (int8_t)bits_of(v + MAGIC);
}

/// `(hi − lo) · factor / 255`: the row's scale.
static inline float row_scale(float lo, float hi, float factor) {
    return (hi - lo) * factor / 255.0f;
}

static void quantize_activations_generic(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, int32_t *zeros
) {
    for (size_t r = 0; r < rows; r++) {
        const float *source = x + r * columns;
        int8_t *target = q + r * columns;
        float lo = 0, hi = 0;
        for (size_t i = 0; i < columns; i++) {
            lo = source[i] < lo ? source[i] : lo;
            hi = source[i] > hi ? source[i] : hi;
        }
        float toCodes = codes_per_unit(lo, hi, zeros + r);
        scales[r] = row_scale(lo, hi, 1.0f);
        float zero = (float)zeros[r];
        for (size_t i = 0; i < columns; i++) target[i] = code(source[i], toCodes, zero);
    }
}

static void rms_quantize_generic(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, int8_t *q,
    float *scales, int32_t *zeros
) {
    for (size_t r = 0; r < rows; r++) {
        const float *source = x + r * columns;
        int8_t *target = q + r * columns;
        float inverse = inverse_rms_generic(source, columns, epsilon);
        float lo = 0, hi = 0;
        for (size_t i = 0; i < columns; i++) {
            float t = source[i] * weight[i];
            lo = t < lo ? t : lo;
            hi = t > hi ? t : hi;
        }
        float toCodes = codes_per_unit(lo, hi, zeros + r);
        scales[r] = row_scale(lo, hi, inverse);
        float zero = (float)zeros[r];
        for (size_t i = 0; i < columns; i++) target[i] = code(source[i] * weight[i], toCodes, zero);
    }
}

static void rms_normalize_generic(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, float *out
) {
    for (size_t r = 0; r < rows; r++) {
        const float *source = x + r * columns;
        float *target = out + r * columns;
        float inverse = inverse_rms_generic(source, columns, epsilon);
        for (size_t i = 0; i < columns; i++) target[i] = source[i] * inverse * weight[i];
    }
}

/// `relu((float)a · columnScales)` of one element (the row scale is carried by the new scale).
static inline float rectified(int32_t a, float columnScale) {
    float v = (float)a * columnScale;
    return v > 0 ? v : 0;
}

static void rescale_relu_quantize_generic(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, int8_t *q, float *scales, int32_t *zeros
) {
    for (size_t r = 0; r < rows; r++) {
        const int32_t *a = acc + r * columns;
        int8_t *target = q + r * columns;
        float hi = 0;
        for (size_t i = 0; i < columns; i++) {
            float t = rectified(a[i], columnScales[i]);
            hi = t > hi ? t : hi;
        }
        float toCodes = codes_per_unit(0, hi, zeros + r);
        scales[r] = row_scale(0, hi, rowScales[r]);
        float zero = (float)zeros[r];
        for (size_t i = 0; i < columns; i++) target[i] = code(rectified(a[i], columnScales[i]), toCodes, zero);
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

/// The codes of 16 values (``code``'s operations, in its order), stored as 16 bytes.
__attribute__((target("avx512f"))) static inline void code16(__m512 t, __m512 toCodes, __m512 zero, int8_t *target) {
    __m512 v = _mm512_add_ps(_mm512_mul_ps(t, toCodes), zero);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-128.0f)), _mm512_set1_ps(127.0f));
    v = _mm512_add_ps(v, _mm512_set1_ps(MAGIC));
    _mm_storeu_si128((__m128i *)target, _mm512_cvtepi32_epi8(_mm512_castps_si512(v)));
}

/// Row `r`'s scale, zero point and codes per unit from its range (``codes_per_unit``).
__attribute__((target("avx512f"))) static inline float range_codes(
    __m512 lows, __m512 highs, float lo, float hi, float factor, float *scale, int32_t *zero
) {
    float l = _mm512_reduce_min_ps(lows), h = _mm512_reduce_max_ps(highs);
    lo = l < lo ? l : lo;
    hi = h > hi ? h : hi;
    *scale = row_scale(lo, hi, factor);
    return codes_per_unit(lo, hi, zero);
}

__attribute__((target("avx512f"))) static void quantize_activations_avx512(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, int32_t *zeros
) {
    for (size_t r = 0; r < rows; r++) {
        const float *source = x + r * columns;
        int8_t *target = q + r * columns;
        __m512 lows = _mm512_setzero_ps(), highs = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= columns; i += 16) {
            __m512 v = _mm512_loadu_ps(source + i);
            lows = _mm512_min_ps(lows, v);
            highs = _mm512_max_ps(highs, v);
        }
        float lo = 0, hi = 0;
        for (size_t j = i; j < columns; j++) {
            lo = source[j] < lo ? source[j] : lo;
            hi = source[j] > hi ? source[j] : hi;
        }
        float toCodes = range_codes(lows, highs, lo, hi, 1.0f, scales + r, zeros + r);
        float zero = (float)zeros[r];
        __m512 toCodesV = _mm512_set1_ps(toCodes), zeroV = _mm512_set1_ps(zero);
        for (i = 0; i + 16 <= columns; i += 16) code16(_mm512_loadu_ps(source + i), toCodesV, zeroV, target + i);
        for (; i < columns; i++) target[i] = code(source[i], toCodes, zero);
    }
}

__attribute__((target("avx512f"))) static void rms_quantize_avx512(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, int8_t *q,
    float *scales, int32_t *zeros
) {
    for (size_t r = 0; r < rows; r++) {
        const float *source = x + r * columns;
        int8_t *target = q + r * columns;
        __m512 sums = _mm512_setzero_ps();
        __m512 lows = _mm512_setzero_ps(), highs = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= columns; i += 16) {
            __m512 v = _mm512_loadu_ps(source + i);
            sums = _mm512_add_ps(sums, _mm512_mul_ps(v, v));
            __m512 t = _mm512_mul_ps(v, _mm512_loadu_ps(weight + i));
            lows = _mm512_min_ps(lows, t);
            highs = _mm512_max_ps(highs, t);
        }
        float lanes[16];
        _mm512_storeu_ps(lanes, sums);
        float inverse = inverse_rms(lanes, source, i, columns, epsilon);
        float lo = 0, hi = 0;
        for (size_t j = i; j < columns; j++) {
            float t = source[j] * weight[j];
            lo = t < lo ? t : lo;
            hi = t > hi ? t : hi;
        }
        float toCodes = range_codes(lows, highs, lo, hi, inverse, scales + r, zeros + r);
        float zero = (float)zeros[r];
        __m512 toCodesV = _mm512_set1_ps(toCodes), zeroV = _mm512_set1_ps(zero);
        for (i = 0; i + 16 <= columns; i += 16) {
            __m512 t = _mm512_mul_ps(_mm512_loadu_ps(source + i), _mm512_loadu_ps(weight + i));
            code16(t, toCodesV, zeroV, target + i);
        }
        for (; i < columns; i++) target[i] = code(source[i] * weight[i], toCodes, zero);
    }
}

__attribute__((target("avx512f"))) static void rms_normalize_avx512(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, float *out
) {
    for (size_t r = 0; r < rows; r++) {
        const float *source = x + r * columns;
        float *target = out + r * columns;
        __m512 sums = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= columns; i += 16) {
            __m512 v = _mm512_loadu_ps(source + i);
            sums = _mm512_add_ps(sums, _mm512_mul_ps(v, v));
        }
        float lanes[16];
        _mm512_storeu_ps(lanes, sums);
        float inverse = inverse_rms(lanes, source, i, columns, epsilon);
        __m512 inverseV = _mm512_set1_ps(inverse);
        for (i = 0; i + 16 <= columns; i += 16) {
            __m512 t = _mm512_mul_ps(_mm512_loadu_ps(source + i), inverseV);
            _mm512_storeu_ps(target + i, _mm512_mul_ps(t, _mm512_loadu_ps(weight + i)));
        }
        for (; i < columns; i++) target[i] = source[i] * inverse * weight[i];
    }
}

__attribute__((target("avx512f"))) static void rescale_relu_quantize_avx512(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, int8_t *q, float *scales, int32_t *zeros
) {
    const __m512 zeroV = _mm512_setzero_ps();
    for (size_t r = 0; r < rows; r++) {
        const int32_t *a = acc + r * columns;
        int8_t *target = q + r * columns;
        __m512 highs = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= columns; i += 16) {
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(a + i)), _mm512_loadu_ps(columnScales + i));
            highs = _mm512_max_ps(highs, v);
        }
        float hi = 0;
        for (size_t j = i; j < columns; j++) {
            float t = rectified(a[j], columnScales[j]);
            hi = t > hi ? t : hi;
        }
        float toCodes = range_codes(zeroV, highs, 0, hi, rowScales[r], scales + r, zeros + r);
        float zero = (float)zeros[r];
        __m512 toCodesV = _mm512_set1_ps(toCodes), zeroCode = _mm512_set1_ps(zero);
        for (i = 0; i + 16 <= columns; i += 16) {
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(a + i)), _mm512_loadu_ps(columnScales + i));
            code16(_mm512_max_ps(v, zeroV), toCodesV, zeroCode, target + i);
        }
        for (; i < columns; i++) target[i] = code(rectified(a[i], columnScales[i]), toCodes, zero);
    }
}

#endif

/// The body of an `inpars_*_isa` entry point (`exp.h`): AVX-512 when `isa` asks for it and
/// the CPU has it.
#define AVX512_OR_GENERIC(isa, name, arguments) \
    INPARS_AVX512_OR_GENERIC((isa) == INPARS_ISA_AVX512 && inpars_kernels_isa() == INPARS_ISA_AVX512, name, arguments)

void inpars_quantize_rows_isa(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, float levels,
    inpars_isa isa
) {
    AVX512_OR_GENERIC(isa, quantize, (x, rows, columns, q, scales, levels));
}

void inpars_rescale_isa(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, float *out, int accumulate, inpars_isa isa
) {
    AVX512_OR_GENERIC(isa, rescale, (acc, rows, columns, rowScales, columnScales, out, accumulate));
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

void inpars_quantize_activations_isa(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, int32_t *zeros,
    inpars_isa isa
) {
    AVX512_OR_GENERIC(isa, quantize_activations, (x, rows, columns, q, scales, zeros));
}

void inpars_quantize_activations(
    const float *x, size_t rows, size_t columns, int8_t *q, float *scales, int32_t *zeros
) {
    inpars_quantize_activations_isa(x, rows, columns, q, scales, zeros, inpars_kernels_isa());
}

void inpars_rms_quantize_rows_isa(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, int8_t *q,
    float *scales, int32_t *zeros, inpars_isa isa
) {
    AVX512_OR_GENERIC(isa, rms_quantize, (x, rows, columns, weight, epsilon, q, scales, zeros));
}

void inpars_rms_quantize_rows(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, int8_t *q,
    float *scales, int32_t *zeros
) {
    inpars_rms_quantize_rows_isa(x, rows, columns, weight, epsilon, q, scales, zeros, inpars_kernels_isa());
}

void inpars_rms_normalize_rows_isa(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, float *out,
    inpars_isa isa
) {
    AVX512_OR_GENERIC(isa, rms_normalize, (x, rows, columns, weight, epsilon, out));
}

void inpars_rms_normalize_rows(
    const float *x, size_t rows, size_t columns, const float *weight, float epsilon, float *out
) {
    inpars_rms_normalize_rows_isa(x, rows, columns, weight, epsilon, out, inpars_kernels_isa());
}

void inpars_rescale_relu_quantize_isa(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, int8_t *q, float *scales, int32_t *zeros, inpars_isa isa
) {
    AVX512_OR_GENERIC(isa, rescale_relu_quantize, (acc, rows, columns, rowScales, columnScales, q, scales, zeros));
}

void inpars_rescale_relu_quantize(
    const int32_t *acc, size_t rows, size_t columns, const float *rowScales,
    const float *columnScales, int8_t *q, float *scales, int32_t *zeros
) {
    inpars_rescale_relu_quantize_isa(acc, rows, columns, rowScales, columnScales, q, scales, zeros, inpars_kernels_isa());
}

void inpars_int8_subtract_zeros(
    int32_t *acc, size_t rows, size_t columns, const int32_t *zeros, const int32_t *columnSums
) {
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < columns; c++) acc[r * columns + c] -= zeros[r] * columnSums[c];
    }
}
