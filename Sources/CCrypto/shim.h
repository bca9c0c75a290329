#ifndef INPARS_CCRYPTO_SHIM_H
#define INPARS_CCRYPTO_SHIM_H
#include <openssl/evp.h>

/* A streaming digest context (OpenSSL picks SHA-NI / AVX2 code where the CPU has it):
   kind 0 = MD5, 1 = SHA-256. NULL when OpenSSL cannot make one. */
static inline EVP_MD_CTX *ccrypto_digest_new(int kind) {
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (context == NULL) return NULL;
    if (EVP_DigestInit_ex(context, kind == 1 ? EVP_sha256() : EVP_md5(), NULL) != 1) {
        EVP_MD_CTX_free(context);
        return NULL;
    }
    return context;
}
#endif
