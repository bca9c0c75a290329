/* Loads libdnnl.so.2 on first use; see include/cdnnl.h. */
#include "cdnnl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static cdnnl_function_table table;
static const cdnnl_function_table *loaded;
static char failure[512] = "libdnnl.so.2 was not loaded";
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* RTLD_GLOBAL: the OpenMP runtime libdnnl brings (libgomp) must be found by name afterwards
   (DNNL.setOpenMPThreads looks up omp_set_num_threads). */
static void load(void) {
    void *library = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_GLOBAL);
    if (!library) {
        const char *reason = dlerror();
        snprintf(failure, sizeof failure, "%s", reason ? reason : "libdnnl.so.2: cannot open");
        return;
    }
#define CDNNL_RESOLVE(type, name, parameters, arguments, missing) \
    *(void **)&table.name = dlsym(library, #name); \
    if (!table.name) { \
        snprintf(failure, sizeof failure, "libdnnl.so.2 has no %s (oneDNN 2.x is needed)", #name); \
        return; \
    }
    CDNNL_FUNCTIONS(CDNNL_RESOLVE)
#undef CDNNL_RESOLVE
    loaded = &table;
}

const cdnnl_function_table *cdnnl_functions(void) {
    pthread_once(&once, load);
    return loaded;
}

const char *cdnnl_load_failure(void) { return cdnnl_functions() ? NULL : failure; }
