/*
 * jwt.h - bearer-token verification and signing, as RFC 8725 asks: the algorithm of
 * every key is fixed by configuration and never taken from a token, a token's "kid"
 * header only selects among configured keys, and every claim is checked here.
 *
 * Algorithms: HS256 (shared secret), RS256 and ES256 (public key; a private key only
 * where this server signs). Keys are parsed once, when the verifier is built; signatures
 * are checked with OpenSSL directly (libjwt would re-parse a PEM key on every call).
 *
 * A verifier is built once at start-up and is read-only afterwards; any number of
 * threads may call tq_jwt_verify and tq_jwt_sign on it at the same time.
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
#define TQ_JWT_MAX_LEEWAY 86400
#define TQ_JWT_DEFAULT_MAX_TOKEN_LEN 4096 /* bytes; longer tokens are refused unread */
#define TQ_JWT_MAX_TOKEN_LEN_LIMIT 65536  /* the largest max_token_len a config may ask for */
#define TQ_JWT_MAX_KEYS 64
#define TQ_JWT_MAX_KID_LEN 128

typedef enum tq_jwt_alg {
    TQ_JWT_HS256,
    TQ_JWT_RS256,
    TQ_JWT_ES256,
} tq_jwt_alg;

/* "HS256", "RS256", "ES256" (static text). */
const char *tq_jwt_alg_name(tq_jwt_alg alg);
/* Exact (case-sensitive) JWA name; false for anything else. */
bool tq_jwt_alg_parse(const char *name, tq_jwt_alg *out);

/* One key. Everything is copied or parsed by tq_jwt_verifier_new. */
typedef struct tq_jwt_key {
    tq_jwt_alg alg;
    const char *kid;                /* the "kid" that selects this key; NULL: none */
    const unsigned char *secret;    /* HS256 only: at least 32 bytes */
    size_t secret_len;
    const char *public_pem;         /* RS256/ES256: "PUBLIC KEY" or "CERTIFICATE" PEM */
    size_t public_pem_len;
    const char *private_pem;        /* RS256/ES256, optional: the matching unencrypted private key */
    size_t private_pem_len;
} tq_jwt_key;

typedef struct tq_jwt_config {
    const tq_jwt_key *keys; /* 1 .. TQ_JWT_MAX_KEYS; with more than one, each needs a distinct kid */
    size_t nkeys;
    const char *signing_kid; /* key tq_jwt_sign uses; NULL: the only key, if it can sign */
    const char *issuer;     /* required "iss"; NULL or "" = iss not checked and not written */
    const char *audience;   /* required in "aud" (string or array) and written; NULL or "" = not checked */
    int64_t leeway;         /* seconds, 0 .. TQ_JWT_MAX_LEEWAY */
    size_t max_token_len;   /* 1 .. TQ_JWT_MAX_TOKEN_LEN_LIMIT */
} tq_jwt_config;

/* Fills in the defaults above and no key. */
void tq_jwt_config_init(tq_jwt_config *cfg);

typedef struct tq_jwt_claims {
    char tenant_id[TQ_UUID_TEXT_SIZE]; /* canonical lowercase uuid */
    char sub[TQ_UUID_TEXT_SIZE];       /* user id, canonical lowercase uuid, when has_sub */
    char jti[TQ_UUID_TEXT_SIZE];       /* token id, canonical lowercase uuid, when has_jti (logout revokes it) */
    bool has_sub, has_iat, has_nbf, has_jti;
    int64_t exp, iat, nbf;             /* seconds since the epoch; iat/nbf only when has_* */
} tq_jwt_claims;

typedef enum tq_jwt_status {
    TQ_JWT_OK = 0,
    TQ_JWT_TOO_LONG,
    TQ_JWT_MALFORMED,
    TQ_JWT_ALG_NOT_ALLOWED,
    TQ_JWT_BAD_HEADER,
    TQ_JWT_UNKNOWN_KID,
    TQ_JWT_BAD_SIGNATURE,
    TQ_JWT_MISSING_EXP,
    TQ_JWT_BAD_TIME_CLAIM,
    TQ_JWT_EXPIRED,
    TQ_JWT_NOT_YET_VALID,
    TQ_JWT_ISSUED_IN_FUTURE,
    TQ_JWT_WRONG_ISSUER,
    TQ_JWT_WRONG_AUDIENCE,
    TQ_JWT_BAD_TENANT,
    TQ_JWT_BAD_SUB,
    TQ_JWT_BAD_JTI,
    TQ_JWT_NOT_PLATFORM,  /* tq_jwt_verify_platform: no "platform" in the scope claim */
    TQ_JWT_TENANT_TOKEN,  /* tq_jwt_verify_platform: a tenantId claim (a tenant's token) */
    TQ_JWT_INTERNAL, /* keep last */
} tq_jwt_status;

