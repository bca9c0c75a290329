// Decoding and scoring BM25 posting blocks (InparsBM25's PostingBlocks); see CKernels.h.
//
// A bit-packed array holds values of `bits` bits, least-significant bit first in a
// little-endian bit stream. Sixteen values take exactly 2·bits bytes, so every group of 16
// starts on a byte boundary and the AVX-512 path uses the same byte permutation and shifts for
// every group: for value v of a group, byte (v·bits) >> 3 and the 7 after it are gathered into
// a 64-bit lane with `vpermb` (AVX512-VBMI), shifted right by (v·bits) & 7 and masked.
#include "CKernels.h"

#include "exp.h" // INPARS_X86, <immintrin.h>, no floating-point contraction

#include <pthread.h>

/// Value `i` of a bit-packed array (reads only the bytes that hold it).
static inline uint32_t extract_bits(const uint8_t *packed, size_t i, unsigned bits, uint64_t mask) {
    size_t bit = i * bits;
    const uint8_t *p = packed + (bit >> 3);
    // At most 5 bytes hold the value (a shift of ≤ 7 plus ≤ 32 bits): read only those.
    uint64_t word = 0;
    unsigned needed = ((bit & 7) + bits + 7) >> 3;
    for (unsigned b = 0; b < needed; b++) word |= (uint64_t)p[b] << (8 * b);
    return (uint32_t)((word >> (bit & 7)) & mask);
}

/// The mask of a `bits`-bit value (0 … 32).
static inline uint64_t width_mask(unsigned bits) {
    return bits == 32 ? 0xFFFFFFFFu : ((uint64_t)1 << bits) - 1;
}

static void unpack_generic(
    const uint8_t *packed, size_t count, unsigned bits, uint32_t add, uint32_t *out
) {
    if (bits == 0) {
        for (size_t i = 0; i < count; i++) out[i] = add;
        return;
    }
    uint64_t mask = width_mask(bits);
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
    const uint16_t *drops, double scale, uint32_t phase, double cutoff
) {
    size_t kept = 0;
    for (size_t c = 0; c < count; c++) {
        uint16_t o = offsets[c];
        uint64_t entry = slots[o];
        uint32_t bits = (uint32_t)entry;
        float score;
        memcpy(&score, &bits, sizeof score);
        double drop = (double)drops[((uint32_t)o + phase) >> INPARS_RANGE_SHIFT] * scale;
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

/// Per bit width 0 … 32, what unpacking a group of 16 values needs: for value v (lanes 0–7
/// of the first vector, 8–15 of the second), the data bytes ((v·bits) >> 3) + 0 … 7 to gather
/// into its 64-bit lane (`vpermb` reads the low 6 bits of each index; bytes past the group are
/// masked off), the shift (v·bits) & 7 (the same for v and v + 8, as 8·bits is whole bytes),
/// and the value mask. Filled once.
typedef struct {
    uint64_t index[2][8];
    uint64_t shift[8];
    uint64_t mask;
    uint64_t group_bytes; // load mask of a full group: 2·bits bytes
} unpack_width;

static unpack_width unpack_widths[33];
static pthread_once_t unpack_widths_once = PTHREAD_ONCE_INIT;

static void fill_unpack_widths(void) {
    for (unsigned bits = 0; bits <= 32; bits++) {
        unpack_width *w = &unpack_widths[bits];
        for (unsigned v = 0; v < 16; v++) {
            uint64_t bit = (uint64_t)v * bits;
            w->index[v / 8][v % 8] = (bit >> 3) * 0x0101010101010101ULL + 0x0706050403020100ULL;
            w->shift[v % 8] = bit & 7;
        }
        w->mask = width_mask(bits);
        w->group_bytes = bits == 32 ? ~0ULL : (1ULL << (2 * bits)) - 1;
    }
}

/// An unpacker for one width, in registers.
typedef struct {
    __m512i index0, index1, shift, mask;
    __mmask64 group_bytes;
    unsigned bits;
} unpacker;

POSTINGS_TARGET static inline unpacker make_unpacker(unsigned bits) {
    const unpack_width *w = &unpack_widths[bits];
    unpacker u;
    u.index0 = _mm512_loadu_si512(w->index[0]);
    u.index1 = _mm512_loadu_si512(w->index[1]);
    u.shift = _mm512_loadu_si512(w->shift);
    u.mask = _mm512_set1_epi64((long long)w->mask);
    u.group_bytes = (__mmask64)w->group_bytes;
    u.bits = bits;
    return u;
}

/// Values 16·g … 16·g + 15 of the array at `packed` (of `count` values) as 16 u32 lanes;
/// lanes past `count` are unspecified. Reads only the values' own bytes.
POSTINGS_TARGET static inline __m512i unpack_group(
    const unpacker *u, const uint8_t *packed, size_t g, size_t count
) {
    const uint8_t *p = packed + g * 2 * u->bits;
    __mmask64 load = u->group_bytes;
    size_t rest = count - 16 * g;
    if (rest < 16) {
        size_t bytes = (rest * u->bits + 7) >> 3;
        load = ((__mmask64)1 << bytes) - 1; // bytes ≤ 60
    }
    __m512i data = _mm512_maskz_loadu_epi8(load, p);
    __m512i lo = _mm512_and_si512(
        _mm512_srlv_epi64(_mm512_permutexvar_epi8(u->index0, data), u->shift), u->mask);
    __m512i hi = _mm512_and_si512(
        _mm512_srlv_epi64(_mm512_permutexvar_epi8(u->index1, data), u->shift), u->mask);
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm512_cvtepi64_epi32(lo)), _mm512_cvtepi64_epi32(hi), 1);
}

