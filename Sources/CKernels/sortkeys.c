// Sorting BM25 ranking keys (InparsBM25's `BM25Searcher.radixSortDescending`); see CKernels.h.
#include "CKernels.h"

#include <string.h>

static void insertion_sort_descending(uint64_t *keys, size_t count) {
    for (size_t i = 1; i < count; i++) {
        uint64_t key = keys[i];
        size_t j = i;
        while (j > 0 && keys[j - 1] < key) {
            keys[j] = keys[j - 1];
            j--;
        }
        keys[j] = key;
    }
}

/// Stable LSD passes (8-bit digits, descending) over bytes [first, last) of the keys; the
/// histograms of all those bytes come from one read pass, and bytes on which every key agrees
/// are skipped. The result ends in `keys`.
static void radix_passes(uint64_t *keys, size_t count, unsigned first, unsigned last, uint64_t *scratch) {
    uint32_t counts[8][256];
    memset(counts[first], 0, sizeof(counts[0]) * (last - first));
    for (size_t i = 0; i < count; i++) {
        uint64_t inverted = ~keys[i];
        for (unsigned b = first; b < last; b++) counts[b][(inverted >> (8 * b)) & 0xFF]++;
    }
    uint64_t *source = keys;
    uint64_t *target = scratch;
    for (unsigned b = first; b < last; b++) {
        uint32_t *c = counts[b];
        if (c[(~source[0] >> (8 * b)) & 0xFF] == count) continue;
        uint32_t total = 0;
        for (unsigned d = 0; d < 256; d++) {
            uint32_t n = c[d];
            c[d] = total;
            total += n;
        }
        unsigned shift = 8 * b;
        for (size_t i = 0; i < count; i++) {
            uint64_t key = source[i];
            target[c[(~key >> shift) & 0xFF]++] = key;
        }
        uint64_t *t = source;
        source = target;
        target = t;
    }
    if (source != keys) memcpy(keys, source, count * sizeof(uint64_t));
}

void inpars_sort_keys_descending(uint64_t *keys, size_t count, uint64_t *scratch) {
    if (count < 2) return;
    if (count <= 32) {
        insertion_sort_descending(keys, count);
        return;
    }
    // The high 32 bits (the score) first; keys with equal scores, rare, then by the low 32.
    radix_passes(keys, count, 4, 8, scratch);
    size_t start = 0;
    while (start < count) {
        uint64_t score = keys[start] >> 32;
        size_t end = start + 1;
        while (end < count && keys[end] >> 32 == score) end++;
        if (end - start > 32) {
            radix_passes(keys + start, end - start, 0, 4, scratch);
        } else if (end - start > 1) {
            insertion_sort_descending(keys + start, end - start);
        }
        start = end;
    }
}

void inpars_select_largest(uint64_t *a, size_t count, size_t k, uint64_t *scratch) {
    if (k == 0 || k >= count) return;
    if (k <= 16) {
        // A few largest: one scan keeping them sorted in a[0..<k]; after the first k keys a
        // key rarely beats the k-th, so the branch is predictable.
        insertion_sort_descending(a, k);
        for (size_t i = k; i < count; i++) {
            uint64_t key = a[i];
            if (key <= a[k - 1]) continue;
            size_t j = k - 1;
            while (j > 0 && a[j - 1] < key) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = key;
        }
        return;
    }
    uint64_t varying = 0;
    for (size_t i = 1; i < count; i++) varying |= a[i] ^ a[0];
    if (varying == 0) return;
    int top = 63 - __builtin_clzll(varying);
    size_t low = 0;
    size_t n = count;
    size_t need = k;
    uint32_t counts[1 << 11];
    while (need > 0 && need < n) {
        if (n <= 48) {
            // Few left: sorted, the first `need` are the largest.
            insertion_sort_descending(a + low, n);
            return;
        }
        int width = top + 1 < 11 ? top + 1 : 11;
        unsigned shift = (unsigned)(top + 1 - width);
        uint64_t mask = ((uint64_t)1 << width) - 1;
        size_t buckets = (size_t)1 << width;
        memset(counts, 0, buckets * sizeof(uint32_t));
        for (size_t i = low; i < low + n; i++) counts[(a[i] >> shift) & mask]++;
        size_t above = 0;
        size_t bucket = buckets - 1;
        while (above + counts[bucket] < need) {
            above += counts[bucket];
            bucket--;
        }
        if (counts[bucket] < n) {
            // Keys above the bucket move to the front (in place: the write index never passes
            // the read index), the bucket's keys to scratch, then right after.
            size_t w = low;
            size_t e = 0;
            for (size_t i = low; i < low + n; i++) {
                uint64_t key = a[i];
                size_t digit = (size_t)((key >> shift) & mask);
                a[w] = key;
                w += digit > bucket;
                scratch[e] = key;
                e += digit == bucket;
            }
            memcpy(a + w, scratch, e * sizeof(uint64_t));
            low = w;
            n = e;
            need -= above;
        }
        if (shift == 0) break;
        top = (int)shift - 1;
    }
}
