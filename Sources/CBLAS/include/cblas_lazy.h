#ifndef INPARS_CBLAS_LAZY_H
#define INPARS_CBLAS_LAZY_H
/* The few OpenBLAS functions inpars calls, with OpenBLAS loaded on first use.
 *
 * inpars does not link OpenBLAS: commands that multiply no matrix (index, search, evaluate,
 * triples) would otherwise map and relocate it at every start, and OpenBLAS starts a worker
 * thread per core when it loads, each spinning for ~0.1 s (Docs/performance.md, "Start-up").
 * loader.c opens libopenblas.so.0 (dlopen) the first time a product, a thread query or the
 * core name is asked for. Setting the thread count before that only records it; it is applied
 * when the library loads. If OpenBLAS cannot be loaded, the first product prints why and what
 * to install and exits with status 127, as the dynamic loader would have at start.
 *
 * The CBLAS enums are declared here with the values every CBLAS uses (cblas.h itself is not
 * included: its declarations would clash with these inline functions of the same names). */
#include <stddef.h>

typedef enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 } CBLAS_ORDER;
typedef enum CBLAS_TRANSPOSE {
    CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113, CblasConjNoTrans = 114
} CBLAS_TRANSPOSE;

typedef struct {
    void (*sgemm)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, int, int, int,
                  float, const float *, int, const float *, int, float, float *, int);
    void (*sgemv)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, int, int, float, const float *, int,
                  const float *, int, float, float *, int);
    void (*set_num_threads)(int);
    int (*get_num_threads)(void);
    char *(*get_config)(void);
    char *(*get_corename)(void);
    /* OpenBLAS's fork handler: stops its worker threads (NULL if this OpenBLAS lacks it). */
    int (*thread_shutdown)(void);
} cblas_function_table;

/* The loaded functions (loading OpenBLAS on the first call; exits with a message if it cannot). */
const cblas_function_table *cblas_functions(void);
/* Whether OpenBLAS has been loaded (never loads it). */
int cblas_loaded(void);
/* The thread count to apply when OpenBLAS loads, or now if it is loaded. */
void cblas_set_threads(int threads);

static inline void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE transA,
                               enum CBLAS_TRANSPOSE transB, int m, int n, int k, float alpha,
                               const float *a, int lda, const float *b, int ldb, float beta,
                               float *c, int ldc) {
    cblas_functions()->sgemm(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
static inline void cblas_sgemv(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE trans, int m, int n,
                               float alpha, const float *a, int lda, const float *x, int incx,
                               float beta, float *y, int incy) {
    cblas_functions()->sgemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}
static inline void openblas_set_num_threads(int threads) { cblas_set_threads(threads); }
static inline int openblas_get_num_threads(void) { return cblas_functions()->get_num_threads(); }
static inline char *openblas_get_config(void) { return cblas_functions()->get_config(); }
static inline char *openblas_get_corename(void) { return cblas_functions()->get_corename(); }

#endif