POSTINGS_TARGET static void unpack_avx512(
    const uint8_t *packed, size_t count, unsigned bits, uint32_t add, uint32_t *out
) {
    const __m512i addend = _mm512_set1_epi32((int)add);
    unpacker u = make_unpacker(bits);
    for (size_t g = 0; 16 * g < count; g++) {
        size_t rest = count - 16 * g;
        __mmask16 lanes = rest >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rest) - 1);
        __m512i v = _mm512_add_epi32(unpack_group(&u, packed, g, count), addend);
        _mm512_mask_storeu_epi32(out + 16 * g, lanes, v);
    }
}

/// 16 postings' scores from their tf and norm lanes (`live` lanes only), the same float
/// operations as `score_scalar`.
POSTINGS_TARGET static inline __m512 score16(
    __m512i tf, __m512i norm, __mmask16 live, const inpars_term_scorer *scorer
) {
    const __m512i one = _mm512_set1_epi32(1);
    __m512i tfm1 = _mm512_sub_epi32(tf, one);
    __mmask16 inTable =
        _mm512_mask_cmplt_epu32_mask(live, tfm1, _mm512_set1_epi32((int)scorer->table_tf));
    __m512i index = _mm512_add_epi32(_mm512_slli_epi32(tfm1, 8), norm);
    __m512 s = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inTable, index, scorer->table, 4);
    __mmask16 formula = live & (__mmask16)~inTable;
    if (formula) {
        const __m512 weight = _mm512_set1_ps(scorer->weight);
        __m512 cache =
            _mm512_mask_i32gather_ps(_mm512_setzero_ps(), formula, norm, scorer->cache, 4);
        __m512 t =
            _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(_mm512_cvtepu32_ps(tf), cache));
        __m512 f = _mm512_sub_ps(weight, _mm512_div_ps(weight, t));
        s = _mm512_mask_blend_ps(formula, s, f);
    }
    return s;
}

/// The whole block in one pass per group of 16: documents stored, tf and norm kept in
/// registers and scored.
POSTINGS_TARGET static void decode_block_avx512(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, uint32_t *docs,
    float *scores
) {
    size_t count = block->count;
    unpacker ud = make_unpacker(block->doc_bits);
    unpacker ut = make_unpacker(block->tf_bits);
    unpacker un = make_unpacker(block->norm_bits);
    const __m512i base = _mm512_set1_epi32((int)block->base);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i minNorm = _mm512_set1_epi32((int)block->min_norm);
    for (size_t g = 0; 16 * g < count; g++) {
        size_t rest = count - 16 * g;
        __mmask16 live = rest >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rest) - 1);
        __m512i d = _mm512_add_epi32(unpack_group(&ud, block->docs, g, count), base);
        __m512i tf = _mm512_add_epi32(unpack_group(&ut, block->tfs, g, count), one);
        __m512i norm = _mm512_add_epi32(unpack_group(&un, block->norms, g, count), minNorm);
        _mm512_mask_storeu_epi32(docs + 16 * g, live, d);
        _mm512_mask_storeu_ps(scores + 16 * g, live, score16(tf, norm, live, scorer));
    }
}

