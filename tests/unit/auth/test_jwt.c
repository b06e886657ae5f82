/*
 * test_jwt.c - the JWT wrapper against hand-forged tokens: every known libjwt 1.10 trap
 * (alg none, foreign algorithms, algorithm confusion, no time checks, lax claim types),
 * malformed input, the claim rules of the API contract, signing and concurrent use; then
 * RS256 and ES256 with keys made at test time (wrong key, wrong signature encodings,
 * algorithm confusion with the public key as HMAC secret), rotation by kid, aud, the
 * leeway's edges, and key configurations that must be refused.
 */
#include "tenantql/base64url.h"
#include "tenantql/jwt.h"
#include "tenantql/token_cache.h"
#include "tq_test.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>

#define SECRET "0123456789abcdef0123456789abcdef-unit-test"
#define OTHER_SECRET "fedcba9876543210fedcba9876543210-other-key"
#define NOW 1700000000
#define TENANT "3f2c1a4e-9b7d-4c2e-8f1a-2b3c4d5e6f70"
#define USER "a1b2c3d4-0000-4000-8000-00000000beef"

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
/* Payload fragments; NOW = 1700000000 and the default leeway is 30 s. */
#define ISS "\"iss\":\"tenantql\""
#define TEN "\"tenantId\":\"" TENANT "\""
#define EXP_OK "\"exp\":1700003600"

typedef const EVP_MD *(*md_fn)(void);

static char *rsa_public_pem;

