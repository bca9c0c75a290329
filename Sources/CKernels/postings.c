// Decoding and scoring BM25 posting blocks (InparsBM25's PostingBlocks); see CKernels.h.
//
// A bit-packed array holds values of `bits` bits, least-significant bit first in a
// little-endian bit stream. Sixteen values take exactly 2·bits bytes, so every group of 16
// starts on a byte boundary and the AVX-512 path uses the same byte permutation and shifts for
// every group: for value v of a group, byte (v·bits) >> 3 and the 7 after it are gathered into
// a 64-bit lane with `vpermb` (AVX512-VBMI), shifted right by (v·bits) & 7 and masked.
#include "CKernels.h"

#include "exp.h"

/// Value `i` of a bit-packed array (reads the 8 bytes from its first byte; the caller's data
/// is followed by at least 8 readable bytes, or the value's bytes end within it).
static inline uint32_t extract_bits(const uint8_t *packed, size_t i, unsigned bits, uint64_t mask) {
    size_t bit = i * bits;
    const uint8_t *p = packed + (bit >> 3);
    // At most 5 bytes hold the value (a shift of ≤ 7 plus ≤ 32 bits): read only those.
    uint64_t word = 0;
    unsigned needed = ((bit & 7) + bits + 7) >> 3;
    for (unsigned b = 0; b < needed; b++) word |= (uint64_t)p[b] << (8 * b);
    return (uint32_t)((word >> (bit & 7)) & mask);
}

static void unpack_generic(
    const uint8_t *packed, size_t count, unsigned bits, uint32_t add, uint32_t *out
) {
    if (bits == 0) {
        for (size_t i = 0; i < count; i++) out[i] = add;
        return;
    }
    uint64_t mask = bits == 32 ? 0xFFFFFFFFu : ((uint64_t)1 << bits) - 1;
    for (size_t i = 0; i < count; i++) out[i] = add + extract_bits(packed, i, bits, mask);
}

/// The score of one posting, as InparsBM25's `PostingCursor.score(tf:norm:)` computes it.
static inline float score_scalar(uint32_t tf, uint32_t norm, const inpars_term_scorer *s) {
    if (tf - 1 < s->table_tf) return s->table[(size_t)(tf - 1) * 256 + norm];
    return s->weight - s->weight / (1.0f + (float)tf * s->cache[norm]);
}

static void score_generic(
    const uint32_t *tfs, const uint32_t *norms, size_t count, const inpars_term_scorer *scorer,
    float *scores
) {
    for (size_t i = 0; i < count; i++) scores[i] = score_scalar(tfs[i], norms[i], scorer);
}

static size_t refine_generic(
    uint16_t *offsets, double *bounds, size_t count, const uint64_t *slots, uint64_t generation,
    double drop, double cutoff
) {
    size_t kept = 0;
    for (size_t c = 0; c < count; c++) {
        uint16_t o = offsets[c];
        uint64_t entry = slots[o];
        uint32_t bits = (uint32_t)entry;
        float score;
        memcpy(&score, &bits, sizeof score);
        double bound = (bounds[c] - drop) + ((entry >> 32) == generation ? (double)score : 0.0);
        if (bound > cutoff) {
            offsets[kept] = o;
            bounds[kept] = bound;
            kept++;
        }
    }
    return kept;
}

#ifdef INPARS_X86

#define POSTINGS_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi")))

/// Unpacks 16 values from `data` (the group's bytes, zero beyond them) into 16 u32 lanes.
POSTINGS_TARGET static inline __m512i unpack16(
    __m512i data, __m512i index0, __m512i index1, __m512i shift0, __m512i shift1, __m512i mask
) {
    __m512i lo = _mm512_and_si512(
        _mm512_srlv_epi64(_mm512_permutexvar_epi8(index0, data), shift0), mask);
    __m512i hi = _mm512_and_si512(
        _mm512_srlv_epi64(_mm512_permutexvar_epi8(index1, data), shift1), mask);
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm512_cvtepi64_epi32(lo)), _mm512_cvtepi64_epi32(hi), 1);
}

