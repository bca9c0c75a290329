/* Loads libcurl.so.4 on first use; see include/ccurl.h. */
#include "ccurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *handle);
    void (*easy_reset)(CURL *handle);
    CURLcode (*easy_perform)(CURL *handle);
    const char *(*easy_strerror)(CURLcode code);
    CURLcode (*easy_setopt)(CURL *handle, CURLoption option, ...);
    CURLcode (*easy_getinfo)(CURL *handle, CURLINFO info, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *line);
    void (*slist_free_all)(struct curl_slist *list);
} curl;
static int loaded;
static char failure[512] = "libcurl.so.4 was not loaded";
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *reason = dlerror();
        snprintf(failure, sizeof failure, "%s", reason ? reason : "libcurl.so.4: cannot open");
        return;
    }
#define RESOLVE(field, name) \
    *(void **)&curl.field = dlsym(library, name); \
    if (!curl.field) { \
        snprintf(failure, sizeof failure, "libcurl.so.4 has no %s", name); \
        return; \
    }
    RESOLVE(global_init, "curl_global_init")
    RESOLVE(easy_init, "curl_easy_init")
    RESOLVE(easy_cleanup, "curl_easy_cleanup")
    RESOLVE(easy_reset, "curl_easy_reset")
    RESOLVE(easy_perform, "curl_easy_perform")
    RESOLVE(easy_strerror, "curl_easy_strerror")
    RESOLVE(easy_setopt, "curl_easy_setopt")
    RESOLVE(easy_getinfo, "curl_easy_getinfo")
    RESOLVE(slist_append, "curl_slist_append")
    RESOLVE(slist_free_all, "curl_slist_free_all")
#undef RESOLVE
    loaded = 1;
}

const char *ccurl_load_failure(void) {
    pthread_once(&once, load);
    return loaded ? NULL : failure;
}

/* Every function below is reached only after ccurl_global_init_all succeeded (CurlEasy), so
   libcurl is loaded; they check anyway rather than call through a null pointer. */
CURLcode ccurl_global_init_all(void) {
    return ccurl_load_failure() ? CURLE_FAILED_INIT : curl.global_init(CURL_GLOBAL_ALL);
}
CURL *ccurl_easy_init(void) { return ccurl_load_failure() ? NULL : curl.easy_init(); }
void ccurl_easy_cleanup(CURL *handle) { if (!ccurl_load_failure()) curl.easy_cleanup(handle); }
void ccurl_easy_reset(CURL *handle) { if (!ccurl_load_failure()) curl.easy_reset(handle); }
CURLcode ccurl_easy_perform(CURL *handle) {
    return ccurl_load_failure() ? CURLE_FAILED_INIT : curl.easy_perform(handle);
}
const char *ccurl_easy_strerror(CURLcode code) {
    return ccurl_load_failure() ? "libcurl is not loaded" : curl.easy_strerror(code);
}
struct curl_slist *ccurl_slist_append(struct curl_slist *list, const char *line) {
    return ccurl_load_failure() ? NULL : curl.slist_append(list, line);
}
void ccurl_slist_free_all(struct curl_slist *list) {
    if (!ccurl_load_failure()) curl.slist_free_all(list);
}

#define SETOPT(name, type) \
    CURLcode name(CURL *handle, CURLoption option, type value) { \
        return ccurl_load_failure() ? CURLE_FAILED_INIT : curl.easy_setopt(handle, option, value); \
    }
SETOPT(ccurl_setopt_long, long)
SETOPT(ccurl_setopt_ptr, const void *)
SETOPT(ccurl_setopt_string, const char *)
SETOPT(ccurl_setopt_slist, struct curl_slist *)
SETOPT(ccurl_setopt_callback, ccurl_data_callback)
#undef SETOPT

CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return ccurl_load_failure() ? CURLE_FAILED_INIT : curl.easy_getinfo(handle, info, value);
}
CURLcode ccurl_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return ccurl_load_failure() ? CURLE_FAILED_INIT : curl.easy_getinfo(handle, info, value);
}