POSTINGS_TARGET static void score_avx512(
    const uint32_t *tfs, const uint32_t *norms, size_t count, const inpars_term_scorer *scorer,
    float *scores
) {
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 live = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        __m512i tf = _mm512_maskz_loadu_epi32(live, tfs + i);
        __m512i norm = _mm512_maskz_loadu_epi32(live, norms + i);
        _mm512_mask_storeu_ps(scores + i, live, score16(tf, norm, live, scorer));
    }
}

/// Appends the lanes of `keep` (bounds and window offsets, in lane order) at `count` of
/// `bounds` and `offsets`; returns the new count.
POSTINGS_TARGET static inline size_t append_kept(
    __mmask8 keep, __m512d bound, __m512i offset, double *bounds, uint16_t *offsets, size_t count
) {
    unsigned n = (unsigned)__builtin_popcount(keep);
    __mmask8 out = (__mmask8)((1u << n) - 1);
    _mm512_mask_storeu_pd(bounds + count, out, _mm512_maskz_compress_pd(keep, bound));
    _mm_mask_storeu_epi16(
        offsets + count, out, _mm512_cvtepi64_epi16(_mm512_maskz_compress_epi64(keep, offset)));
    return count + n;
}

/// Eight candidates at a time: the recorded entries gathered, the bounds updated in the same
/// double operations as the generic path, the kept ones compressed to the front. A full
/// vector is stored at `kept` ≤ c, so only entries already loaded are overwritten.
POSTINGS_TARGET static size_t refine_avx512(
    uint16_t *offsets, double *bounds, size_t count, const uint64_t *slots, uint64_t generation,
    const uint16_t *drops, double scale, uint32_t phase, double cutoff
) {
    const __m512i gen = _mm512_set1_epi64((long long)generation);
    const __m512d scalev = _mm512_set1_pd(scale);
    const __m512i phasev = _mm512_set1_epi64((long long)phase);
    const __m512d cutoffv = _mm512_set1_pd(cutoff);
    size_t kept = 0, c = 0;
    for (; c < count; c += 8) {
        size_t live = count - c >= 8 ? 8 : count - c;
        __mmask8 lanes = (__mmask8)((1u << live) - 1);
        __m512i index = _mm512_cvtepu16_epi64(_mm_maskz_loadu_epi16(lanes, offsets + c));
        __m512i entry = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), lanes, index, slots, 8);
        __mmask8 present = _mm512_mask_cmpeq_epi64_mask(lanes, _mm512_srli_epi64(entry, 32), gen);
        __m256 score = _mm256_castsi256_ps(_mm512_cvtepi64_epi32(entry));
        __m512d s = _mm512_maskz_mov_pd(present, _mm512_cvtps_pd(score));
        __m512i range = _mm512_srli_epi64(_mm512_add_epi64(index, phasev), INPARS_RANGE_SHIFT);
        // 32 bits gathered at each unit (the units are padded by one), the low 16 kept.
        __m256i units = _mm256_and_si256(
            _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), lanes, range, drops, 2),
            _mm256_set1_epi32(0xFFFF));
        __m512d dropv = _mm512_mul_pd(_mm512_cvtepi32_pd(units), scalev);
        __m512d b =
            _mm512_add_pd(_mm512_sub_pd(_mm512_maskz_loadu_pd(lanes, bounds + c), dropv), s);
        __mmask8 keep = _mm512_mask_cmp_pd_mask(lanes, b, cutoffv, _CMP_GT_OQ);
        kept = append_kept(keep, b, index, bounds, offsets, kept);
    }
    return kept;
}

