// TREC run lines (`qid Q0 docid rank score tag\n`) without printf per line; see CKernels.h.
//
// A score is written as printf's "%.<decimals>f" writes it (glibc prints the exact binary
// value rounded half to even): for |value| < 2^33 and decimals ≤ 9, a float's value times
// 10^decimals is exact in a double and rounded by adding 2^52; any other double's significand
// (53 bits) times 10^decimals (≤ 30 bits) is exact in 128 bits, shifted right with that
// rounding; other values go to snprintf itself.
#include "CKernels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF // the rounding by 2^52 needs the product rounded on its own

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t powers_of_ten[10] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
};

/// The decimal digits of `v`; returns the end.
static inline uint8_t *write_digits(uint64_t v, uint8_t *p) {
    unsigned digits = 1;
    for (uint64_t t = v; t >= 10; t /= 10) digits++;
    uint8_t *end = p + digits;
    uint8_t *q = end;
    while (v >= 100) {
        uint64_t pair = v % 100;
        v /= 100;
        q -= 2;
        memcpy(q, digit_pairs + 2 * pair, 2);
    }
    if (v >= 10) {
        memcpy(q - 2, digit_pairs + 2 * v, 2);
    } else {
        q[-1] = (uint8_t)('0' + v);
    }
    return end;
}

/// The `count` low decimal digits of `v`, leading zeros kept (`v < 10^count`).
static inline void write_fraction(uint64_t v, unsigned count, uint8_t *p) {
    unsigned i = count;
    while (i >= 2) {
        i -= 2;
        memcpy(p + i, digit_pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (i == 1) p[0] = (uint8_t)('0' + v);
}

/// `a · scale` rounded half to even, exactly; `0 ≤ a < 2^33`, `scale ≤ 10^9`.
static inline uint64_t scaled_and_rounded(double a, uint64_t scale) {
    if (a == 0) return 0;
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    int exponent = (int)(bits >> 52);
    uint64_t significand = (bits & (((uint64_t)1 << 52) - 1)) | (exponent == 0 ? 0 : (uint64_t)1 << 52);
    // a = significand · 2^(-shift), shift ≥ 20 because a < 2^33.
    int shift = 1075 - (exponent > 1 ? exponent : 1);
    if ((significand & (((uint64_t)1 << 29) - 1)) == 0) {
        // A float's value (24 significant bits, most scores): scale = 2^d · 5^d with
        // 5^d < 2^21, so a · scale has at most 45 significant bits and the double product is
        // exact; adding and subtracting 2^52 then rounds it to an integer, half to even (the
        // default rounding mode), and doubles from 2^52 up are integers already.
        double x = a * (double)scale;
        if (x < 0x1p52) x = (x + 0x1p52) - 0x1p52;
        return (uint64_t)x;
    }
    // The product is below 2^83: past 83 bits of shift the result is below 1/2, so 0.
    if (shift >= 84) return 0;
    unsigned __int128 product = (unsigned __int128)significand * scale;
    uint64_t q = (uint64_t)(product >> shift);
    unsigned __int128 remainder = product & ((((unsigned __int128)1) << shift) - 1);
    unsigned __int128 half = ((unsigned __int128)1) << (shift - 1);
    return q + (remainder > half || (remainder == half && (q & 1)));
}

/// printf itself, for what the integer routine does not cover (kept out of its stack frame).
__attribute__((noinline)) static size_t write_fixed_printf(double value, unsigned decimals, uint8_t *out) {
    char text[INPARS_FIXED_MAX + 1]; // decimals ≤ INPARS_FIXED_DECIMALS_MAX, so it fits
    int n = snprintf(text, sizeof text, "%.*f", (int)decimals, value);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof text) n = (int)sizeof text - 1;
    memcpy(out, text, (size_t)n);
    return (size_t)n;
}

size_t inpars_write_fixed(double value, unsigned decimals, uint8_t *out) {
    if (!isfinite(value) || decimals > 9 || fabs(value) >= 0x1p33) {
        return write_fixed_printf(value, decimals, out);
    }
    uint8_t *p = out;
    if (signbit(value)) *p++ = '-';
    if (decimals == 6) {
        // Pyserini's and Anserini's six decimals: constant divisors (multiplications), and
        // the fraction as three digit pairs.
        uint64_t q = scaled_and_rounded(fabs(value), 1000000);
        uint64_t whole = q / 1000000;
        uint32_t fraction = (uint32_t)(q - whole * 1000000);
        if (whole < 10) {
            *p++ = (uint8_t)('0' + whole);
        } else if (whole < 100) {
            memcpy(p, digit_pairs + 2 * whole, 2);
            p += 2;
        } else {
            p = write_digits(whole, p);
        }
        uint32_t high = fraction / 10000;
        uint32_t rest = fraction - high * 10000;
        uint32_t middle = rest / 100;
        p[0] = '.';
        memcpy(p + 1, digit_pairs + 2 * high, 2);
        memcpy(p + 3, digit_pairs + 2 * middle, 2);
        memcpy(p + 5, digit_pairs + 2 * (rest - middle * 100), 2);
        return (size_t)(p + 7 - out);
    }
    uint64_t scale = powers_of_ten[decimals];
    uint64_t q = scaled_and_rounded(fabs(value), scale);
    p = write_digits(q / scale, p);
    if (decimals > 0) {
        *p = '.';
        write_fraction(q % scale, decimals, p + 1);
        p += decimals + 1;
    }
    return (size_t)(p - out);
}

/// Copies `n` bytes, inline for the short strings of a run line (ids, tags), where a call to
/// memcpy cost more than the copy: two overlapping loads and stores of 8, 4 or 1 bytes,
/// reading and writing exactly the `n` bytes.
static inline void copy_short(uint8_t *dst, const uint8_t *src, size_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++) dst[i] = src[i];
    } else {
        memcpy(dst, src, n);
    }
}

