/*
 * jwt.h - bearer-token verification and signing. libjwt 1.10.2 trusts the token's own
 * "alg", verifies nothing when given no key and checks no times, so it is only used
 * behind this wrapper: the header is checked here before libjwt sees the token, the
 * algorithm is pinned by configuration, and every claim is checked here.
 *
 * A verifier is built once at start-up and is read-only afterwards; any number of
 * threads may call tq_jwt_verify on it at the same time. Only HS256 exists today; the
 * key list is where RS256/ES256 keys and kid-selected keys for rotation will go.
 */
#ifndef TENANTQL_JWT_H
#define TENANTQL_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tenantql/uuid.h"

#define TQ_JWT_MIN_HS256_SECRET 32        /* bytes; RFC 7518 3.2: at least the hash size */
#define TQ_JWT_DEFAULT_ISSUER "tenantql"
#define TQ_JWT_DEFAULT_LEEWAY 30          /* seconds of clock skew allowed for exp/nbf/iat */
#define TQ_JWT_DEFAULT_MAX_TOKEN_LEN 4096 /* bytes; longer tokens are refused unread */
#define TQ_JWT_MAX_TOKEN_LEN_LIMIT 65536  /* the largest max_token_len a config may ask for */

typedef enum tq_jwt_alg {
    TQ_JWT_HS256,
} tq_jwt_alg;

/* One signing/verification key. The bytes are copied by tq_jwt_verifier_new. */
typedef struct tq_jwt_key {
    tq_jwt_alg alg;
    const char *kid; /* must be NULL for now; reserved for key rotation */
    const unsigned char *secret;
    size_t secret_len;
} tq_jwt_key;

typedef struct tq_jwt_config {
    const tq_jwt_key *keys; /* exactly one for now */
    size_t nkeys;
    const char *issuer;     /* required "iss"; NULL or "" = iss not checked and not written */
    int64_t leeway;         /* seconds, >= 0 */
    size_t max_token_len;   /* 1 .. TQ_JWT_MAX_TOKEN_LEN_LIMIT */
} tq_jwt_config;

/* Fills in the defaults above and no key. */
void tq_jwt_config_init(tq_jwt_config *cfg);

typedef struct tq_jwt_claims {
    char tenant_id[TQ_UUID_TEXT_SIZE]; /* canonical lowercase uuid */
    char sub[TQ_UUID_TEXT_SIZE];       /* user id, canonical lowercase uuid, when has_sub */
    bool has_sub, has_iat, has_nbf;
    int64_t exp, iat, nbf;             /* seconds since the epoch; iat/nbf only when has_* */
} tq_jwt_claims;

typedef enum tq_jwt_status {
    TQ_JWT_OK = 0,
    TQ_JWT_TOO_LONG,
    TQ_JWT_MALFORMED,
    TQ_JWT_ALG_NOT_ALLOWED,
    TQ_JWT_BAD_HEADER,
    TQ_JWT_BAD_SIGNATURE,
    TQ_JWT_MISSING_EXP,
    TQ_JWT_BAD_TIME_CLAIM,
    TQ_JWT_EXPIRED,
    TQ_JWT_NOT_YET_VALID,
    TQ_JWT_ISSUED_IN_FUTURE,
    TQ_JWT_WRONG_ISSUER,
    TQ_JWT_BAD_TENANT,
    TQ_JWT_BAD_SUB,
    TQ_JWT_INTERNAL,
} tq_jwt_status;

/* A short reason for logs ("expired", "bad signature", ...); never contains token data. */
const char *tq_jwt_status_text(tq_jwt_status st);

typedef struct tq_jwt_verifier tq_jwt_verifier;

/* NULL with a message in err when the configuration is unusable (e.g. a short secret). */
tq_jwt_verifier *tq_jwt_verifier_new(const tq_jwt_config *cfg, char *err, size_t errlen);
void tq_jwt_verifier_free(tq_jwt_verifier *v);

/*
 * Checks token[0..len) (no NUL needed) at time now (seconds since the epoch). On
 * TQ_JWT_OK fills *out; otherwise *out is left zeroed. Thread-safe.
 */
tq_jwt_status tq_jwt_verify(const tq_jwt_verifier *v, const char *token, size_t len, int64_t now,
                            tq_jwt_claims *out);

/* The time checks of tq_jwt_verify alone (exp, nbf, iat with the leeway), for claims
 * that were verified before: a cache of verified tokens must still expire them. */
tq_jwt_status tq_jwt_check_time_claims(const tq_jwt_verifier *v, const tq_jwt_claims *c, int64_t now);

/*
 * Signs claims with the verifier's key: header {"alg":"HS256","typ":"JWT"}, claims
 * tenantId, sub (if has_sub), iat (if has_iat), nbf (if has_nbf), exp, and iss (if an
 * issuer is configured). Returns a malloc'ed NUL-terminated token, or NULL when the
 * claims are invalid (tenant_id or sub not a uuid) or memory runs out.
 */
char *tq_jwt_sign(const tq_jwt_verifier *v, const tq_jwt_claims *claims);

#endif