/// Whether the AVX-512 path runs here; the first call also fills `unpack_widths` (published
/// with release/acquire, so a caller that sees 1 sees the table).
static int has_vbmi(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
    if (v < 0) {
        __builtin_cpu_init();
        v = inpars_kernels_isa() == INPARS_ISA_AVX512 && __builtin_cpu_supports("avx512vbmi")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl");
        if (v) pthread_once(&unpack_widths_once, fill_unpack_widths);
        __atomic_store_n(&cached, v, __ATOMIC_RELEASE);
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
    INPARS_AVX512_OR_GENERIC(use_avx512(isa), unpack, (packed, count, bits, add, out));
}

void inpars_unpack_bits(
    const uint8_t *packed, size_t count, unsigned bits, uint32_t add, uint32_t *out
) {
    inpars_unpack_bits_isa(packed, count, bits, add, out, inpars_kernels_isa());
}

void inpars_score_postings_isa(
    const uint32_t *tfs, const uint32_t *norms, size_t count, const inpars_term_scorer *scorer,
    float *scores, inpars_isa isa
) {
    INPARS_AVX512_OR_GENERIC(use_avx512(isa), score, (tfs, norms, count, scorer, scores));
}

void inpars_decode_block_isa(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, uint32_t *docs,
    float *scores, inpars_isa isa
) {
#ifdef INPARS_X86
    if (use_avx512(isa)) {
        decode_block_avx512(block, scorer, docs, scores);
        return;
    }
#endif
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
    const uint16_t *drops, double scale, uint32_t phase, double cutoff, inpars_isa isa
) {
#ifdef INPARS_X86
    if (use_avx512(isa))
        return refine_avx512(
            offsets, bounds, count, slots, generation, drops, scale, phase, cutoff);
#endif
    return refine_generic(offsets, bounds, count, slots, generation, drops, scale, phase, cutoff);
}

size_t inpars_refine_candidates(
    uint16_t *offsets, double *bounds, size_t count, const uint64_t *slots, uint64_t generation,
    const uint16_t *drops, double scale, uint32_t phase, double cutoff
) {
    return inpars_refine_candidates_isa(
        offsets, bounds, count, slots, generation, drops, scale, phase, cutoff,
        inpars_kernels_isa());
}

// ---- Windowed search helpers (InparsBM25's WindowedMaxScoreSearch) ----

static uint8_t max_byte_generic(const uint8_t *bytes, size_t count) {
    uint8_t largest = 0;
    for (size_t i = 0; i < count; i++) largest = bytes[i] > largest ? bytes[i] : largest;
    return largest;
}

static void range_units_generic(
    const uint8_t *bytes, size_t count, const uint16_t *table, uint16_t *out, uint16_t *sum
) {
    for (size_t r = 0; r < count; r++) {
        uint16_t v = table[bytes[r]];
        if (out) out[r] = v;
        if (sum) sum[r] = (uint16_t)(sum[r] + v);
    }
}

/// Records `score` at window offset `o` of a term's slots: `generation << 32 | float bits`.
static inline void record_score(uint64_t *slots, uint32_t o, uint64_t generation, float score) {
    uint32_t bits;
    memcpy(&bits, &score, sizeof bits);
    slots[o] = generation << 32 | bits;
}

/// The candidate test and record of `essential_block_generic` for one posting.
static inline size_t essential_posting(
    uint32_t o, float score, uint32_t phase, const double *sums, double cutoff, uint64_t *slots,
    uint64_t generation, uint16_t *candidates, double *bounds, size_t count
) {
    double bound = (double)score + sums[(o + phase) >> INPARS_RANGE_SHIFT];
    if (bound > cutoff) {
        record_score(slots, o, generation, score);
        candidates[count] = (uint16_t)o;
        bounds[count] = bound;
        count++;
    }
    return count;
}

static uint32_t live_ranges_generic(
    const uint16_t *own, const uint16_t *sum, size_t ranges, int32_t cutoff, double scale,
    double *sums, uint8_t *live, uint64_t *bits
) {
    uint32_t n = 0;
    for (size_t i = 0; i < (ranges + 63) / 64; i++) bits[i] = 0;
    for (size_t r = 0; r < ranges; r++) {
        live[r] = (int32_t)own[r] + (int32_t)sum[r] > cutoff;
        sums[r] = (double)sum[r] * scale;
        bits[r >> 6] |= (uint64_t)live[r] << (r & 63);
        n += live[r];
    }
    return n;
}

/// Calls `visit(context, o, score)` for each posting of `block` from position `begin` with
/// its document below `w->to` in a live range (`o` its window offset); returns the position of
/// the first posting whose document is ≥ `w->to` (the block's count when there is none).
static size_t for_each_live_posting(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *w, void (*visit)(void *, uint32_t, float), void *context
) {
    // A width of 0 reads no byte and gives 0 (`extract_bits`).
    uint64_t docMask = width_mask(block->doc_bits), tfMask = width_mask(block->tf_bits);
    uint64_t normMask = width_mask(block->norm_bits);
    for (size_t i = begin; i < block->count; i++) {
        uint32_t doc = block->base + extract_bits(block->docs, i, block->doc_bits, docMask);
        if (doc >= w->to) return i;
        uint32_t o = doc - w->from;
        if (!w->live[(o + w->phase) >> INPARS_RANGE_SHIFT]) continue;
        uint32_t tf = 1 + extract_bits(block->tfs, i, block->tf_bits, tfMask);
        uint32_t norm = block->min_norm + extract_bits(block->norms, i, block->norm_bits, normMask);
        visit(context, o, score_scalar(tf, norm, scorer));
    }
    return block->count;
}

/// What `essential_block_generic`'s visitor needs besides the posting.
typedef struct {
    const inpars_essential_window *w;
    uint64_t *slots;
    uint16_t *candidates;
    double *bounds;
    size_t count;
} essential_context;

static void visit_essential(void *context, uint32_t o, float score) {
    essential_context *c = context;
    c->count = essential_posting(
        o, score, c->w->phase, c->w->sums, c->w->cutoff, c->slots, c->w->generation,
        c->candidates, c->bounds, c->count);
}

static size_t essential_block_generic(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *w, uint64_t *slots, uint16_t *candidates, double *bounds,
    size_t *count
) {
    essential_context c = {w, slots, candidates, bounds, *count};
    size_t stop = for_each_live_posting(block, scorer, begin, w, visit_essential, &c);
    *count = c.count;
    return stop;
}

/// One essential posting added to a window's sums (`inpars_accumulate_block`).
static inline void accumulate_posting(
    uint32_t o, float score, uint64_t generation, uint64_t *slots, double *partial,
    uint64_t *matched
) {
    record_score(slots, o, generation, score);
    uint64_t word = matched[o >> 6], bit = (uint64_t)1 << (o & 63);
    partial[o] = ((word & bit) ? partial[o] : 0.0) + (double)score;
    matched[o >> 6] = word | bit;
}

/// What `accumulate_block_generic`'s visitor needs besides the posting.
typedef struct {
    uint64_t generation;
    uint64_t *slots;
    double *partial;
    uint64_t *matched;
} accumulate_context;

static void visit_accumulate(void *context, uint32_t o, float score) {
    accumulate_context *c = context;
    accumulate_posting(o, score, c->generation, c->slots, c->partial, c->matched);
}

static size_t accumulate_block_generic(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *w, uint64_t *slots, double *partial, uint64_t *matched
) {
    accumulate_context c = {w->generation, slots, partial, matched};
    return for_each_live_posting(block, scorer, begin, w, visit_accumulate, &c);
}

#ifdef INPARS_X86

POSTINGS_TARGET static uint8_t max_byte_avx512(const uint8_t *bytes, size_t count) {
    __m512i v = _mm512_setzero_si512();
    for (size_t i = 0; i < count; i += 64) {
        size_t live = count - i >= 64 ? 64 : count - i;
        __mmask64 lanes = live == 64 ? ~(__mmask64)0 : (((__mmask64)1 << live) - 1);
        v = _mm512_max_epu8(v, _mm512_maskz_loadu_epi8(lanes, bytes + i));
    }
    __m256i x = _mm256_max_epu8(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i y = _mm_max_epu8(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    y = _mm_max_epu8(y, _mm_srli_si128(y, 8));
    y = _mm_max_epu8(y, _mm_srli_si128(y, 4));
    y = _mm_max_epu8(y, _mm_srli_si128(y, 2));
    y = _mm_max_epu8(y, _mm_srli_si128(y, 1));
    return (uint8_t)_mm_cvtsi128_si32(y);
}

/// `table[bytes[r]]` for 32 ranges at a time: the 256 units are eight vectors of 32, and
/// each quarter of 64 is looked up by a two-vector word permutation, the right one chosen by
/// the byte's top two bits.
POSTINGS_TARGET static void range_units_avx512(
    const uint8_t *bytes, size_t count, const uint16_t *table, uint16_t *out, uint16_t *sum
) {
    __m512i t[8];
    for (int i = 0; i < 8; i++) t[i] = _mm512_loadu_si512(table + 32 * i);
    const __m512i bit6 = _mm512_set1_epi16(64), bit7 = _mm512_set1_epi16(128);
    for (size_t r = 0; r < count; r += 32) {
        size_t rest = count - r >= 32 ? 32 : count - r;
        __mmask32 lanes = rest == 32 ? ~(__mmask32)0 : (((__mmask32)1 << rest) - 1);
        __m512i index = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(lanes, bytes + r));
        __m512i q0 = _mm512_permutex2var_epi16(t[0], index, t[1]);
        __m512i q1 = _mm512_permutex2var_epi16(t[2], index, t[3]);
        __m512i q2 = _mm512_permutex2var_epi16(t[4], index, t[5]);
        __m512i q3 = _mm512_permutex2var_epi16(t[6], index, t[7]);
        __mmask32 upper = _mm512_test_epi16_mask(index, bit6);
        __m512i low = _mm512_mask_blend_epi16(upper, q0, q1);
        __m512i high = _mm512_mask_blend_epi16(upper, q2, q3);
        __m512i v = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(index, bit7), low, high);
        if (out) _mm512_mask_storeu_epi16(out + r, lanes, v);
        if (sum)
            _mm512_mask_storeu_epi16(
                sum + r, lanes, _mm512_add_epi16(_mm512_maskz_loadu_epi16(lanes, sum + r), v));
    }
}

/// Eight postings' candidate test and record (`essential_block_avx512`).
POSTINGS_TARGET static inline size_t essential_eight(
    __mmask8 lanes, __m256i o, __m256 s, __m256i phasev, const double *sums, __m512d cutoffv,
    __m512i gen, uint64_t *slots, uint16_t *candidates, double *bounds, size_t count
) {
    if (lanes == 0) return count;
    __m256i range = _mm256_srli_epi32(_mm256_add_epi32(o, phasev), INPARS_RANGE_SHIFT);
    __m512d sum = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), lanes, range, sums, 8);
    __m512d bound = _mm512_add_pd(_mm512_cvtps_pd(s), sum);
    __mmask8 keep = _mm512_mask_cmp_pd_mask(lanes, bound, cutoffv, _CMP_GT_OQ);
    if (keep == 0) return count;
    __m512i o64 = _mm512_cvtepu32_epi64(o);
    __m512i entry = _mm512_or_si512(gen, _mm512_cvtepu32_epi64(_mm256_castps_si256(s)));
    _mm512_mask_i64scatter_epi64(slots, keep, o64, entry, 8);
    return append_kept(keep, bound, o64, bounds, candidates, count);
}