/// One line; returns the end.
static inline uint8_t *write_line(
    const inpars_run_line_format *f, const uint8_t *doc_id, size_t doc_id_length, int64_t rank,
    double score, uint8_t *p
) {
    copy_short(p, (const uint8_t *)f->query_id, f->query_id_length);
    p += f->query_id_length;
    memcpy(p, " Q0 ", 4);
    p += 4;
    copy_short(p, doc_id, doc_id_length);
    p += doc_id_length;
    *p++ = ' ';
    if (rank < 0) {
        *p++ = '-';
        p = write_digits(-(uint64_t)rank, p);
    } else {
        p = write_digits((uint64_t)rank, p);
    }
    *p++ = ' ';
    p += inpars_write_fixed(score, f->decimals, p);
    *p++ = ' ';
    copy_short(p, (const uint8_t *)f->tag, f->tag_length);
    p += f->tag_length;
    *p++ = '\n';
    return p;
}

size_t inpars_format_run_line(
    const inpars_run_line_format *format, const uint8_t *doc_id, size_t doc_id_length,
    int64_t rank, double score, uint8_t *out
) {
    return (size_t)(write_line(format, doc_id, doc_id_length, rank, score, out) - out);
}

size_t inpars_format_run_lines(
    const inpars_run_line_format *format, const int32_t *documents, size_t document_stride,
    const float *scores, size_t count, int64_t first_rank, const uint64_t *id_offsets,
    const uint8_t *id_bytes, uint8_t *out
) {
    uint8_t *p = out;
    for (size_t i = 0; i < count; i++) {
        size_t document = (size_t)(uint32_t)documents[i * document_stride];
        uint64_t from = id_offsets[document];
        p = write_line(
            format, id_bytes + from, (size_t)(id_offsets[document + 1] - from),
            first_rank + (int64_t)i, (double)scores[i], p);
    }
    return (size_t)(p - out);
}

void inpars_anserini_scores(const float *scores, size_t stride, size_t count, float *out) {
    // Each operation rounds to float on its own (FP_CONTRACT is off in this file), as Java's
    // float arithmetic does; floor(y) by integer conversion where that is exact.
    for (size_t i = 0; i < count; i++) {
        float x = scores[i * stride] * 1e4f;
        float y = x + 0.5f;
        float rounded = (y >= 0 && y < 0x1p62f) ? (float)(int64_t)y : floorf(y);
        out[i] = rounded / 1e4f;
    }
    float previous = 0;
    uint32_t duplicates = 0;
    for (size_t i = 0; i < count; i++) {
        float score = out[i];
        if (i == 0 || previous - score > 1e-4f) {
            duplicates = 0;
        } else {
            duplicates++;
            score -= 1e-6f * (float)duplicates;
        }
        previous = score;
        out[i] = score;
    }
}
