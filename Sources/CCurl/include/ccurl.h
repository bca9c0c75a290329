#ifndef INPARS_CCURL_H
#define INPARS_CCURL_H
/* libcurl's easy API (Debian libcurl4-openssl-dev's headers), loaded on first use.
 *
 * inpars does not link libcurl: only commands that download or call a server use it, and
 * mapping and relocating libcurl and the ~25 libraries it needs (TLS, Kerberos, LDAP, …) at
 * every start cost a short command about 4 ms of CPU (Docs/performance.md, "Start-up").
 * loader.c opens libcurl.so.4 (dlopen) the first time one of these functions runs; if it
 * cannot, ccurl_global_init_all returns CURLE_FAILED_INIT and ccurl_load_failure says why.
 * Swift cannot call C variadic functions, so setopt and getinfo have one typed function per
 * argument kind. */
#include <curl/curl.h>

/* NULL once libcurl is loaded (loading it now if need be), else why it cannot be. */
const char *ccurl_load_failure(void);

/* curl_global_init(CURL_GLOBAL_ALL) (a compound macro Swift does not import). */
CURLcode ccurl_global_init_all(void);
CURL *ccurl_easy_init(void);
void ccurl_easy_cleanup(CURL *handle);
void ccurl_easy_reset(CURL *handle);
CURLcode ccurl_easy_perform(CURL *handle);
const char *ccurl_easy_strerror(CURLcode code);
struct curl_slist *ccurl_slist_append(struct curl_slist *list, const char *line);
void ccurl_slist_free_all(struct curl_slist *list);

typedef size_t (*ccurl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_setopt_ptr(CURL *handle, CURLoption option, const void *value);
CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ccurl_setopt_callback(CURL *handle, CURLoption option, ccurl_data_callback value);
CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ccurl_getinfo_double(CURL *handle, CURLINFO info, double *value);

#endif