POSTINGS_TARGET static uint32_t live_ranges_avx512(
    const uint16_t *own, const uint16_t *sum, size_t ranges, int32_t cutoff, double scale,
    double *sums, uint8_t *live, uint64_t *bits
) {
    const __m512i cutoffv = _mm512_set1_epi32(cutoff);
    const __m512d scalev = _mm512_set1_pd(scale);
    uint32_t n = 0;
    for (size_t i = 0; i < (ranges + 63) / 64; i++) bits[i] = 0;
    for (size_t r = 0; r < ranges; r += 16) {
        size_t rest = ranges - r >= 16 ? 16 : ranges - r;
        __mmask16 lanes = (__mmask16)((1u << rest) - 1);
        __m512i s = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(lanes, sum + r));
        __m512i o = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(lanes, own + r));
        __mmask16 keep = _mm512_mask_cmpgt_epi32_mask(lanes, _mm512_add_epi32(o, s), cutoffv);
        _mm_mask_storeu_epi8(live + r, lanes, _mm_maskz_set1_epi8(keep, 1));
        bits[r >> 6] |= (uint64_t)keep << (r & 63);
        n += (uint32_t)__builtin_popcount(keep);
        _mm512_mask_storeu_pd(
            sums + r, (__mmask8)lanes,
            _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(s)), scalev));
        _mm512_mask_storeu_pd(
            sums + r + 8, (__mmask8)(lanes >> 8),
            _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(s, 1)), scalev));
    }
    return n;
}