/* A short reason for logs ("expired", "bad signature", ...; static text); never contains
 * token data. */
const char *tq_jwt_status_text(tq_jwt_status st);

typedef struct tq_jwt_verifier tq_jwt_verifier;

/* NULL with a message in err when the configuration is unusable (short secret, a PEM
 * that does not parse or does not fit its algorithm, a private key that does not match
 * its public key, duplicate kid, unknown signing kid, ...). The caller owns the verifier
 * (tq_jwt_verifier_free). */
tq_jwt_verifier *tq_jwt_verifier_new(const tq_jwt_config *cfg, char *err, size_t errlen);
void tq_jwt_verifier_free(tq_jwt_verifier *v);

/* One line for the start-up log: the keys (algorithm and kid) and which one signs.
 * Names no secret. */
void tq_jwt_describe(const tq_jwt_verifier *v, char *buf, size_t len);

/*
 * Checks token[0..len) (no NUL needed) at time now (seconds since the epoch). On
 * TQ_JWT_OK fills *out; otherwise *out is left zeroed. Thread-safe.
 */
tq_jwt_status tq_jwt_verify(const tq_jwt_verifier *v, const char *token, size_t len, int64_t now,
                            tq_jwt_claims *out);

/* Platform tokens: the admin API's, for the operator of the whole server. Signed with the
 * same keys as tenant tokens, they are told apart by their claims: "scope" (a string of
 * space-separated scopes, RFC 8693 4.2) holds "platform", and there is no "tenantId" at
 * all, so that no tenant's token can ever pass for one, and a platform token never
 * selects a tenant at /graphql (it has no tenant to select). */
#define TQ_JWT_PLATFORM_SCOPE "platform"
#define TQ_JWT_MAX_PLATFORM_SUB 64 /* bytes of printable ASCII; longer: TQ_JWT_BAD_SUB */

typedef struct tq_jwt_platform_claims {
    char sub[TQ_JWT_MAX_PLATFORM_SUB + 1]; /* who the operator is, for logs; "" when absent */
    int64_t exp;
} tq_jwt_platform_claims;

/* Checks a platform token as tq_jwt_verify checks a tenant's (header, signature, exp,
 * nbf, iat, iss, aud), then the scope (TQ_JWT_NOT_PLATFORM) and the absence of tenantId
 * (TQ_JWT_TENANT_TOKEN). On TQ_JWT_OK fills *out, else leaves it zeroed. Thread-safe. */
tq_jwt_status tq_jwt_verify_platform(const tq_jwt_verifier *v, const char *token, size_t len, int64_t now,
                                     tq_jwt_platform_claims *out);

/* A platform token: scope "platform", sub (printable ASCII, at most
 * TQ_JWT_MAX_PLATFORM_SUB bytes; NULL: none), iat = now, exp = now + ttl, a random jti.
 * Malloc'ed, or NULL with err filled (no signing key, a bad sub or ttl). */
char *tq_jwt_issue_platform(const tq_jwt_verifier *v, const char *sub, int64_t now, int64_t ttl, char *err,
                            size_t errlen);

/* The time checks of tq_jwt_verify alone (exp, nbf, iat with the leeway), for claims
 * that were verified before: a cache of verified tokens must still expire them. */
tq_jwt_status tq_jwt_check_time_claims(const tq_jwt_verifier *v, const tq_jwt_claims *c, int64_t now);

/* Whether tq_jwt_sign can work: an HS256 signing key, or an RS256/ES256 one with its
 * private key. */
bool tq_jwt_can_sign(const tq_jwt_verifier *v);

/*
 * Signs claims with the signing key: header {"alg":ALG,"typ":"JWT"} plus "kid" when the
 * key has one; claims iss (if an issuer is configured), aud (if an audience is),
 * sub (if has_sub), tenantId, jti (if has_jti), iat (if has_iat), nbf (if has_nbf), exp. Returns a
 * malloc'ed NUL-terminated token, or NULL when there is no signing key (logged, with
 * the reason), the claims are invalid (tenant_id or sub not a uuid) or memory runs out.
 */
char *tq_jwt_sign(const tq_jwt_verifier *v, const tq_jwt_claims *claims);

/*
 * A token for tenant_id (a uuid) and, unless sub is NULL, for that user (a uuid): iat =
 * now, exp = now + ttl, a fresh random jti (a version 4 uuid, what logout revokes), signed
 * by tq_jwt_sign (login, the command line's `token`, dev's banner).
 * Returns it malloc'ed, or NULL with err filled: no signing key, a malformed uuid, a ttl
 * that is not positive.
 */
char *tq_jwt_issue(const tq_jwt_verifier *v, const char *tenant_id, const char *sub, int64_t now, int64_t ttl,
                   char *err, size_t errlen);

#endif
