// CRC-32 (zlib's: polynomial 0xEDB88320, reflected) by carry-less multiplication; see CKernels.h.
//
// Folding as in Intel's "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ"
// (Gopal et al., 2009): four 128-bit lanes are folded 64 bytes at a time with x^(4·128±32)
// mod P, then into one lane, then to 64 and 32 bits, and a Barrett reduction gives the CRC.
#include "CKernels.h"

#include "exp.h" // INPARS_X86, <immintrin.h>

#ifdef INPARS_X86
__attribute__((target("pclmul,sse4.1")))
static uint32_t fold(uint32_t state, const uint8_t *p, size_t length) {
    // Constants for the reflected polynomial: x^(4·128+32), x^(4·128−32) mod P (four lanes),
    // x^(128+32), x^(128−32) (one lane), x^64 (64 → 32 bits), and μ = x^64 / P with P itself.
    const __m128i fold4 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
    const __m128i fold1 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
    const __m128i fold64 = _mm_set_epi64x(0, 0x163cd6124);
    const __m128i barrett = _mm_set_epi64x(0x1f7011641, 0x1db710641);
    const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i x1 = _mm_loadu_si128((const __m128i *)p);
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)state));
    p += 64;
    length -= 64;
#define INPARS_FOLD(x, k, next)                                                                 \
    do {                                                                                        \
        __m128i high = _mm_clmulepi64_si128(x, k, 0x11);                                        \
        x = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), high), next);         \
    } while (0)
    while (length >= 64) {
        INPARS_FOLD(x1, fold4, _mm_loadu_si128((const __m128i *)p));
        INPARS_FOLD(x2, fold4, _mm_loadu_si128((const __m128i *)(p + 16)));
        INPARS_FOLD(x3, fold4, _mm_loadu_si128((const __m128i *)(p + 32)));
        INPARS_FOLD(x4, fold4, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        length -= 64;
    }
    INPARS_FOLD(x1, fold1, x2);
    INPARS_FOLD(x1, fold1, x3);
    INPARS_FOLD(x1, fold1, x4);
    while (length >= 16) {
        INPARS_FOLD(x1, fold1, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        length -= 16;
    }
#undef INPARS_FOLD
    // 128 → 64 bits (appending 32 zero bits), then → 32 bits.
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), _mm_clmulepi64_si128(x1, fold1, 0x10));
    x1 = _mm_xor_si128(
        _mm_srli_si128(x1, 4), _mm_clmulepi64_si128(_mm_and_si128(x1, low32), fold64, 0x00));
    // Barrett reduction.
    __m128i t = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), barrett, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), barrett, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x1, t), 1);
}
#endif

size_t inpars_crc32_prefix(uint32_t *crc, const uint8_t *bytes, size_t length) {
#ifdef INPARS_X86
    if (length < 64 || !__builtin_cpu_supports("pclmul") || !__builtin_cpu_supports("sse4.1")) return 0;
    size_t prefix = length & ~(size_t)15;
    *crc = ~fold(~*crc, bytes, prefix);
    return prefix;
#else
    (void)crc;
    (void)bytes;
    (void)length;
    return 0;
#endif
}