/// Reads a block of a window's essential term 16 postings at a time (both essential kernels).
typedef struct {
    unpacker docs, tfs, norms;
    const inpars_posting_block *block;
    const inpars_term_scorer *scorer;
    const inpars_essential_window *w;
    __m512i base, minNorm, from, to, phase;
} live_reader;

/// One group of 16 postings: the lanes in live ranges (`hot`), their window offsets and
/// scores (scored only if a lane is hot; other lanes' scores are 0), and the lanes whose
/// document is ≥ `to` (`past`).
typedef struct {
    __mmask16 hot, past;
    __m512i offset;
    __m512 score;
} live_group;

POSTINGS_TARGET static inline live_reader make_live_reader(
    const inpars_posting_block *block, const inpars_term_scorer *scorer,
    const inpars_essential_window *w
) {
    live_reader r;
    r.docs = make_unpacker(block->doc_bits);
    r.tfs = make_unpacker(block->tf_bits);
    r.norms = make_unpacker(block->norm_bits);
    r.block = block;
    r.scorer = scorer;
    r.w = w;
    r.base = _mm512_set1_epi32((int)block->base);
    r.minNorm = _mm512_set1_epi32((int)block->min_norm);
    r.from = _mm512_set1_epi32((int)w->from);
    r.to = _mm512_set1_epi32((int)w->to);
    r.phase = _mm512_set1_epi32((int)w->phase);
    return r;
}

