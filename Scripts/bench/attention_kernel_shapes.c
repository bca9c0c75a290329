// The fused inference attention kernel alone on the two big multi-row shapes of issues 11 and
// 13, CPU time of the process (so other processes on a shared machine change the figures
// less; with THREADS=2 it is the sum over both workers, i.e. GFLOP/s per busy core), best of
// REPEATS, useful flops over visible keys (as `AttentionProfile`):
// - t5: monoT5-base encoder self-attention, 8 entries × 12 heads, 512 queries × 512 keys
//   (the last entry 400 real), d 64, relative bias, q/k/v rows of a fused projection (2,304
//   floats apart); ENTRIES changes the 8, KEYS=n the keys per entry.
// - llm: Qwen2.5-0.5B document prefill, ENTRIES entries × 14 query heads over 2 key/value
//   heads, 256 new rows after a 600-key shared prefix (packed once, as the KV cache keeps
//   it), own keys packed too, causal.
// - decode: a decode step of that model, ENTRIES rows of 1 position each over the 600 shared
//   and 280 own keys.
//
//   clang -O2 -ISources/CKernels/include -ISources/CKernels Scripts/bench/attention_kernel_shapes.c \
//       Sources/CKernels/attention.c Sources/CKernels/softmax.c Sources/CKernels/allocator.c \
//       -lpthread -lm -o /tmp/attention_shapes
//   /tmp/attention_shapes t5 15 8;  /tmp/attention_shapes llm 15 8;  THREADS=2 /tmp/attention_shapes t5 15 8
//   DUMP=FILE writes the output (float32) to compare two versions of the kernel.
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <math.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static float *rnd(size_t n, unsigned *s, float amp) {
    float *p = aligned_alloc(64, ((n * 4 + 63) / 64) * 64);
    for (size_t i = 0; i < n; i++) { *s = *s * 1664525u + 1013904223u; p[i] = amp * ((*s >> 8) / 8388608.0f - 1.0f); }
    return p;
}
typedef struct { inpars_attention *a; const float *q, *k, *v; float *o; size_t w, n; } job;
static void *run(void *p) { job *j = p; inpars_attention_forward(j->a, j->q, j->k, j->v, j->o, j->w, j->n); return NULL; }