POSTINGS_TARGET static void unpack_avx512(
    const uint8_t *packed, size_t count, unsigned bits, uint32_t add, uint32_t *out
) {
    const __m512i addend = _mm512_set1_epi32((int)add);
    if (bits == 0) {
        size_t i = 0;
        for (; i + 16 <= count; i += 16) _mm512_storeu_si512(out + i, addend);
        if (i < count) _mm512_mask_storeu_epi32(out + i, (__mmask16)((1u << (count - i)) - 1), addend);
        return;
    }
    const __m512i lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i width = _mm512_set1_epi64(bits);
    __m512i bit0 = _mm512_mullo_epi64(lanes, width);
    __m512i bit1 = _mm512_add_epi64(bit0, _mm512_set1_epi64(8 * (long long)bits));
    const __m512i seven = _mm512_set1_epi64(7);
    const __m512i spread = _mm512_set1_epi64(0x0101010101010101LL);
    const __m512i offsets = _mm512_set1_epi64(0x0706050403020100LL);
    // Byte b of lane v takes data byte ((v·bits) >> 3) + b (vpermb reads the low 6 bits;
    // bytes past the group are masked off below).
    __m512i index0 = _mm512_add_epi64(_mm512_mullo_epi64(_mm512_srli_epi64(bit0, 3), spread), offsets);
    __m512i index1 = _mm512_add_epi64(_mm512_mullo_epi64(_mm512_srli_epi64(bit1, 3), spread), offsets);
    __m512i shift0 = _mm512_and_si512(bit0, seven), shift1 = _mm512_and_si512(bit1, seven);
    const __m512i mask = _mm512_set1_epi64(bits == 32 ? 0xFFFFFFFFLL : ((1LL << bits) - 1));
    const __mmask64 groupBytes = bits == 32 ? ~(__mmask64)0 : (((__mmask64)1 << (2 * bits)) - 1);
    size_t i = 0;
    const uint8_t *p = packed;
    for (; i + 16 <= count; i += 16, p += 2 * bits) {
        __m512i data = _mm512_maskz_loadu_epi8(groupBytes, p);
        __m512i v = unpack16(data, index0, index1, shift0, shift1, mask);
        _mm512_storeu_si512(out + i, _mm512_add_epi32(v, addend));
    }
    if (i < count) {
        size_t rest = count - i;
        size_t bytes = (rest * bits + 7) >> 3;
        __mmask64 load = bytes == 64 ? ~(__mmask64)0 : (((__mmask64)1 << bytes) - 1);
        __m512i data = _mm512_maskz_loadu_epi8(load, p);
        __m512i v = unpack16(data, index0, index1, shift0, shift1, mask);
        _mm512_mask_storeu_epi32(out + i, (__mmask16)((1u << rest) - 1), _mm512_add_epi32(v, addend));
    }
}

POSTINGS_TARGET static void score_avx512(
    const uint32_t *tfs, const uint32_t *norms, size_t count, const inpars_term_scorer *scorer,
    float *scores
) {
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i tableTf = _mm512_set1_epi32((int)scorer->table_tf);
    const __m512 weight = _mm512_set1_ps(scorer->weight), onef = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 live = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        __m512i tf = _mm512_maskz_loadu_epi32(live, tfs + i);
        __m512i norm = _mm512_maskz_loadu_epi32(live, norms + i);
        __m512i tfm1 = _mm512_sub_epi32(tf, one);
        __mmask16 inTable = _mm512_mask_cmplt_epu32_mask(live, tfm1, tableTf);
        __m512i index = _mm512_add_epi32(_mm512_slli_epi32(tfm1, 8), norm);
        __m512 s = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inTable, index, scorer->table, 4);
        __mmask16 formula = live & (__mmask16)~inTable;
        if (formula) {
            __m512 cache = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), formula, norm, scorer->cache, 4);
            __m512 t = _mm512_add_ps(onef, _mm512_mul_ps(_mm512_cvtepu32_ps(tf), cache));
            __m512 f = _mm512_sub_ps(weight, _mm512_div_ps(weight, t));
            s = _mm512_mask_blend_ps(formula, s, f);
        }
        _mm512_mask_storeu_ps(scores + i, live, s);
    }
}