/// Group `g`, lanes before position `begin` left out. Per lane the documents are unpacked, their
/// ranges' live bytes gathered (the low byte of a 32-bit gather: `live` is padded), and tf,
/// norm and score computed only when a lane is hot.
POSTINGS_TARGET static inline live_group read_live_group(
    const live_reader *r, size_t g, size_t begin
) {
    size_t total = r->block->count;
    size_t rest = total - 16 * g;
    __mmask16 lanes = rest >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rest) - 1);
    if (16 * g < begin) lanes &= (__mmask16)(0xFFFFu << (begin - 16 * g));
    __m512i d = _mm512_add_epi32(unpack_group(&r->docs, r->block->docs, g, total), r->base);
    live_group x;
    x.past = _mm512_mask_cmpge_epu32_mask(lanes, d, r->to);
    __mmask16 inside = lanes & (__mmask16)~x.past;
    x.offset = _mm512_sub_epi32(d, r->from);
    __m512i range = _mm512_srli_epi32(_mm512_add_epi32(x.offset, r->phase), INPARS_RANGE_SHIFT);
    __m512i flag =
        _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), inside, range, r->w->live, 1);
    x.hot = _mm512_mask_test_epi32_mask(inside, flag, _mm512_set1_epi32(0xFF));
    x.score = _mm512_setzero_ps();
    if (x.hot) {
        __m512i tf = _mm512_add_epi32(
            unpack_group(&r->tfs, r->block->tfs, g, total), _mm512_set1_epi32(1));
        __m512i norm =
            _mm512_add_epi32(unpack_group(&r->norms, r->block->norms, g, total), r->minNorm);
        x.score = score16(tf, norm, x.hot, r->scorer);
    }
    return x;
}

/// The hot lanes of each group tested and recorded eight at a time (`essential_eight`).
POSTINGS_TARGET static size_t essential_block_avx512(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *w, uint64_t *slots, uint16_t *candidates, double *bounds,
    size_t *count
) {
    live_reader r = make_live_reader(block, scorer, w);
    const __m256i phasev = _mm256_set1_epi32((int)w->phase);
    const __m512d cutoffv = _mm512_set1_pd(w->cutoff);
    const __m512i gen = _mm512_set1_epi64((long long)(w->generation << 32));
    size_t n = *count;
    for (size_t g = begin / 16; 16 * g < block->count; g++) {
        live_group x = read_live_group(&r, g, begin);
        if (x.hot) {
            n = essential_eight(
                (__mmask8)x.hot, _mm512_castsi512_si256(x.offset), _mm512_castps512_ps256(x.score),
                phasev, w->sums, cutoffv, gen, slots, candidates, bounds, n);
            n = essential_eight(
                (__mmask8)(x.hot >> 8), _mm512_extracti64x4_epi64(x.offset, 1),
                _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x.score), 1)), phasev,
                w->sums, cutoffv, gen, slots, candidates, bounds, n);
        }
        if (x.past) {
            *count = n;
            return 16 * g + (size_t)__builtin_ctz(x.past);
        }
    }
    *count = n;
    return block->count;
}