/* "b64(header).b64(payload).sig"; sig is HMAC(md, key) over the first two parts, or fixed_sig if given. */
static char *forge(const char *header, const char *payload, md_fn md, const char *key, const char *fixed_sig)
{
    size_t hl = strlen(header), pl = strlen(payload);
    char *t = malloc(tq_base64url_encoded_len(hl) + tq_base64url_encoded_len(pl) + 200 +
                     (fixed_sig ? strlen(fixed_sig) : 0));
    size_t n = tq_base64url_encode(header, hl, t);
    t[n++] = '.';
    n += tq_base64url_encode(payload, pl, t + n);
    if (fixed_sig != NULL) {
        n += (size_t)sprintf(t + n, ".%s", fixed_sig);
        return t;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    HMAC(md(), key, (int)strlen(key), (const unsigned char *)t, n, mac, &ml);
    t[n++] = '.';
    n += tq_base64url_encode(mac, ml, t + n);
    t[n] = '\0';
    return t;
}

static char *hs256(const char *payload)
{
    return forge(HS256, payload, EVP_sha256, SECRET, NULL);
}

static tq_jwt_verifier *make_verifier(const char *secret, const char *issuer, int64_t leeway, size_t max_len)
{
    tq_jwt_config cfg;
    tq_jwt_config_init(&cfg);
    tq_jwt_key key = {TQ_JWT_HS256, NULL, (const unsigned char *)secret, strlen(secret)};
    cfg.keys = &key;
    cfg.nkeys = 1;
    cfg.issuer = issuer;
    if (leeway >= 0)
        cfg.leeway = leeway;
    if (max_len > 0)
        cfg.max_token_len = max_len;
    char err[128];
    tq_jwt_verifier *v = tq_jwt_verifier_new(&cfg, err, sizeof(err));
    if (v == NULL)
        fprintf(stderr, "verifier: %s\n", err);
    return v;
}

static tq_jwt_status verify_str(const tq_jwt_verifier *v, const char *token, tq_jwt_claims *c)
{
    return tq_jwt_verify(v, token, strlen(token), NOW, c);
}

/* Checks the status and that a refusal leaves no claims behind. */
#define EXPECT(v, token, want)                                                                               \
    do {                                                                                                     \
        tq_jwt_claims c_;                                                                                    \
        memset(&c_, 0xa5, sizeof(c_));                                                                       \
        tq_jwt_status got_ = verify_str((v), (token), &c_);                                                  \
        if (got_ != (want))                                                                                  \
            fprintf(stderr, "  token %s: got \"%s\"\n", #token, tq_jwt_status_text(got_));                   \
        CHECK(got_ == (want));                                                                               \
        if ((want) != TQ_JWT_OK)                                                                             \
            CHECK(c_.tenant_id[0] == '\0' && c_.exp == 0 && !c_.has_sub);                                    \
    } while (0)

/* A forged token and the status the default verifier must give it. */
typedef struct forged_case {
    const char *name;
    const char *header, *payload;
    md_fn md;              /* NULL: use fixed_sig */
    const char *key;       /* NULL: SECRET; "PEM": the RSA public key */
    const char *fixed_sig;
    tq_jwt_status want;
} forged_case;

static const forged_case forged_cases[] = {
    {"valid", HS256, "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_OK},
    {"typ absent", "{\"alg\":\"HS256\"}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_OK},
    {"alg none, empty sig", "{\"alg\":\"none\"}", "{" ISS "," TEN "," EXP_OK "}", NULL, NULL, "", TQ_JWT_ALG_NOT_ALLOWED},
    {"alg none, with sig", "{\"alg\":\"none\",\"typ\":\"JWT\"}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL,
     NULL, TQ_JWT_ALG_NOT_ALLOWED},
    {"alg None", "{\"alg\":\"None\"}", "{" ISS "," TEN "," EXP_OK "}", NULL, NULL, "", TQ_JWT_ALG_NOT_ALLOWED},
    {"HS512 same secret", "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha512, NULL,
     NULL, TQ_JWT_ALG_NOT_ALLOWED},
    {"HS384 same secret", "{\"alg\":\"HS384\",\"typ\":\"JWT\"}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha384, NULL,
     NULL, TQ_JWT_ALG_NOT_ALLOWED},
    {"RS256 header", "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", "{" ISS "," TEN "," EXP_OK "}", NULL, NULL,
     "c2lnbmF0dXJlLW9mLXNvbWUta2luZC10aGF0LWlzLW5vdC1yZWFsLXJzYQ", TQ_JWT_ALG_NOT_ALLOWED},
    {"RS256 header, HMAC with the PEM", "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", "{" ISS "," TEN "," EXP_OK "}",
     EVP_sha256, "PEM", NULL, TQ_JWT_ALG_NOT_ALLOWED},
    {"alg confusion: HS256 keyed with RSA PEM", HS256, "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, "PEM", NULL,
     TQ_JWT_BAD_SIGNATURE},
    {"alg missing", "{\"typ\":\"JWT\"}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_ALG_NOT_ALLOWED},
    {"alg not a string", "{\"alg\":1}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_ALG_NOT_ALLOWED},
    {"alg lowercase", "{\"alg\":\"hs256\"}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL,
     TQ_JWT_ALG_NOT_ALLOWED},
    {"wrong key", HS256, "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, OTHER_SECRET, NULL, TQ_JWT_BAD_SIGNATURE},
    {"garbage sig of the right length", HS256, "{" ISS "," TEN "," EXP_OK "}", NULL, NULL,
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", TQ_JWT_BAD_SIGNATURE},
    {"sig with stray bits", HS256, "{" ISS "," TEN "," EXP_OK "}", NULL, NULL,
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", TQ_JWT_MALFORMED},
    {"empty sig", HS256, "{" ISS "," TEN "," EXP_OK "}", NULL, NULL, "", TQ_JWT_BAD_SIGNATURE},
    {"expired", HS256, "{" ISS "," TEN ",\"exp\":1699999969}", EVP_sha256, NULL, NULL, TQ_JWT_EXPIRED},
    {"expired at exactly now - leeway", HS256, "{" ISS "," TEN ",\"exp\":1699999970}", EVP_sha256, NULL, NULL,
     TQ_JWT_EXPIRED},
    {"exp within leeway", HS256, "{" ISS "," TEN ",\"exp\":1699999971}", EVP_sha256, NULL, NULL, TQ_JWT_OK},
    {"exp huge", HS256, "{" ISS "," TEN ",\"exp\":9223372036854775807}", EVP_sha256, NULL, NULL, TQ_JWT_OK},
    {"exp negative", HS256, "{" ISS "," TEN ",\"exp\":-9223372036854775808}", EVP_sha256, NULL, NULL, TQ_JWT_EXPIRED},
    {"nbf in the future", HS256, "{" ISS "," TEN "," EXP_OK ",\"nbf\":1700000031}", EVP_sha256, NULL, NULL,
     TQ_JWT_NOT_YET_VALID},
    {"nbf within leeway", HS256, "{" ISS "," TEN "," EXP_OK ",\"nbf\":1700000030}", EVP_sha256, NULL, NULL, TQ_JWT_OK},
    {"iat in the future", HS256, "{" ISS "," TEN "," EXP_OK ",\"iat\":1700000031}", EVP_sha256, NULL, NULL,
     TQ_JWT_ISSUED_IN_FUTURE},
    {"iat within leeway", HS256, "{" ISS "," TEN "," EXP_OK ",\"iat\":1700000030}", EVP_sha256, NULL, NULL, TQ_JWT_OK},
    {"missing exp", HS256, "{" ISS "," TEN ",\"iat\":1700000000}", EVP_sha256, NULL, NULL, TQ_JWT_MISSING_EXP},
    {"float exp", HS256, "{" ISS "," TEN ",\"exp\":1700003600.0}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_TIME_CLAIM},
    {"exponent exp", HS256, "{" ISS "," TEN ",\"exp\":1.7e9}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_TIME_CLAIM},
    {"string exp", HS256, "{" ISS "," TEN ",\"exp\":\"1700003600\"}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_TIME_CLAIM},
    {"null exp", HS256, "{" ISS "," TEN ",\"exp\":null}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_TIME_CLAIM},
    {"float nbf", HS256, "{" ISS "," TEN "," EXP_OK ",\"nbf\":1.5}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_TIME_CLAIM},
    {"string iat", HS256, "{" ISS "," TEN "," EXP_OK ",\"iat\":\"now\"}", EVP_sha256, NULL, NULL,
     TQ_JWT_BAD_TIME_CLAIM},
    {"exp too big for int64", HS256, "{" ISS "," TEN ",\"exp\":99999999999999999999}", EVP_sha256, NULL, NULL,
     TQ_JWT_MALFORMED},
    {"missing tenantId", HS256, "{" ISS "," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_TENANT},
    {"non-uuid tenantId", HS256, "{" ISS ",\"tenantId\":\"acme\"," EXP_OK "}", EVP_sha256, NULL, NULL,
     TQ_JWT_BAD_TENANT},
    {"numeric tenantId", HS256, "{" ISS ",\"tenantId\":42," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_TENANT},
    {"null tenantId", HS256, "{" ISS ",\"tenantId\":null," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_TENANT},
    {"braced tenantId", HS256, "{" ISS ",\"tenantId\":\"{" TENANT "}\"," EXP_OK "}", EVP_sha256, NULL, NULL,
     TQ_JWT_BAD_TENANT},
    {"tenant_id spelling", HS256, "{" ISS ",\"tenant_id\":\"" TENANT "\"," EXP_OK "}", EVP_sha256, NULL, NULL,
     TQ_JWT_BAD_TENANT},
    {"wrong iss", HS256, "{\"iss\":\"someone-else\"," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_WRONG_ISSUER},
    {"iss case differs", HS256, "{\"iss\":\"TenantQL\"," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL,
     TQ_JWT_WRONG_ISSUER},
    {"missing iss", HS256, "{" TEN "," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_WRONG_ISSUER},
    {"numeric iss", HS256, "{\"iss\":1," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_WRONG_ISSUER},
    {"non-uuid sub", HS256, "{" ISS "," TEN "," EXP_OK ",\"sub\":\"alice\"}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_SUB},
    {"numeric sub", HS256, "{" ISS "," TEN "," EXP_OK ",\"sub\":7}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_SUB},
    {"non-uuid jti", HS256, "{" ISS "," TEN "," EXP_OK ",\"jti\":\"s-1\"}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_JTI},
    {"numeric jti", HS256, "{" ISS "," TEN "," EXP_OK ",\"jti\":7}", EVP_sha256, NULL, NULL, TQ_JWT_BAD_JTI},
    {"duplicate alg in header", "{\"alg\":\"none\",\"alg\":\"HS256\"}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256,
     NULL, NULL, TQ_JWT_MALFORMED},
    {"duplicate alg in header, HS256 first", "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{" ISS "," TEN "," EXP_OK "}",
     EVP_sha256, NULL, NULL, TQ_JWT_MALFORMED},
    {"typ JWS", "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL,
     TQ_JWT_BAD_HEADER},
    {"typ lowercase", "{\"alg\":\"HS256\",\"typ\":\"jwt\"}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL,
     TQ_JWT_BAD_HEADER},
    {"typ not a string", "{\"alg\":\"HS256\",\"typ\":null}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL,
     TQ_JWT_BAD_HEADER},
    {"crit header", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL,
     TQ_JWT_BAD_HEADER},
    {"header not JSON", "alg=HS256", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_MALFORMED},
    {"header an array", "[\"HS256\"]", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL, TQ_JWT_MALFORMED},
    {"header with trailing garbage", HS256 " x", "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, NULL, NULL,
     TQ_JWT_MALFORMED},
    {"payload an array", HS256, "[1,2]", EVP_sha256, NULL, NULL, TQ_JWT_MALFORMED},
    {"payload a string", HS256, "\"" TENANT "\"", EVP_sha256, NULL, NULL, TQ_JWT_MALFORMED},
    {"payload not JSON", HS256, "exp=1700003600", EVP_sha256, NULL, NULL, TQ_JWT_MALFORMED},
    {"payload not JSON, unsigned", HS256, "exp=1700003600", NULL, NULL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
     TQ_JWT_MALFORMED},
    {"payload empty object", HS256, "{}", EVP_sha256, NULL, NULL, TQ_JWT_MISSING_EXP},
};

static void test_forged_table(const tq_jwt_verifier *v)
{
    for (size_t i = 0; i < sizeof(forged_cases) / sizeof(forged_cases[0]); i++) {
        const forged_case *fc = &forged_cases[i];
        const char *key = fc->key == NULL ? SECRET : strcmp(fc->key, "PEM") == 0 ? rsa_public_pem : fc->key;
        char *t = forge(fc->header, fc->payload, fc->md, key, fc->md ? NULL : fc->fixed_sig);
        tq_jwt_claims c;
        tq_jwt_status st = verify_str(v, t, &c);
        if (st != fc->want)
            fprintf(stderr, "case \"%s\": got \"%s\", want \"%s\"\n", fc->name, tq_jwt_status_text(st),
                    tq_jwt_status_text(fc->want));
        CHECK(st == fc->want);
        free(t);
    }
}

static void test_valid_claims(const tq_jwt_verifier *v)
{
    char *t = hs256("{" ISS ",\"sub\":\"A1B2C3D4-0000-4000-8000-00000000BEEF\",\"tenantId\":\"3F2C1A4E-9B7D-4C2E-8F1A-"
                    "2B3C4D5E6F70\",\"iat\":1699999990,\"nbf\":1699999990,\"exp\":1700003600,\"aud\":\"x\"}");
    tq_jwt_claims c;
    CHECK(verify_str(v, t, &c) == TQ_JWT_OK);
    CHECK_STR(c.tenant_id, TENANT);
    CHECK(c.has_sub);
    CHECK_STR(c.sub, USER);
    CHECK(c.exp == 1700003600 && c.has_iat && c.iat == 1699999990 && c.has_nbf && c.nbf == 1699999990);
    free(t);

    t = hs256("{" ISS "," TEN "," EXP_OK "}");
    CHECK(verify_str(v, t, &c) == TQ_JWT_OK);
    CHECK(!c.has_sub && !c.has_iat && !c.has_nbf && c.sub[0] == '\0');
    /* the length argument is honoured: the token need not be NUL-terminated */
    size_t len = strlen(t);
    char *padded = malloc(len + 5);
    memcpy(padded, t, len);
    memcpy(padded + len, ".XXXX", 5);
    CHECK(tq_jwt_verify(v, padded, len, NOW, &c) == TQ_JWT_OK);
    CHECK(tq_jwt_verify(v, padded, len + 1, NOW, &c) == TQ_JWT_MALFORMED);
    free(padded);
    free(t);
}

static void test_shapes(const tq_jwt_verifier *v)
{
    char *good = hs256("{" ISS "," TEN "," EXP_OK "}");
    size_t len = strlen(good);
    const char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
    char buf[8192];

    EXPECT(v, good, TQ_JWT_OK);
    EXPECT(v, "", TQ_JWT_MALFORMED);
    EXPECT(v, ".", TQ_JWT_MALFORMED);
    EXPECT(v, "..", TQ_JWT_MALFORMED);
    EXPECT(v, "...", TQ_JWT_MALFORMED);
    EXPECT(v, "not a token", TQ_JWT_MALFORMED);

    snprintf(buf, sizeof(buf), "%.*s", (int)(len - 3), good); /* truncated signature, still valid base64 */
    EXPECT(v, buf, TQ_JWT_BAD_SIGNATURE);
    snprintf(buf, sizeof(buf), "%.*s", (int)(dot2 - good - 4), good); /* truncated inside the payload */
    EXPECT(v, buf, TQ_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s", (int)(dot2 - good), good); /* two segments */
    EXPECT(v, buf, TQ_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%s.%s", good, dot2 + 1); /* four segments */
    EXPECT(v, buf, TQ_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%s.", good);
    EXPECT(v, buf, TQ_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%s", dot1); /* empty header */
    EXPECT(v, buf, TQ_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s.%s", (int)(dot1 - good), good, dot2); /* empty payload */
    EXPECT(v, buf, TQ_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), " %s", good);
    EXPECT(v, buf, TQ_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%s\n", good);
    EXPECT(v, buf, TQ_JWT_MALFORMED);

    /* characters outside the url-safe alphabet, in each segment */
    const size_t positions[] = {2, (size_t)(dot1 - good) + 3, (size_t)(dot2 - good) + 3};
    const char bad_chars[] = {'+', '/', '=', '*', '\0'};
    for (size_t p = 0; p < 3; p++) {
        for (size_t b = 0; b < sizeof(bad_chars); b++) {
            memcpy(buf, good, len + 1);
            buf[positions[p]] = bad_chars[b];
            tq_jwt_claims c;
            CHECK(tq_jwt_verify(v, buf, len, NOW, &c) == TQ_JWT_MALFORMED);
        }
    }
    /* base64 padding on the signature */
    snprintf(buf, sizeof(buf), "%s=", good);
    EXPECT(v, buf, TQ_JWT_MALFORMED);

    /* tampered payload: another tenant under the original signature */
    char *other = hs256("{" ISS ",\"tenantId\":\"00000000-0000-0000-0000-000000000001\"," EXP_OK "}");
    const char *odot1 = strchr(other, '.'), *odot2 = strrchr(other, '.');
    snprintf(buf, sizeof(buf), "%.*s%.*s%s", (int)(dot1 - good), good, (int)(odot2 - odot1), odot1, dot2);
    EXPECT(v, buf, TQ_JWT_BAD_SIGNATURE);
    free(other);
    free(good);
}

static void test_lengths(const tq_jwt_verifier *v)
{
    /* a huge header pushes the token over the 4096-byte default */
    char big[6000];
    snprintf(big, sizeof(big), "{\"alg\":\"HS256\",\"x\":\"%04000d\"}", 0);
    char *t = forge(big, "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, SECRET, NULL);
    EXPECT(v, t, TQ_JWT_TOO_LONG);

    /* with a larger limit the oversized header is still refused, unread */
    tq_jwt_verifier *roomy = make_verifier(SECRET, "tenantql", -1, 65536);
    EXPECT(roomy, t, TQ_JWT_MALFORMED);
    free(t);

    /* a long but legitimate payload takes the heap copy path */
    snprintf(big, sizeof(big), "{" ISS "," TEN "," EXP_OK ",\"pad\":\"%05000d\"}", 0);
    t = hs256(big);
    CHECK(strlen(t) > 4096);
    EXPECT(v, t, TQ_JWT_TOO_LONG);
    EXPECT(roomy, t, TQ_JWT_OK);
    free(t);
    tq_jwt_verifier_free(roomy);

    /* exactly at the limit is fine, one byte over is not */
    t = hs256("{" ISS "," TEN "," EXP_OK "}");
    tq_jwt_verifier *tight = make_verifier(SECRET, "tenantql", -1, strlen(t));
    EXPECT(tight, t, TQ_JWT_OK);
    tq_jwt_verifier_free(tight);
    tight = make_verifier(SECRET, "tenantql", -1, strlen(t) - 1);
    EXPECT(tight, t, TQ_JWT_TOO_LONG);
    tq_jwt_verifier_free(tight);
    free(t);
}

static void test_configured_variants(void)
{
    /* leeway 0: exp must be strictly in the future */
    tq_jwt_verifier *strict = make_verifier(SECRET, "tenantql", 0, 0);
    char *at_now = hs256("{" ISS "," TEN ",\"exp\":1700000000}");
    char *next = hs256("{" ISS "," TEN ",\"exp\":1700000001,\"nbf\":1700000000,\"iat\":1700000000}");
    char *nbf1 = hs256("{" ISS "," TEN "," EXP_OK ",\"nbf\":1700000001}");
    EXPECT(strict, at_now, TQ_JWT_EXPIRED);
    EXPECT(strict, next, TQ_JWT_OK);
    EXPECT(strict, nbf1, TQ_JWT_NOT_YET_VALID);
    tq_jwt_verifier_free(strict);
    free(at_now);
    free(next);
    free(nbf1);

    /* no issuer configured: iss is neither required nor compared */
    tq_jwt_verifier *any_iss = make_verifier(SECRET, "", -1, 0);
    char *no_iss = hs256("{" TEN "," EXP_OK "}"), *other_iss = hs256("{\"iss\":\"x\"," TEN "," EXP_OK "}");
    EXPECT(any_iss, no_iss, TQ_JWT_OK);
    EXPECT(any_iss, other_iss, TQ_JWT_OK);
    tq_jwt_verifier_free(any_iss);
    free(no_iss);
    free(other_iss);

    /* a custom issuer */
    tq_jwt_verifier *custom = make_verifier(SECRET, "https://auth.example", -1, 0);
    char *def = hs256("{" ISS "," TEN "," EXP_OK "}");
    char *mine = hs256("{\"iss\":\"https://auth.example\"," TEN "," EXP_OK "}");
    EXPECT(custom, def, TQ_JWT_WRONG_ISSUER);
    EXPECT(custom, mine, TQ_JWT_OK);
    tq_jwt_verifier_free(custom);
    free(def);
    free(mine);
}

static void test_config_rejects(void)
{
    tq_jwt_config cfg;
    char err[128] = "";
    tq_jwt_key key = {TQ_JWT_HS256, NULL, (const unsigned char *)"0123456789abcdef0123456789abcde", 31};

    tq_jwt_config_init(&cfg);
    CHECK(cfg.leeway == TQ_JWT_DEFAULT_LEEWAY && cfg.max_token_len == 4096);
    CHECK_STR(cfg.issuer, "tenantql");
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL); /* no key at all */

    cfg.keys = &key;
    cfg.nkeys = 1;
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL); /* 31-byte secret */
    CHECK(strstr(err, "32 bytes") != NULL);
    key.secret_len = 0;
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
    key.secret = NULL;
    key.secret_len = 40;
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);

    key.secret = (const unsigned char *)SECRET;
    key.secret_len = 32;
    tq_jwt_verifier *v = tq_jwt_verifier_new(&cfg, err, sizeof(err));
    CHECK(v != NULL);
    tq_jwt_verifier_free(v);
    tq_jwt_verifier_free(NULL);

    key.kid = "2024-01"; /* one key may have a kid */
    v = tq_jwt_verifier_new(&cfg, err, sizeof(err));
    CHECK(v != NULL);
    tq_jwt_verifier_free(v);
    key.kid = "";
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
    key.kid = "tab\there";
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
    key.kid = NULL;
    cfg.leeway = -1;
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
    cfg.leeway = 30;
    cfg.max_token_len = 0;
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
    cfg.max_token_len = TQ_JWT_MAX_TOKEN_LEN_LIMIT + 1;
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
    cfg.max_token_len = 4096;
    tq_jwt_key two[2] = {key, key};
    cfg.keys = two;
    cfg.nkeys = 2;
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL); /* several keys, no kids */
    CHECK(strstr(err, "kid") != NULL);
    two[0].kid = "a";
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL); /* one without */
    two[1].kid = "a";
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL); /* duplicate */
    CHECK(strstr(err, "same kid") != NULL);
    two[1].kid = "b";
    v = tq_jwt_verifier_new(&cfg, err, sizeof(err));
    CHECK(v != NULL && !tq_jwt_can_sign(v)); /* several keys and no signing kid: verifies only */
    tq_jwt_verifier_free(v);
    cfg.signing_kid = "c";
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "\"c\"") != NULL);
    cfg.signing_kid = "b";
    v = tq_jwt_verifier_new(&cfg, err, sizeof(err));
    CHECK(v != NULL && tq_jwt_can_sign(v));
    tq_jwt_verifier_free(v);
    cfg.nkeys = 0;
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
}

static void test_sign(const tq_jwt_verifier *v)
{
    tq_jwt_claims in = {0}, out;
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", "3F2C1A4E-9B7D-4C2E-8F1A-2B3C4D5E6F70");
    snprintf(in.sub, sizeof(in.sub), "%s", USER);
    in.has_sub = in.has_iat = true;
    in.iat = NOW;
    in.exp = NOW + 3600;
    char *t = tq_jwt_sign(v, &in);
    CHECK(t != NULL);
    CHECK(strncmp(t, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0); /* {"alg":"HS256","typ":"JWT"} */
    CHECK(verify_str(v, t, &out) == TQ_JWT_OK);
    CHECK_STR(out.tenant_id, TENANT);
    CHECK_STR(out.sub, USER);
    CHECK(out.has_sub && out.has_iat && out.iat == NOW && out.exp == NOW + 3600 && !out.has_nbf && !out.has_jti);
    free(t);

    /* a jti is written and read back canonical; one that is not a uuid is refused */
    in.has_jti = true;
    snprintf(in.jti, sizeof(in.jti), "%s", "8D3E2F10-4A5B-4C6D-8E7F-901A2B3C4D5E");
    t = tq_jwt_sign(v, &in);
    CHECK(verify_str(v, t, &out) == TQ_JWT_OK && out.has_jti);
    CHECK_STR(out.jti, "8d3e2f10-4a5b-4c6d-8e7f-901a2b3c4d5e");
    free(t);
    snprintf(in.jti, sizeof(in.jti), "%s", "session-1");
    CHECK(tq_jwt_sign(v, &in) == NULL);
    in.has_jti = false;

    /* tokens expire: the same claims an hour and a minute later */
    t = tq_jwt_sign(v, &in);
    CHECK(tq_jwt_verify(v, t, strlen(t), NOW + 3600 + 60, &out) == TQ_JWT_EXPIRED);
    free(t);

    /* another verifier's key does not verify */
    tq_jwt_verifier *other = make_verifier(OTHER_SECRET, "tenantql", -1, 0);
    t = tq_jwt_sign(other, &in);
    EXPECT(v, t, TQ_JWT_BAD_SIGNATURE);
    free(t);
    tq_jwt_verifier_free(other);

    /* without sub or iat, with nbf */
    in.has_sub = in.has_iat = false;
    in.has_nbf = true;
    in.nbf = NOW - 5;
    t = tq_jwt_sign(v, &in);
    CHECK(verify_str(v, t, &out) == TQ_JWT_OK && !out.has_sub && !out.has_iat && out.has_nbf && out.nbf == NOW - 5);
    free(t);

    /* invalid claims are not signed */
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", "acme");
    CHECK(tq_jwt_sign(v, &in) == NULL);
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", TENANT);
    in.has_sub = true;
    snprintf(in.sub, sizeof(in.sub), "%s", "alice");
    CHECK(tq_jwt_sign(v, &in) == NULL);
    memset(in.tenant_id, 'a', sizeof(in.tenant_id)); /* no NUL inside the array */
    in.has_sub = false;
    CHECK(tq_jwt_sign(v, &in) == NULL);
}

/* tq_jwt_issue: the claims of the command line's tokens, and what it refuses. */
static void test_issue(const tq_jwt_verifier *v)
{
    char err[256];
    tq_jwt_claims out;
    char *t = tq_jwt_issue(v, "3F2C1A4E-9B7D-4C2E-8F1A-2B3C4D5E6F70", USER, NOW, 600, err, sizeof(err));
    CHECK(t != NULL && verify_str(v, t, &out) == TQ_JWT_OK);
    CHECK_STR(out.tenant_id, TENANT);
    CHECK_STR(out.sub, USER);
    CHECK(out.has_sub && out.has_iat && out.iat == NOW && out.exp == NOW + 600);
    /* a fresh version 4 uuid as jti, another for every token */
    CHECK(out.has_jti && strlen(out.jti) == 36 && out.jti[14] == '4' && strchr("89ab", out.jti[19]) != NULL);
    char first_jti[TQ_UUID_TEXT_SIZE];
    memcpy(first_jti, out.jti, sizeof(first_jti));
    free(t);
    t = tq_jwt_issue(v, TENANT, NULL, NOW, 600, err, sizeof(err));
    CHECK(t != NULL && verify_str(v, t, &out) == TQ_JWT_OK && !out.has_sub);
    CHECK(out.has_jti && strcmp(out.jti, first_jti) != 0);
    free(t);
    CHECK(tq_jwt_issue(v, "acme", NULL, NOW, 600, err, sizeof(err)) == NULL);
    CHECK(tq_jwt_issue(v, TENANT, "alice", NOW, 600, err, sizeof(err)) == NULL);
    CHECK_STR(err, "--sub must be a user id (uuid)");
    CHECK(tq_jwt_issue(v, TENANT, NULL, NOW, 0, err, sizeof(err)) == NULL);
    CHECK(tq_jwt_issue(v, TENANT, NULL, NOW, INT64_MAX, err, sizeof(err)) == NULL);
}

static tq_jwt_status verify_platform(const tq_jwt_verifier *v, const char *payload, tq_jwt_platform_claims *out)
{
    char *t = hs256(payload);
    tq_jwt_status st = tq_jwt_verify_platform(v, t, strlen(t), NOW, out);
    free(t);
    return st;
}

/* Platform tokens: the scope makes one, a tenantId unmakes it, and a tenant token never
 * passes as one nor a platform token as a tenant's. */
static void test_platform(const tq_jwt_verifier *v)
{
    tq_jwt_platform_claims pc;
    tq_jwt_claims tc;
    CHECK(verify_platform(v, "{" ISS ",\"scope\":\"platform\",\"sub\":\"ops\"," EXP_OK "}", &pc) == TQ_JWT_OK);
    CHECK_STR(pc.sub, "ops");
    CHECK(pc.exp == 1700003600);
    CHECK(verify_platform(v, "{" ISS ",\"scope\":\"read platform  write\"," EXP_OK "}", &pc) == TQ_JWT_OK);
    CHECK_STR(pc.sub, "");
    CHECK(verify_platform(v, "{" ISS ",\"scope\":\"platforms\"," EXP_OK "}", &pc) == TQ_JWT_NOT_PLATFORM);
    CHECK(verify_platform(v, "{" ISS ",\"scope\":[\"platform\"]," EXP_OK "}", &pc) == TQ_JWT_NOT_PLATFORM);
    CHECK(verify_platform(v, "{" ISS "," EXP_OK "}", &pc) == TQ_JWT_NOT_PLATFORM);
    CHECK(verify_platform(v, "{" ISS "," TEN ",\"scope\":\"platform\"," EXP_OK "}", &pc) == TQ_JWT_TENANT_TOKEN);
    CHECK(verify_platform(v, "{" ISS ",\"tenantId\":null,\"scope\":\"platform\"," EXP_OK "}", &pc) ==
          TQ_JWT_TENANT_TOKEN);
    CHECK(verify_platform(v, "{" ISS ",\"scope\":\"platform\",\"sub\":\"a\\nb\"," EXP_OK "}", &pc) == TQ_JWT_BAD_SUB);
    CHECK(verify_platform(v, "{" ISS ",\"scope\":\"platform\",\"exp\":1600000000}", &pc) == TQ_JWT_EXPIRED);
    CHECK(verify_platform(v, "{\"iss\":\"other\",\"scope\":\"platform\"," EXP_OK "}", &pc) == TQ_JWT_WRONG_ISSUER);
    CHECK(pc.sub[0] == '\0' && pc.exp == 0); /* nothing left behind by a refusal */
    char *forged = forge(HS256, "{" ISS ",\"scope\":\"platform\"," EXP_OK "}", EVP_sha256, OTHER_SECRET, NULL);
    CHECK(tq_jwt_verify_platform(v, forged, strlen(forged), NOW, &pc) == TQ_JWT_BAD_SIGNATURE);
    free(forged);

    char err[256];
    char *t = tq_jwt_issue_platform(v, "deploy-bot", NOW, 600, err, sizeof(err));
    CHECK(t != NULL && tq_jwt_verify_platform(v, t, strlen(t), NOW, &pc) == TQ_JWT_OK);
    CHECK_STR(pc.sub, "deploy-bot");
    CHECK(tq_jwt_verify(v, t, strlen(t), NOW, &tc) == TQ_JWT_BAD_TENANT); /* useless at /graphql */
    free(t);
    t = tq_jwt_issue(v, TENANT, NULL, NOW, 600, err, sizeof(err));
    CHECK(tq_jwt_verify_platform(v, t, strlen(t), NOW, &pc) == TQ_JWT_TENANT_TOKEN);
    free(t);
    CHECK(tq_jwt_issue_platform(v, "", NOW, 600, err, sizeof(err)) == NULL);
    CHECK(tq_jwt_issue_platform(v, "tab\there", NOW, 600, err, sizeof(err)) == NULL);
    CHECK(tq_jwt_issue_platform(v, NULL, NOW, 0, err, sizeof(err)) == NULL);
}

/* The per-worker cache answers like the verifier: same claims, still expires, never
 * matches a token that differs in any byte. */
static void test_token_cache(const tq_jwt_verifier *v)
{
    tq_token_cache *c = tq_token_cache_new(v, 4);
    tq_jwt_claims in = {0}, out;
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", TENANT);
    in.exp = NOW + 3600;
    char *t = tq_jwt_sign(v, &in);
    size_t n = strlen(t);
    for (int i = 0; i < 3; i++) { /* a miss, then hits */
        CHECK(tq_token_cache_verify(c, t, n, NOW, &out) == TQ_JWT_OK);
        CHECK_STR(out.tenant_id, TENANT);
        CHECK(out.exp == NOW + 3600);
    }
    CHECK(tq_token_cache_verify(c, t, n, NOW + 3600 + 60, &out) == TQ_JWT_EXPIRED);
    CHECK(out.tenant_id[0] == '\0');
    t[n - 1] = t[n - 1] == 'A' ? 'B' : 'A'; /* same length, another signature */
    CHECK(tq_token_cache_verify(c, t, n, NOW, &out) == TQ_JWT_BAD_SIGNATURE);
    CHECK(tq_token_cache_verify(c, t, n - 1, NOW, &out) != TQ_JWT_OK);
    for (int i = 0; i < 64; i++) { /* many tokens through few slots: each still verifies */
        in.exp = NOW + 100 + i;
        char *u = tq_jwt_sign(v, &in);
        CHECK(tq_token_cache_verify(c, u, strlen(u), NOW, &out) == TQ_JWT_OK && out.exp == NOW + 100 + i);
        free(u);
    }
    free(t);
    tq_token_cache_free(c);
}

/* Tokens from libjwt's own encoder verify too (interop with whatever signed them before). */
static void test_libjwt_encoded(const tq_jwt_verifier *v)
{
    jwt_t *j = NULL;
    CHECK(jwt_new(&j) == 0);
    CHECK(jwt_add_grant(j, "tenantId", TENANT) == 0);
    CHECK(jwt_add_grant(j, "iss", "tenantql") == 0);
    CHECK(jwt_add_grant_int(j, "exp", NOW + 60) == 0);
    CHECK(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET)) == 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    CHECK(t != NULL);
    if (t != NULL)
        EXPECT(v, t, TQ_JWT_OK);
    free(t);
}

typedef struct thread_arg {
    const tq_jwt_verifier *v;
    const char *good, *bad;
    int rounds;
    int failures;
} thread_arg;

static void *hammer(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < a->rounds; i++) {
        tq_jwt_claims c;
        if (verify_str(a->v, a->good, &c) != TQ_JWT_OK || strcmp(c.tenant_id, TENANT) != 0)
            a->failures++;
        if (verify_str(a->v, a->bad, &c) != TQ_JWT_BAD_SIGNATURE)
            a->failures++;
    }
    return NULL;
}

/* Four threads verify good and bad on v at once, rounds times each; takes good and bad. */
static void hammer_from_threads(const tq_jwt_verifier *v, char *good, char *bad, int rounds)
{
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){v, good, bad, rounds, 0};
        CHECK(pthread_create(&th[i], NULL, hammer, &args[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    CHECK(failures == 0);
    free(good);
    free(bad);
}

static void test_threads(const tq_jwt_verifier *v)
{
    char *good = hs256("{" ISS "," TEN "," EXP_OK "}");
    char *bad = forge(HS256, "{" ISS "," TEN "," EXP_OK "}", EVP_sha256, OTHER_SECRET, NULL);
    hammer_from_threads(v, good, bad, 2000);
}

static void test_status_text(void)
{
    for (int s = TQ_JWT_OK; s <= TQ_JWT_INTERNAL; s++)
        CHECK(strcmp(tq_jwt_status_text((tq_jwt_status)s), "unknown") != 0);
    CHECK_STR(tq_jwt_status_text(TQ_JWT_EXPIRED), "expired");
    CHECK_STR(tq_jwt_status_text((tq_jwt_status)999), "unknown");
}

/* ---- RS256, ES256, kid, aud, leeway ---- */

/* Keys made at test time: A signs, B is "another key" of the same kind. */
static EVP_PKEY *rsa_a, *rsa_b, *ec_a, *ec_b;

static char *bio_text(BIO *bio)
{
    char *data, *out;
    long n = BIO_get_mem_data(bio, &data);
    out = malloc((size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

static char *public_pem(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    CHECK(PEM_write_bio_PUBKEY(bio, k) == 1);
    return bio_text(bio);
}

static char *private_pem(EVP_PKEY *k, const char *passphrase)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (passphrase != NULL)
        CHECK(PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_256_cbc(), passphrase, (int)strlen(passphrase), NULL,
                                            NULL) == 1);
    else
        CHECK(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1);
    return bio_text(bio);
}

/* A self-signed certificate for k: a key may also come as a CERTIFICATE block. */
static char *certificate_pem(EVP_PKEY *k)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, k);
    CHECK(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    CHECK(PEM_write_bio_X509(bio, x) == 1);
    X509_free(x);
    return bio_text(bio);
}

typedef enum sig_form { SIG_JWS, SIG_DER, SIG_SHORT, SIG_LONG, SIG_SWAPPED } sig_form;

/* "b64(header).b64(payload).sig" signed with an RSA or EC private key. SIG_JWS is the
 * right encoding (R || S for EC); the others are ways to get it wrong. */
static char *forge_pkey(const char *header, const char *payload, EVP_PKEY *key, sig_form form)
{
    size_t hl = strlen(header), pl = strlen(payload);
    char *t = malloc(tq_base64url_encoded_len(hl) + tq_base64url_encoded_len(pl) + 2000);
    size_t n = tq_base64url_encode(header, hl, t);
    t[n++] = '.';
    n += tq_base64url_encode(payload, pl, t + n);
    unsigned char sig[1024], raw[130];
    size_t sl = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    CHECK(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 && EVP_DigestSign(ctx, sig, &sl, (const unsigned char *)t, n) == 1);
    EVP_MD_CTX_free(ctx);
    unsigned char *out = sig;
    if (EVP_PKEY_is_a(key, "EC") && form != SIG_DER) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(es, &r, &s);
        BN_bn2binpad(form == SIG_SWAPPED ? s : r, raw, 32);
        BN_bn2binpad(form == SIG_SWAPPED ? r : s, raw + 32, 32);
        ECDSA_SIG_free(es);
        out = raw;
        sl = 64;
    }
    if (form == SIG_SHORT)
        sl--;
    if (form == SIG_LONG)
        out[sl++] = 0;
    t[n++] = '.';
    n += tq_base64url_encode(out, sl, t + n);
    t[n] = '\0';
    return t;
}

typedef struct key_spec {
    tq_jwt_alg alg;
    const char *kid;
    EVP_PKEY *pkey;  /* RS256/ES256 */
    bool with_private;
    const char *secret; /* HS256 */
} key_spec;

/* A verifier over the given keys; audience and leeway as given (leeway < 0: default). */
static tq_jwt_verifier *make_keyed(const key_spec *specs, size_t n, const char *signing_kid, const char *audience,
                                   int64_t leeway, char *err, size_t errlen)
{
    tq_jwt_key keys[8] = {{0}};
    char *pems[16] = {0};
    for (size_t i = 0; i < n; i++) {
        keys[i].alg = specs[i].alg;
        keys[i].kid = specs[i].kid;
        if (specs[i].secret != NULL) {
            keys[i].secret = (const unsigned char *)specs[i].secret;
            keys[i].secret_len = strlen(specs[i].secret);
        }
        if (specs[i].pkey != NULL) {
            keys[i].public_pem = pems[2 * i] = public_pem(specs[i].pkey);
            keys[i].public_pem_len = strlen(pems[2 * i]);
        }
        if (specs[i].with_private) {
            keys[i].private_pem = pems[2 * i + 1] = private_pem(specs[i].pkey, NULL);
            keys[i].private_pem_len = strlen(pems[2 * i + 1]);
        }
    }
    tq_jwt_config cfg;
    tq_jwt_config_init(&cfg);
    cfg.keys = keys;
    cfg.nkeys = n;
    cfg.signing_kid = signing_kid;
    cfg.audience = audience;
    if (leeway >= 0)
        cfg.leeway = leeway;
    tq_jwt_verifier *v = tq_jwt_verifier_new(&cfg, err, errlen);
    for (size_t i = 0; i < 16; i++)
        free(pems[i]);
    return v;
}

static tq_jwt_verifier *make_one(tq_jwt_alg alg, EVP_PKEY *pkey, bool with_private)
{
    key_spec k = {alg, NULL, pkey, with_private, NULL};
    char err[256];
    tq_jwt_verifier *v = make_keyed(&k, 1, NULL, NULL, -1, err, sizeof(err));
    if (v == NULL)
        fprintf(stderr, "verifier: %s\n", err);
    return v;
}

#define RS256_H "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define ES256_H "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"
#define GOOD "{" ISS "," TEN "," EXP_OK "}"

static void expect_forged(const tq_jwt_verifier *v, const char *name, char *token, tq_jwt_status want)
{
    tq_jwt_claims c;
    memset(&c, 0xa5, sizeof(c));
    tq_jwt_status got = verify_str(v, token, &c);
    if (got != want)
        fprintf(stderr, "case \"%s\": got \"%s\", want \"%s\"\n", name, tq_jwt_status_text(got),
                tq_jwt_status_text(want));
    CHECK(got == want);
    if (want != TQ_JWT_OK)
        CHECK(c.tenant_id[0] == '\0' && c.exp == 0);
    free(token);
}

#define EXPECT_FREE(v, token, want) expect_forged((v), #token, (token), (want))

static void test_rs256(void)
{
    tq_jwt_verifier *v = make_one(TQ_JWT_RS256, rsa_a, false);
    CHECK(v != NULL);
    if (v == NULL)
        return;
    char *pem = public_pem(rsa_a);
    expect_forged(v, "RS256 good", forge_pkey(RS256_H, GOOD, rsa_a, SIG_JWS), TQ_JWT_OK);
    expect_forged(v, "RS256 without typ", forge_pkey("{\"alg\":\"RS256\"}", GOOD, rsa_a, SIG_JWS), TQ_JWT_OK);
    expect_forged(v, "RS256 other key", forge_pkey(RS256_H, GOOD, rsa_b, SIG_JWS), TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "RS256 short sig", forge_pkey(RS256_H, GOOD, rsa_a, SIG_SHORT), TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "RS256 long sig", forge_pkey(RS256_H, GOOD, rsa_a, SIG_LONG), TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "algorithm confusion: HS256 keyed with the RS256 public PEM",
                  forge(HS256, GOOD, EVP_sha256, pem, NULL), TQ_JWT_ALG_NOT_ALLOWED);
    expect_forged(v, "alg none", forge("{\"alg\":\"none\"}", GOOD, NULL, NULL, ""), TQ_JWT_ALG_NOT_ALLOWED);
    expect_forged(v, "ES256 under an RS256 key", forge_pkey(ES256_H, GOOD, ec_a, SIG_JWS), TQ_JWT_ALG_NOT_ALLOWED);
    expect_forged(v, "PS256", forge_pkey("{\"alg\":\"PS256\"}", GOOD, rsa_a, SIG_JWS), TQ_JWT_ALG_NOT_ALLOWED);
    expect_forged(v, "RS512", forge_pkey("{\"alg\":\"RS512\"}", GOOD, rsa_a, SIG_JWS), TQ_JWT_ALG_NOT_ALLOWED);
    expect_forged(v, "kid on a key without one", forge_pkey("{\"alg\":\"RS256\",\"kid\":\"x\"}", GOOD, rsa_a, SIG_JWS),
                  TQ_JWT_UNKNOWN_KID);
    expect_forged(v, "embedded jwk is ignored, not trusted",
                  forge_pkey("{\"alg\":\"RS256\",\"jwk\":{\"kty\":\"RSA\"}}", GOOD, rsa_b, SIG_JWS),
                  TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "RS256 expired", forge_pkey(RS256_H, "{" ISS "," TEN ",\"exp\":1699990000}", rsa_a, SIG_JWS),
                  TQ_JWT_EXPIRED);
    expect_forged(v, "RS256 no tenant", forge_pkey(RS256_H, "{" ISS "," EXP_OK "}", rsa_a, SIG_JWS),
                  TQ_JWT_BAD_TENANT);
    expect_forged(v, "RS256 payload not JSON", forge_pkey(RS256_H, "nope", rsa_a, SIG_JWS), TQ_JWT_MALFORMED);
    /* another tenant's payload under a good signature */
    char *t = forge_pkey(RS256_H, GOOD, rsa_a, SIG_JWS);
    char *o = forge_pkey(RS256_H, "{" ISS ",\"tenantId\":\"00000000-0000-4000-8000-000000000001\"," EXP_OK "}",
                         rsa_a, SIG_JWS);
    char *spliced = malloc(strlen(t) + strlen(o) + 1);
    const char *od1 = strchr(o, '.'), *od2 = strrchr(o, '.');
    sprintf(spliced, "%.*s%.*s%s", (int)(strchr(t, '.') - t), t, (int)(od2 - od1), od1, strrchr(t, '.'));
    expect_forged(v, "RS256 tampered", spliced, TQ_JWT_BAD_SIGNATURE);
    free(t);
    free(o);

    /* verifies only: no private key, no signing */
    tq_jwt_claims in = {0};
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", TENANT);
    in.exp = NOW + 60;
    CHECK(!tq_jwt_can_sign(v));
    CHECK(tq_jwt_sign(v, &in) == NULL);
    char err[256];
    CHECK(tq_jwt_issue(v, TENANT, NULL, NOW, 60, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "no signing key") == err);
    free(pem);
    tq_jwt_verifier_free(v);
}

static void test_es256(void)
{
    tq_jwt_verifier *v = make_one(TQ_JWT_ES256, ec_a, false);
    CHECK(v != NULL);
    if (v == NULL)
        return;
    char *pem = public_pem(ec_a);
    expect_forged(v, "ES256 good", forge_pkey(ES256_H, GOOD, ec_a, SIG_JWS), TQ_JWT_OK);
    expect_forged(v, "ES256 other key", forge_pkey(ES256_H, GOOD, ec_b, SIG_JWS), TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "ES256 DER signature", forge_pkey(ES256_H, GOOD, ec_a, SIG_DER), TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "ES256 63 bytes", forge_pkey(ES256_H, GOOD, ec_a, SIG_SHORT), TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "ES256 65 bytes", forge_pkey(ES256_H, GOOD, ec_a, SIG_LONG), TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "ES256 S || R", forge_pkey(ES256_H, GOOD, ec_a, SIG_SWAPPED), TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "ES256 zero signature",
                  forge(ES256_H, GOOD, NULL, NULL,
                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                  TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "HS256 keyed with the ES256 public PEM", forge(HS256, GOOD, EVP_sha256, pem, NULL),
                  TQ_JWT_ALG_NOT_ALLOWED);
    expect_forged(v, "RS256 under an ES256 key", forge_pkey(RS256_H, GOOD, rsa_a, SIG_JWS), TQ_JWT_ALG_NOT_ALLOWED);
    free(pem);
    tq_jwt_verifier_free(v);
}

/* Signing with a private key: the token verifies, carries kid and aud, and ES256 comes out as R || S. */
static void test_pkey_sign(void)
{
    char err[256];
    tq_jwt_claims in = {0}, out;
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", TENANT);
    snprintf(in.sub, sizeof(in.sub), "%s", USER);
    in.has_sub = in.has_iat = true;
    in.iat = NOW;
    in.exp = NOW + 3600;
    const key_spec specs[] = {{TQ_JWT_RS256, "r1", rsa_a, true, NULL}, {TQ_JWT_ES256, "e1", ec_a, true, NULL}};
    for (size_t i = 0; i < 2; i++) {
        tq_jwt_verifier *v = make_keyed(&specs[i], 1, NULL, "api://tq", -1, err, sizeof(err));
        CHECK(v != NULL && tq_jwt_can_sign(v));
        if (v == NULL)
            continue;
        char *t = tq_jwt_sign(v, &in);
        CHECK(t != NULL);
        CHECK(verify_str(v, t, &out) == TQ_JWT_OK);
        CHECK_STR(out.sub, USER);
        /* header and claims as the contract says */
        uint8_t buf[1024];
        size_t n;
        const char *dot = strchr(t, '.'), *dot2 = strrchr(t, '.');
        CHECK(tq_base64url_decode(t, (size_t)(dot - t), buf, &n));
        buf[n] = '\0';
        CHECK_STR((char *)buf, i == 0 ? "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"r1\"}"
                                      : "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"e1\"}");
        CHECK(tq_base64url_decode(dot + 1, (size_t)(dot2 - dot - 1), buf, &n));
        buf[n] = '\0';
        CHECK_STR((char *)buf, "{\"iss\":\"tenantql\",\"aud\":\"api://tq\",\"sub\":\"" USER "\",\"tenantId\":\"" TENANT
                               "\",\"iat\":1700000000,\"exp\":1700003600}");
        CHECK(strlen(dot2 + 1) == (i == 0 ? 342u : 86u)); /* 256 and 64 raw bytes */
        free(t);
        tq_jwt_verifier_free(v);
    }
    /* a verifier with the other key refuses what this one signed */
    tq_jwt_verifier *a = make_one(TQ_JWT_ES256, ec_a, true), *b = make_one(TQ_JWT_ES256, ec_b, false);
    in.has_sub = false;
    char *t = tq_jwt_sign(a, &in);
    EXPECT(b, t, TQ_JWT_BAD_SIGNATURE);
    EXPECT(a, t, TQ_JWT_OK);
    free(t);
    tq_jwt_verifier_free(a);
    tq_jwt_verifier_free(b);
}

/* Rotation: tokens of the old and the new key verify while both are configured; the
 * kid picks the key and its alg must be that key's own. */
static void test_kid_rotation(void)
{
    char err[256];
    const key_spec specs[] = {{TQ_JWT_RS256, "2026-11", rsa_a, true, NULL},
                              {TQ_JWT_HS256, "old", NULL, false, SECRET},
                              {TQ_JWT_ES256, "ec", ec_a, false, NULL}};
    tq_jwt_verifier *v = make_keyed(specs, 3, "2026-11", NULL, -1, err, sizeof(err));
    CHECK(v != NULL);
    if (v == NULL) {
        fprintf(stderr, "rotation verifier: %s\n", err);
        return;
    }
    char desc[256];
    tq_jwt_describe(v, desc, sizeof(desc));
    CHECK_STR(desc, "3 keys: RS256 kid \"2026-11\", HS256 kid \"old\", ES256 kid \"ec\"; signs with kid \"2026-11\"");

    char *pem = public_pem(rsa_a);
    expect_forged(v, "new key", forge_pkey("{\"alg\":\"RS256\",\"kid\":\"2026-11\"}", GOOD, rsa_a, SIG_JWS), TQ_JWT_OK);
    expect_forged(v, "old key", forge("{\"alg\":\"HS256\",\"kid\":\"old\"}", GOOD, EVP_sha256, SECRET, NULL),
                  TQ_JWT_OK);
    expect_forged(v, "ec key", forge_pkey("{\"alg\":\"ES256\",\"kid\":\"ec\"}", GOOD, ec_a, SIG_JWS), TQ_JWT_OK);
    expect_forged(v, "no kid among several keys", forge_pkey(RS256_H, GOOD, rsa_a, SIG_JWS), TQ_JWT_UNKNOWN_KID);
    expect_forged(v, "unknown kid", forge_pkey("{\"alg\":\"RS256\",\"kid\":\"2026-12\"}", GOOD, rsa_a, SIG_JWS),
                  TQ_JWT_UNKNOWN_KID);
    expect_forged(v, "kid case differs", forge_pkey("{\"alg\":\"RS256\",\"kid\":\"OLD\"}", GOOD, rsa_a, SIG_JWS),
                  TQ_JWT_UNKNOWN_KID);
    expect_forged(v, "kid not a string", forge_pkey("{\"alg\":\"RS256\",\"kid\":1}", GOOD, rsa_a, SIG_JWS),
                  TQ_JWT_BAD_HEADER);
    expect_forged(v, "HS256 under the RS256 kid, keyed with its PEM",
                  forge("{\"alg\":\"HS256\",\"kid\":\"2026-11\"}", GOOD, EVP_sha256, pem, NULL),
                  TQ_JWT_ALG_NOT_ALLOWED);
    expect_forged(v, "RS256 under the HS256 kid", forge_pkey("{\"alg\":\"RS256\",\"kid\":\"old\"}", GOOD, rsa_a, SIG_JWS),
                  TQ_JWT_ALG_NOT_ALLOWED);
    expect_forged(v, "right kid, wrong key", forge_pkey("{\"alg\":\"RS256\",\"kid\":\"2026-11\"}", GOOD, rsa_b, SIG_JWS),
                  TQ_JWT_BAD_SIGNATURE);
    expect_forged(v, "old kid, wrong secret",
                  forge("{\"alg\":\"HS256\",\"kid\":\"old\"}", GOOD, EVP_sha256, OTHER_SECRET, NULL),
                  TQ_JWT_BAD_SIGNATURE);

    /* it signs with the named key, and says so in the header */
    tq_jwt_claims in = {0};
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", TENANT);
    in.exp = NOW + 60;
    char *t = tq_jwt_sign(v, &in);
    CHECK(t != NULL && strncmp(t, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjIwMjYtMTEifQ.", 59) == 0);
    EXPECT(v, t, TQ_JWT_OK);
    free(t);
    free(pem);
    tq_jwt_verifier_free(v);

    /* one key with a kid: a token without kid uses it, a token with another kid does not */
    v = make_keyed(&specs[1], 1, NULL, NULL, -1, err, sizeof(err));
    expect_forged(v, "single key, no kid in token", forge(HS256, GOOD, EVP_sha256, SECRET, NULL), TQ_JWT_OK);
    expect_forged(v, "single key, its kid", forge("{\"alg\":\"HS256\",\"kid\":\"old\"}", GOOD, EVP_sha256, SECRET, NULL),
                  TQ_JWT_OK);
    expect_forged(v, "single key, other kid",
                  forge("{\"alg\":\"HS256\",\"kid\":\"new\"}", GOOD, EVP_sha256, SECRET, NULL), TQ_JWT_UNKNOWN_KID);
    tq_jwt_verifier_free(v);
}

static void test_audience(void)
{
    char err[256];
    const key_spec k = {TQ_JWT_HS256, NULL, NULL, false, SECRET};
    tq_jwt_verifier *v = make_keyed(&k, 1, NULL, "https://api.example", -1, err, sizeof(err));
    CHECK(v != NULL);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"aud\":\"https://api.example\"}"), TQ_JWT_OK);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"aud\":[\"x\",\"https://api.example\"]}"), TQ_JWT_OK);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"aud\":\"x\"}"), TQ_JWT_WRONG_AUDIENCE);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"aud\":\"https://api.example/\"}"), TQ_JWT_WRONG_AUDIENCE);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"aud\":[]}"), TQ_JWT_WRONG_AUDIENCE);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"aud\":[1]}"), TQ_JWT_WRONG_AUDIENCE);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"aud\":null}"), TQ_JWT_WRONG_AUDIENCE);
    EXPECT_FREE(v, hs256(GOOD), TQ_JWT_WRONG_AUDIENCE); /* absent */
    tq_jwt_verifier_free(v);
}

/* A leeway of 5 s: the edges of exp, nbf and iat. */
static void test_leeway(void)
{
    char err[256];
    const key_spec k = {TQ_JWT_HS256, NULL, NULL, false, SECRET};
    tq_jwt_verifier *v = make_keyed(&k, 1, NULL, NULL, 5, err, sizeof(err));
    CHECK(v != NULL);
    EXPECT_FREE(v, hs256("{" ISS "," TEN ",\"exp\":1699999995}"), TQ_JWT_EXPIRED);
    EXPECT_FREE(v, hs256("{" ISS "," TEN ",\"exp\":1699999996}"), TQ_JWT_OK);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"nbf\":1700000005}"), TQ_JWT_OK);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"nbf\":1700000006}"), TQ_JWT_NOT_YET_VALID);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"iat\":1700000005}"), TQ_JWT_OK);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"iat\":1700000006}"), TQ_JWT_ISSUED_IN_FUTURE);
    EXPECT_FREE(v, hs256("{" ISS "," TEN "," EXP_OK ",\"iat\":1600000000,\"nbf\":1600000000}"), TQ_JWT_OK); /* old is fine */
    tq_jwt_verifier_free(v);
}

