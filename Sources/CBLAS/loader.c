/* Loads libopenblas.so.0 on first use; see include/cblas_lazy.h. */
#include "cblas_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static cblas_function_table table;
static atomic_int loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static int pending_threads; /* 0: none requested */

static void fail(const char *reason) {
    fprintf(stderr,
            "inpars: error: OpenBLAS cannot be loaded (%s); install it (Debian/Ubuntu: apt install "
            "libopenblas0) or see the README's set-up\n",
            reason);
    exit(127);
}

static void load(void) {
    void *library = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *reason = dlerror();
        fail(reason ? reason : "libopenblas.so.0: cannot open");
    }
#define RESOLVE(field, name) \
    *(void **)&table.field = dlsym(library, name); \
    if (!table.field) fail("libopenblas.so.0 has no " name);
    RESOLVE(sgemm, "cblas_sgemm")
    RESOLVE(sgemv, "cblas_sgemv")
    RESOLVE(set_num_threads, "openblas_set_num_threads")
    RESOLVE(get_num_threads, "openblas_get_num_threads")
    RESOLVE(get_config, "openblas_get_config")
    RESOLVE(get_corename, "openblas_get_corename")
#undef RESOLVE
    *(void **)&table.thread_shutdown = dlsym(library, "blas_thread_shutdown_");
    pthread_mutex_lock(&threads_lock);
    if (pending_threads > 0) table.set_num_threads(pending_threads);
    atomic_store(&loaded, 1);
    pthread_mutex_unlock(&threads_lock);
}

const cblas_function_table *cblas_functions(void) {
    if (!atomic_load_explicit(&loaded, memory_order_acquire)) pthread_once(&once, load);
    return &table;
}

int cblas_loaded(void) { return atomic_load(&loaded); }

void cblas_set_threads(int threads) {
    pthread_mutex_lock(&threads_lock);
    if (atomic_load(&loaded)) {
        table.set_num_threads(threads);
    } else {
        pending_threads = threads;
    }
    pthread_mutex_unlock(&threads_lock);
}