/// The hot lanes' window offsets and scores compressed out of the vectors, then added one by
/// one (`accumulate_posting`: lanes of one group may share a word of `matched`).
POSTINGS_TARGET static size_t accumulate_block_avx512(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *w, uint64_t *slots, double *partial, uint64_t *matched
) {
    live_reader r = make_live_reader(block, scorer, w);
    uint32_t offsets[16];
    float scores[16];
    for (size_t g = begin / 16; 16 * g < block->count; g++) {
        live_group x = read_live_group(&r, g, begin);
        if (x.hot) {
            _mm512_storeu_si512(offsets, _mm512_maskz_compress_epi32(x.hot, x.offset));
            _mm512_storeu_ps(scores, _mm512_maskz_compress_ps(x.hot, x.score));
            int n = __builtin_popcount(x.hot);
            for (int i = 0; i < n; i++)
                accumulate_posting(offsets[i], scores[i], w->generation, slots, partial, matched);
        }
        if (x.past) return 16 * g + (size_t)__builtin_ctz(x.past);
    }
    return block->count;
}
#endif

uint8_t inpars_max_byte_isa(const uint8_t *bytes, size_t count, inpars_isa isa) {
#ifdef INPARS_X86
    if (use_avx512(isa)) return max_byte_avx512(bytes, count);
#endif
    (void)isa;
    return max_byte_generic(bytes, count);
}

uint8_t inpars_max_byte(const uint8_t *bytes, size_t count) {
    return inpars_max_byte_isa(bytes, count, inpars_kernels_isa());
}

void inpars_range_units_isa(
    const uint8_t *bytes, size_t count, const uint16_t *table, uint16_t *out, uint16_t *sum,
    inpars_isa isa
) {
    INPARS_AVX512_OR_GENERIC(use_avx512(isa), range_units, (bytes, count, table, out, sum));
}

void inpars_range_units(
    const uint8_t *bytes, size_t count, const uint16_t *table, uint16_t *out, uint16_t *sum
) {
    inpars_range_units_isa(bytes, count, table, out, sum, inpars_kernels_isa());
}

uint32_t inpars_live_ranges_isa(
    const uint16_t *own, const uint16_t *sum, size_t ranges, int32_t cutoff, double scale,
    double *sums, uint8_t *live, uint64_t *bits, inpars_isa isa
) {
#ifdef INPARS_X86
    if (use_avx512(isa))
        return live_ranges_avx512(own, sum, ranges, cutoff, scale, sums, live, bits);
#endif
    (void)isa;
    return live_ranges_generic(own, sum, ranges, cutoff, scale, sums, live, bits);
}

uint32_t inpars_live_ranges(
    const uint16_t *own, const uint16_t *sum, size_t ranges, int32_t cutoff, double scale,
    double *sums, uint8_t *live, uint64_t *bits
) {
    return inpars_live_ranges_isa(
        own, sum, ranges, cutoff, scale, sums, live, bits, inpars_kernels_isa());
}

size_t inpars_essential_block_isa(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *window, uint64_t *slots, uint16_t *candidates, double *bounds,
    size_t *count, inpars_isa isa
) {
#ifdef INPARS_X86
    if (use_avx512(isa))
        return essential_block_avx512(
            block, scorer, begin, window, slots, candidates, bounds, count);
#endif
    (void)isa;
    return essential_block_generic(block, scorer, begin, window, slots, candidates, bounds, count);
}

size_t inpars_essential_block(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *window, uint64_t *slots, uint16_t *candidates, double *bounds,
    size_t *count
) {
    return inpars_essential_block_isa(
        block, scorer, begin, window, slots, candidates, bounds, count, inpars_kernels_isa());
}

size_t inpars_accumulate_block_isa(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *window, uint64_t *slots, double *partial, uint64_t *matched,
    inpars_isa isa
) {
#ifdef INPARS_X86
    if (use_avx512(isa))
        return accumulate_block_avx512(block, scorer, begin, window, slots, partial, matched);
#endif
    (void)isa;
    return accumulate_block_generic(block, scorer, begin, window, slots, partial, matched);
}

size_t inpars_accumulate_block(
    const inpars_posting_block *block, const inpars_term_scorer *scorer, size_t begin,
    const inpars_essential_window *window, uint64_t *slots, double *partial, uint64_t *matched
) {
    return inpars_accumulate_block_isa(
        block, scorer, begin, window, slots, partial, matched, inpars_kernels_isa());
}