static void expect_config_error(const key_spec *specs, size_t n, const char *signing_kid, const char *want)
{
    char err[256] = "";
    tq_jwt_verifier *v = make_keyed(specs, n, signing_kid, NULL, -1, err, sizeof(err));
    CHECK(v == NULL);
    if (strstr(err, want) == NULL)
        fprintf(stderr, "config error \"%s\" lacks \"%s\"\n", err, want);
    CHECK(strstr(err, want) != NULL);
    tq_jwt_verifier_free(v);
}

static void test_pkey_config_rejects(void)
{
    EVP_PKEY *small = EVP_RSA_gen(1024), *p384 = EVP_EC_gen("P-384");
    key_spec k;
    k = (key_spec){TQ_JWT_RS256, "k", ec_a, false, NULL};
    expect_config_error(&k, 1, NULL, "JWT key \"k\": RS256 needs an RSA public key");
    k = (key_spec){TQ_JWT_ES256, NULL, rsa_a, false, NULL};
    expect_config_error(&k, 1, NULL, "ES256 needs an EC public key on the P-256 curve");
    k = (key_spec){TQ_JWT_ES256, NULL, p384, false, NULL};
    expect_config_error(&k, 1, NULL, "P-256");
    k = (key_spec){TQ_JWT_RS256, NULL, small, false, NULL};
    expect_config_error(&k, 1, NULL, "2048");
    k = (key_spec){TQ_JWT_RS256, NULL, rsa_a, false, SECRET};
    expect_config_error(&k, 1, NULL, "not a secret");
    k = (key_spec){TQ_JWT_RS256, NULL, NULL, false, NULL};
    expect_config_error(&k, 1, NULL, "needs a PEM public key");
    const key_spec two[] = {{TQ_JWT_RS256, "a", rsa_a, false, NULL}, {TQ_JWT_ES256, "b", ec_a, false, NULL}};
    expect_config_error(two, 2, "a", "the signing key \"a\" (RS256) has no private key");
    expect_config_error(two, 2, "z", "the signing kid \"z\" names no configured key");

    /* PEM-level problems, through tq_jwt_key directly */
    char err[256];
    char *pub = public_pem(rsa_a), *priv_b = private_pem(rsa_b, NULL), *enc = private_pem(rsa_a, "pw");
    char *ec_priv = private_pem(ec_a, NULL), *cert = certificate_pem(ec_a);
    tq_jwt_key key = {TQ_JWT_RS256, NULL, NULL, 0, pub, strlen(pub), priv_b, strlen(priv_b)};
    tq_jwt_config cfg;
    tq_jwt_config_init(&cfg);
    cfg.keys = &key;
    cfg.nkeys = 1;
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "does not belong to the public key") != NULL);
    key.private_pem = enc;
    key.private_pem_len = strlen(enc);
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL); /* encrypted: refused, never prompts */
    CHECK(strstr(err, "unencrypted PEM private key") != NULL);
    key.private_pem = ec_priv;
    key.private_pem_len = strlen(ec_priv);
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "RSA private key") != NULL);
    key.private_pem = NULL;
    key.public_pem = priv_b; /* a private key where the public one belongs */
    key.public_pem_len = strlen(priv_b);
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "no PEM public key") != NULL);
    key.public_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    key.public_pem_len = strlen(key.public_pem);
    CHECK(tq_jwt_verifier_new(&cfg, err, sizeof(err)) == NULL);

    /* a certificate carries the public key just as well */
    key.alg = TQ_JWT_ES256;
    key.public_pem = cert;
    key.public_pem_len = strlen(cert);
    key.private_pem = ec_priv;
    key.private_pem_len = strlen(ec_priv);
    tq_jwt_verifier *v = tq_jwt_verifier_new(&cfg, err, sizeof(err));
    CHECK(v != NULL && tq_jwt_can_sign(v));
    if (v != NULL)
        expect_forged(v, "key from a certificate", forge_pkey(ES256_H, GOOD, ec_a, SIG_JWS), TQ_JWT_OK);
    tq_jwt_verifier_free(v);

    free(pub);
    free(priv_b);
    free(enc);
    free(ec_priv);
    free(cert);
    EVP_PKEY_free(small);
    EVP_PKEY_free(p384);
}