/// Eight candidates at a time: the recorded entries gathered, the bounds updated in the same
/// double operations as the generic path, the kept ones compressed to the front. A full
/// vector is stored at `kept` ≤ c, so only entries already loaded are overwritten.
POSTINGS_TARGET static size_t refine_avx512(
    uint16_t *offsets, double *bounds, size_t count, const uint64_t *slots, uint64_t generation,
    double drop, double cutoff
) {
    const __m512i gen = _mm512_set1_epi64((long long)generation);
    const __m512d dropv = _mm512_set1_pd(drop), cutoffv = _mm512_set1_pd(cutoff);
    size_t kept = 0, c = 0;
    for (; c < count; c += 8) {
        size_t live = count - c >= 8 ? 8 : count - c;
        __mmask8 lanes = (__mmask8)((1u << live) - 1);
        __m512i index = _mm512_cvtepu16_epi64(_mm_maskz_loadu_epi16(lanes, offsets + c));
        __m512i entry = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), lanes, index, slots, 8);
        __mmask8 present = _mm512_mask_cmpeq_epi64_mask(lanes, _mm512_srli_epi64(entry, 32), gen);
        __m256 score = _mm256_castsi256_ps(_mm512_cvtepi64_epi32(entry));
        __m512d s = _mm512_maskz_mov_pd(present, _mm512_cvtps_pd(score));
        __m512d b = _mm512_add_pd(_mm512_sub_pd(_mm512_maskz_loadu_pd(lanes, bounds + c), dropv), s);
        __mmask8 keep = _mm512_mask_cmp_pd_mask(lanes, b, cutoffv, _CMP_GT_OQ);
        unsigned n = (unsigned)__builtin_popcount(keep);
        __mmask8 out = (__mmask8)((1u << n) - 1);
        _mm512_mask_storeu_pd(bounds + kept, out, _mm512_maskz_compress_pd(keep, b));
        _mm_mask_storeu_epi16(
            offsets + kept, out, _mm512_cvtepi64_epi16(_mm512_maskz_compress_epi64(keep, index)));
        kept += n;
    }
    return kept;
}

static int has_vbmi(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = inpars_kernels_isa() == INPARS_ISA_AVX512 && __builtin_cpu_supports("avx512vbmi")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl");
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

#endif

int inpars_postings_vectorized(void) {
#ifdef INPARS_X86
    return has_vbmi();
#else
    return 0;
#endif
}

static int use_avx512(inpars_isa isa) {
#ifdef INPARS_X86
    return isa == INPARS_ISA_AVX512 && has_vbmi();
#else
    (void)isa;
    return 0;
#endif
}

void inpars_unpack_bits_isa(
    const uint8_t *packed, size_t count, unsigned bits, uint32_t add, uint32_t *out, inpars_isa isa
) {
#ifdef INPARS_X86
    if (use_avx512(isa)) {
        unpack_avx512(packed, count, bits, add, out);
        return;
    }
#endif
    unpack_generic(packed, count, bits, add, out);
}

void inpars_unpack_bits(const uint8_t *packed, size_t count, unsigned bits, uint32_t add, uint32_t *out) {
    inpars_unpack_bits_isa(packed, count, bits, add, out, inpars_kernels_isa());
}

void inpars_score_postings_isa(
    const uint32_t *tfs, const uint32_t *norms, size_t count, const inpars_term_scorer *scorer,
    float *scores, inpars_isa isa
) {
#ifdef INPARS_X86
    if (use_avx512(isa)) {
        score_avx512(tfs, norms, count, scorer, scores);
        return;
    }
#endif
    score_generic(tfs, norms, count, scorer, scores);
}

void inpars_decode_block_isa(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, uint32_t *docs,
    float *scores, inpars_isa isa
) {
    uint32_t tfs[INPARS_POSTING_BLOCK], norms[INPARS_POSTING_BLOCK];
    size_t count = block->count;
    inpars_unpack_bits_isa(block->docs, count, block->doc_bits, block->base, docs, isa);
    inpars_unpack_bits_isa(block->tfs, count, block->tf_bits, 1, tfs, isa);
    inpars_unpack_bits_isa(block->norms, count, block->norm_bits, block->min_norm, norms, isa);
    inpars_score_postings_isa(tfs, norms, count, scorer, scores, isa);
}

void inpars_decode_block(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, uint32_t *docs,
    float *scores
) {
    inpars_decode_block_isa(block, scorer, docs, scores, inpars_kernels_isa());
}

size_t inpars_refine_candidates_isa(
    uint16_t *offsets, double *bounds, size_t count, const uint64_t *slots, uint64_t generation,
    double drop, double cutoff, inpars_isa isa
) {
#ifdef INPARS_X86
    if (use_avx512(isa)) return refine_avx512(offsets, bounds, count, slots, generation, drop, cutoff);
#endif
    return refine_generic(offsets, bounds, count, slots, generation, drop, cutoff);
}

size_t inpars_refine_candidates(
    uint16_t *offsets, double *bounds, size_t count, const uint64_t *slots, uint64_t generation,
    double drop, double cutoff
) {
    return inpars_refine_candidates_isa(
        offsets, bounds, count, slots, generation, drop, cutoff, inpars_kernels_isa());
}
