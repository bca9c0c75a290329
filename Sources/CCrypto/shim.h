#ifndef INPARS_CCRYPTO_SHIM_H
#define INPARS_CCRYPTO_SHIM_H
/* OpenSSL's one-shot digest functions (SHA256_Init/Update/Final, MD5_*), deprecated in
   OpenSSL 3 in favour of EVP but still part of libcrypto 3's API. They run the same block
   functions as EVP (SHA-NI / AVX2 where the CPU has them) without EVP's first-use cost: the
   first EVP digest loads openssl.cnf and the default provider (about 1 ms), which a short
   command (`inpars search --output` fingerprinting its inputs) would otherwise pay on its
   critical path. Plain checksums need no provider. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/md5.h>
#include <openssl/sha.h>
#include <stdlib.h>

/* A streaming digest: kind 0 = MD5, 1 = SHA-256. */
typedef struct {
    int kind;
    union {
        MD5_CTX md5;
        SHA256_CTX sha256;
    } state;
} ccrypto_digest;

/* A fresh digest of `kind`, or NULL when out of memory or OpenSSL refuses. */
static inline ccrypto_digest *ccrypto_digest_new(int kind) {
    ccrypto_digest *digest = (ccrypto_digest *)malloc(sizeof(ccrypto_digest));
    if (digest == NULL) return NULL;
    digest->kind = kind;
    int ok = kind == 1 ? SHA256_Init(&digest->state.sha256) : MD5_Init(&digest->state.md5);
    if (ok != 1) {
        free(digest);
        return NULL;
    }
    return digest;
}

static inline void ccrypto_digest_update(ccrypto_digest *digest, const void *bytes, size_t count) {
    if (digest->kind == 1) {
        SHA256_Update(&digest->state.sha256, bytes, count);
    } else {
        MD5_Update(&digest->state.md5, bytes, count);
    }
}

/* Writes the digest (32 bytes for SHA-256, 16 for MD5) to `output`. */
static inline void ccrypto_digest_final(ccrypto_digest *digest, unsigned char *output) {
    if (digest->kind == 1) {
        SHA256_Final(output, &digest->state.sha256);
    } else {
        MD5_Final(output, &digest->state.md5);
    }
}

static inline void ccrypto_digest_free(ccrypto_digest *digest) { free(digest); }
#endif