/* Many threads on one RS256/ES256 verifier: OpenSSL keys are shared read-only. */
static void test_pkey_threads(void)
{
    tq_jwt_verifier *v = make_one(TQ_JWT_ES256, ec_a, false);
    char *good = forge_pkey(ES256_H, GOOD, ec_a, SIG_JWS), *bad = forge_pkey(ES256_H, GOOD, ec_b, SIG_JWS);
    hammer_from_threads(v, good, bad, 200); /* ECDSA costs more than HMAC */
    tq_jwt_verifier_free(v);
}

int main(void)
{
    rsa_a = EVP_RSA_gen(2048);
    rsa_b = EVP_RSA_gen(2048);
    ec_a = EVP_EC_gen("P-256");
    ec_b = EVP_EC_gen("P-256");
    CHECK(rsa_a != NULL && rsa_b != NULL && ec_a != NULL && ec_b != NULL);
    rsa_public_pem = public_pem(rsa_a);
    CHECK(strncmp(rsa_public_pem, "-----BEGIN PUBLIC KEY-----", 26) == 0);

    tq_jwt_verifier *v = make_verifier(SECRET, "tenantql", -1, 0);
    CHECK(v != NULL);
    if (v != NULL) {
        test_forged_table(v);
        test_valid_claims(v);
        test_shapes(v);
        test_lengths(v);
        test_sign(v);
        test_issue(v);
        test_platform(v);
        test_token_cache(v);
        test_libjwt_encoded(v);
        test_threads(v);
    }
    test_configured_variants();
    test_config_rejects();
    test_status_text();
    test_rs256();
    test_es256();
    test_pkey_sign();
    test_kid_rotation();
    test_audience();
    test_leeway();
    test_pkey_config_rejects();
    test_pkey_threads();
    tq_jwt_verifier_free(v);
    free(rsa_public_pem);
    EVP_PKEY_free(rsa_a);
    EVP_PKEY_free(rsa_b);
    EVP_PKEY_free(ec_a);
    EVP_PKEY_free(ec_b);
    return TQ_TEST_REPORT();
}
