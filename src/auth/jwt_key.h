/*
 * jwt_key.h - one parsed JWT key and the JWS signature operations on it (internal to
 * src/auth). A key is built once from its configuration and read-only afterwards, so
 * any number of threads may verify and sign with it at the same time.
 */
#ifndef TENANTQL_AUTH_JWT_KEY_H
#define TENANTQL_AUTH_JWT_KEY_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tenantql/jwt.h"

#define JWT_MAX_SIG_LEN 1024 /* raw bytes: an RSA-8192 signature, the largest key accepted */

typedef struct jwt_key {
    tq_jwt_alg alg;
    char *kid;               /* NULL: none */
    unsigned char *secret;   /* HS256 */
    size_t secret_len;
    EVP_PKEY *pub;           /* RS256/ES256 */
    EVP_PKEY *priv;          /* RS256/ES256 signing key, or NULL */
    EVP_MD *sha256;          /* fetched once: an implicit fetch per signature costs a lock */
    size_t sig_len;          /* the only acceptable raw signature length */
} jwt_key;

/* 0, or -1 with a message in err (which does not repeat the kid: the caller adds it). */
int jwt_key_init(jwt_key *k, const tq_jwt_key *cfg, char *err, size_t errlen);
void jwt_key_clear(jwt_key *k);

bool jwt_key_can_sign(const jwt_key *k);

/* Whether sig[0..sig_len) is k's JWS signature of msg[0..len). */
bool jwt_key_verify(const jwt_key *k, const void *msg, size_t len, const uint8_t *sig, size_t sig_len);

/* Writes k->sig_len bytes of JWS signature into sig (room for JWT_MAX_SIG_LEN);
 * false when k cannot sign or OpenSSL fails. */
bool jwt_key_sign(const jwt_key *k, const void *msg, size_t len, uint8_t *sig);

#endif
