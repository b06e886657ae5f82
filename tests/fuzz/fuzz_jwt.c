/*
 * fuzz_jwt.c - libFuzzer entry point for bearer-token verification, the first thing
 * the server does with bytes from an unauthenticated client. Two verifiers see every
 * input: one HS256 key with an issuer and an audience, and a key set (kid "h" HS256,
 * kid "e" ES256) for the kid and per-key algorithm paths.
 *
 * An input is tried twice: as a token as it stands, and as "HEADER\nCLAIMS" (JSON
 * texts of the fuzzer's choosing) made into a token with a valid HS256 signature, so
 * that the header and claim checks behind the signature are reached too. Beyond not
 * crashing, a token accepted must yield a canonical tenant uuid and pass the time
 * checks it passed a moment ago.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/base64url.h"
#include "tenantql/jwt.h"
#include "tenantql/uuid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzzing-secret-fuzzing-secret-0123456789"
#define NOW 1900000000

static const tq_jwt_verifier *single, *keyset;

static char *ec_public_pem(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    if (k == NULL || b == NULL || PEM_write_bio_PUBKEY(b, k) != 1)
        abort();
    char *pem;
    long n = BIO_get_mem_data(b, &pem);
    char *out = strndup(pem, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
    return out;
}

static void make_verifiers(void)
{
    char err[256];
    tq_jwt_config cfg;
    tq_jwt_config_init(&cfg);
    tq_jwt_key hs = {.alg = TQ_JWT_HS256, .secret = (const unsigned char *)SECRET, .secret_len = strlen(SECRET)};
    cfg.keys = &hs;
    cfg.nkeys = 1;
    cfg.audience = "tenantql-api";
    single = tq_jwt_verifier_new(&cfg, err, sizeof(err));

    char *pem = ec_public_pem();
    tq_jwt_key set[2] = {
        {.alg = TQ_JWT_HS256, .kid = "h", .secret = (const unsigned char *)SECRET, .secret_len = strlen(SECRET)},
        {.alg = TQ_JWT_ES256, .kid = "e", .public_pem = pem, .public_pem_len = strlen(pem)},
    };
    tq_jwt_config_init(&cfg);
    cfg.keys = set;
    cfg.nkeys = 2;
    cfg.signing_kid = "h";
    keyset = tq_jwt_verifier_new(&cfg, err, sizeof(err));
    free(pem); /* the verifier parsed and keeps its own copy */
    if (single == NULL || keyset == NULL)
        abort();
}

/* A platform token is never also a tenant's, and its sub is printable and bounded. */
static void check_platform(const tq_jwt_verifier *v, const char *token, size_t len)
{
    tq_jwt_platform_claims pc;
    tq_jwt_claims c;
    if (tq_jwt_verify_platform(v, token, len, NOW, &pc) != TQ_JWT_OK)
        return;
    if (tq_jwt_verify(v, token, len, NOW, &c) == TQ_JWT_OK || strlen(pc.sub) > TQ_JWT_MAX_PLATFORM_SUB)
        abort();
    for (const char *p = pc.sub; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            abort();
}

static void check(const tq_jwt_verifier *v, const char *token, size_t len)
{
    tq_jwt_claims c;
    check_platform(v, token, len);
    if (tq_jwt_verify(v, token, len, NOW, &c) != TQ_JWT_OK)
        return;
    char canon[TQ_UUID_TEXT_SIZE];
    if (!tq_uuid_canonicalize(c.tenant_id, strlen(c.tenant_id), canon) || strcmp(canon, c.tenant_id) != 0)
        abort();
    if (tq_jwt_check_time_claims(v, &c, NOW) != TQ_JWT_OK)
        abort();
}

/* "HEADER\nCLAIMS" signed with the HS256 key; NULL when there is no newline. */
static char *signed_token(const uint8_t *data, size_t size, size_t *len)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl == NULL)
        return NULL;
    size_t hl = (size_t)(nl - data), pl = size - hl - 1;
    char *t = malloc(tq_base64url_encoded_len(hl) + tq_base64url_encoded_len(pl) + tq_base64url_encoded_len(32) + 3);
    size_t n = tq_base64url_encode(data, hl, t);
    t[n++] = '.';
    n += tq_base64url_encode(nl + 1, pl, t + n);
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)t, n, mac, &maclen);
    t[n++] = '.';
    n += tq_base64url_encode(mac, maclen, t + n);
    *len = n;
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (single == NULL)
        make_verifiers();
    char *copy = malloc(size ? size : 1); /* reads past size are caught by ASan */
    memcpy(copy, data, size);
    check(single, copy, size);
    check(keyset, copy, size);
    free(copy);

    size_t len;
    char *token = signed_token(data, size, &len);
    if (token != NULL) {
        check(single, token, len);
        check(keyset, token, len);
        free(token);
    }
    return 0;
}