/// argv: SHAPE (t5 | llm | decode) REPEATS ENTRIES.
int main(int argc, char **argv) {
    const char *shape = argc > 1 ? argv[1] : "t5";
    int iters = argc > 2 ? atoi(argv[2]) : 5;
    int threads = getenv("THREADS") ? atoi(getenv("THREADS")) : 1;
    unsigned seed = 7;
    inpars_attention a; memset(&a, 0, sizeof a);
    float *q, *k, *v, *o, *bias = NULL, *sk = NULL, *sv = NULL, *spk = NULL, *pk = NULL;
    int64_t *vis, *slen = NULL;
    double flops = 0;
    if (!strcmp(shape, "t5")) {
        size_t B = argc > 3 ? atoi(argv[3]) : 8, H = 12, d = 64, L = 512, W = 3 * H * d;
        size_t KL = getenv("KEYS") ? atoi(getenv("KEYS")) : L;
        a.batch = B; a.num_heads = H; a.num_kv_heads = H; a.head_dim = d; a.query_length = L; a.key_length = KL;
        q = rnd(B * L * W, &seed, 1.0f);
        a.queries = (inpars_head_layout){W, L * W, 0};
        a.keys = (inpars_head_layout){W, L * W, H * d};
        a.values = (inpars_head_layout){W, L * W, 2 * H * d};
        a.output = (inpars_head_layout){H * d, L * H * d, 0};
        k = v = q;
        o = calloc(B * L * H * d, 4);
        vis = malloc(B * 8); for (size_t b = 0; b < B; b++) vis[b] = b == 7 ? (KL < 400 ? KL : 400) : KL;
        a.visible_keys = vis; a.scale = 1.0f;
        a.bias_width = 2 * L - 1; bias = rnd(H * a.bias_width, &seed, 3.0f); a.bias = bias;
        for (size_t b = 0; b < B; b++) flops += 4.0 * d * H * L * (double)vis[b];
        a.bias_width = L + KL - 1;
    } else {
        int decode = !strcmp(shape, "decode");
        size_t B = argc > 3 ? atoi(argv[3]) : 8, H = 14, KV = 2, d = 64, L = decode ? 280 : 256, P = 600;
        size_t W = (H + 2 * KV) * d, KW = KV * d;
        a.batch = B; a.num_heads = H; a.num_kv_heads = KV; a.head_dim = d; a.query_length = L; a.key_length = L;
        q = rnd(B * L * W, &seed, 1.0f);
        a.queries = (inpars_head_layout){W, L * W, 0};
        a.output = (inpars_head_layout){H * d, L * H * d, 0};
        k = rnd(B * L * KW, &seed, 1.0f); v = rnd(B * L * KW, &seed, 1.0f);
        a.keys = (inpars_head_layout){KW, L * KW, 0};
        a.values = (inpars_head_layout){KW, L * KW, 0};
        o = calloc(B * L * H * d, 4);
        // keys: P shared + L own; key_length counts both
        a.key_length = P + L;
        vis = malloc(B * 8); slen = malloc(B * 8);
        for (size_t b = 0; b < B; b++) { vis[b] = P + L - (b % 3) * 17; slen[b] = P; }
        a.visible_keys = vis; a.causal = 1; a.causal_offset = P; a.scale = 0.125f;
        if (decode) {  // one new row per entry: the last of its 280 own positions
            a.query_length = 1; a.causal_offset = P + L - 1;
            a.queries = (inpars_head_layout){W, W, 0};
            a.output = (inpars_head_layout){H * d, H * d, 0};
            for (size_t b = 0; b < B; b++) vis[b] = P + L;
        }
        sk = rnd(P * KW, &seed, 1.0f); sv = rnd(P * KW, &seed, 1.0f);
        a.shared_keys = sk; a.shared_values = sv; a.shared = (inpars_head_layout){KW, 0, 0}; a.shared_lengths = slen;
        if (inpars_attention_reads_packed_keys(d)) {
            size_t su = (P + 63) / 64 * 64 * d; spk = aligned_alloc(64, KV * su * 4);
            for (size_t h = 0; h < KV; h++) inpars_attention_pack_keys(sk + h * d, KW, 0, P, d, spk + h * su);
            a.shared_packed_keys = spk; a.shared_packed_unit_stride = su;
            size_t ou = (L + 63) / 64 * 64 * d; pk = aligned_alloc(64, B * KV * ou * 4); memset(pk, 0, B*KV*ou*4);
            for (size_t b = 0; b < B; b++) for (size_t h = 0; h < KV; h++)
                inpars_attention_pack_keys(k + b * L * KW + h * d, KW, 0, L, d, pk + (b * KV + h) * ou);
            a.packed_keys = pk; a.packed_unit_stride = ou;
        }
        for (size_t b = 0; b < B; b++) for (size_t i = 0; i < a.query_length; i++) {
            size_t lim = a.causal_offset + i + 1; if (lim > (size_t)vis[b]) lim = vis[b]; flops += 4.0 * d * H * lim; }
    }
    inpars_keep_large_allocations();
    double best = 1e9, total = 0;
    for (int it = 0; it < iters; it++) {
        double t0 = now();
        pthread_t th[8]; job jobs[8];
        for (int w = 0; w < threads; w++) { jobs[w] = (job){&a, q, k, v, o, w, threads}; pthread_create(&th[w], NULL, run, &jobs[w]); }
        for (int w = 0; w < threads; w++) pthread_join(th[w], NULL);
        double t = now() - t0; total += t; if (t < best) best = t;
    }
    double check = 0; size_t n = a.batch * a.query_length * a.num_heads * a.head_dim;
    for (size_t i = 0; i < n; i++) check += o[i] * (double)((i % 97) + 1);
    if (getenv("DUMP")) { FILE *f = fopen(getenv("DUMP"), "wb"); fwrite(o, 4, n, f); fclose(f); }
    printf("%s threads %d: best %.4f s, mean %.4f s, %.1f GFLOP/s best, checksum %.6e\n", shape, threads, best, total / iters, flops / best * 1e-9, check);
    return 0;
}
