/*
 * jwt.c - HS256 bearer tokens (see jwt.h). libjwt does the signature check; everything
 * libjwt gets wrong or does not do (algorithm pinning, the NULL-key bypass, time
 * claims, claim types) is done here, before and after jwt_decode.
 */
#include "tenantql/jwt.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/base64url.h"

#define HS256_SIG_LEN 43         /* base64url of a 32-byte HMAC-SHA256, no padding */
#define MAX_HEADER_SEGMENT 1024  /* encoded; real headers are ~40 bytes, this bounds a stack buffer */
#define MAX_SECRET_LEN 4096      /* jwt_decode takes an int; anything longer is a misconfiguration */
#define MAX_LEEWAY 86400         /* keeps now +/- leeway far from int64 overflow */
#define STACK_TOKEN_COPY 4096    /* tokens up to this length are NUL-terminated on the stack */

struct tq_jwt_verifier {
    unsigned char *secret;
    size_t secret_len;
    char *issuer; /* NULL: not checked */
    int64_t leeway;
    size_t max_token_len;
};

/* The three dot-separated parts of a compact JWS. */
typedef struct jws_parts {
    const char *header, *payload, *sig;
    size_t header_len, payload_len, sig_len;
} jws_parts;

static const char *const status_texts[] = {
    [TQ_JWT_OK] = "ok",
    [TQ_JWT_TOO_LONG] = "token too long",
    [TQ_JWT_MALFORMED] = "malformed",
    [TQ_JWT_ALG_NOT_ALLOWED] = "algorithm not allowed",
    [TQ_JWT_BAD_HEADER] = "unsupported header (typ or crit)",
    [TQ_JWT_BAD_SIGNATURE] = "bad signature",
    [TQ_JWT_MISSING_EXP] = "missing exp",
    [TQ_JWT_BAD_TIME_CLAIM] = "exp, nbf or iat is not an integer",
    [TQ_JWT_EXPIRED] = "expired",
    [TQ_JWT_NOT_YET_VALID] = "not yet valid",
    [TQ_JWT_ISSUED_IN_FUTURE] = "issued in the future",
    [TQ_JWT_WRONG_ISSUER] = "wrong issuer",
    [TQ_JWT_BAD_TENANT] = "missing or invalid tenantId",
    [TQ_JWT_BAD_SUB] = "invalid sub",
    [TQ_JWT_INTERNAL] = "internal error",
};

const char *tq_jwt_status_text(tq_jwt_status st)
{
    if ((size_t)st >= sizeof(status_texts) / sizeof(status_texts[0]) || status_texts[st] == NULL)
        return "unknown";
    return status_texts[st];
}

void tq_jwt_config_init(tq_jwt_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->issuer = TQ_JWT_DEFAULT_ISSUER;
    cfg->leeway = TQ_JWT_DEFAULT_LEEWAY;
    cfg->max_token_len = TQ_JWT_DEFAULT_MAX_TOKEN_LEN;
}

/* ---- configuration ---- */

static const char *config_problem(const tq_jwt_config *cfg)
{
    if (cfg->nkeys != 1 || cfg->keys == NULL)
        return "exactly one JWT key is supported";
    const tq_jwt_key *k = &cfg->keys[0];
    if (k->alg != TQ_JWT_HS256)
        return "only HS256 keys are supported";
    if (k->kid != NULL)
        return "key ids (kid) are not supported yet";
    if (k->secret == NULL || k->secret_len < TQ_JWT_MIN_HS256_SECRET)
        return "the HS256 secret must be at least 32 bytes";
    if (k->secret_len > MAX_SECRET_LEN)
        return "the HS256 secret is longer than 4096 bytes";
    if (cfg->leeway < 0 || cfg->leeway > MAX_LEEWAY)
        return "the JWT leeway must be between 0 and 86400 seconds";
    if (cfg->max_token_len == 0 || cfg->max_token_len > TQ_JWT_MAX_TOKEN_LEN_LIMIT)
        return "the maximum JWT length must be between 1 and 65536 bytes";
    return NULL;
}

tq_jwt_verifier *tq_jwt_verifier_new(const tq_jwt_config *cfg, char *err, size_t errlen)
{
    const char *problem = config_problem(cfg);
    if (problem != NULL) {
        if (errlen > 0)
            snprintf(err, errlen, "%s", problem);
        return NULL;
    }

    const tq_jwt_key *k = &cfg->keys[0];
    tq_jwt_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL)
        goto oom;
    v->secret = malloc(k->secret_len);
    if (v->secret == NULL)
        goto oom;
    memcpy(v->secret, k->secret, k->secret_len);
    v->secret_len = k->secret_len;
    if (cfg->issuer != NULL && cfg->issuer[0] != '\0' && (v->issuer = strdup(cfg->issuer)) == NULL)
        goto oom;
    v->leeway = cfg->leeway;
    v->max_token_len = cfg->max_token_len;
    return v;

oom:
    tq_jwt_verifier_free(v);
    if (errlen > 0)
        snprintf(err, errlen, "out of memory");
    return NULL;
}

void tq_jwt_verifier_free(tq_jwt_verifier *v)
{
    if (v == NULL)
        return;
    if (v->secret != NULL)
        OPENSSL_cleanse(v->secret, v->secret_len);
    free(v->secret);
    free(v->issuer);
    free(v);
}

/* ---- verification: before libjwt ---- */

static bool split_token(const char *t, size_t len, jws_parts *p)
{
    const char *d1 = memchr(t, '.', len);
    if (d1 == NULL)
        return false;
    const char *rest = d1 + 1;
    const char *d2 = memchr(rest, '.', len - (size_t)(rest - t));
    if (d2 == NULL)
        return false;
    const char *sig = d2 + 1;
    if (memchr(sig, '.', len - (size_t)(sig - t)) != NULL)
        return false;

    *p = (jws_parts){t, rest, sig, (size_t)(d1 - t), (size_t)(d2 - rest), len - (size_t)(sig - t)};
    return p->header_len > 0 && p->payload_len > 0 && tq_base64url_valid(p->header, p->header_len) &&
           tq_base64url_valid(p->payload, p->payload_len) && tq_base64url_valid(p->sig, p->sig_len);
}

/* The header decides which algorithm libjwt will use, so it is pinned here first. */
static tq_jwt_status check_header(const jws_parts *p)
{
    uint8_t raw[MAX_HEADER_SEGMENT / 4 * 3];
    size_t raw_len;
    if (p->header_len > MAX_HEADER_SEGMENT || !tq_base64url_decode(p->header, p->header_len, raw, &raw_len))
        return TQ_JWT_MALFORMED;

    json_t *h = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
    if (h == NULL)
        return TQ_JWT_MALFORMED;

    tq_jwt_status st = TQ_JWT_OK;
    const json_t *alg = json_object_get(h, "alg"), *typ = json_object_get(h, "typ");
    if (!json_is_object(h))
        st = TQ_JWT_MALFORMED;
    else if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
        st = TQ_JWT_ALG_NOT_ALLOWED;
    else if (typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        st = TQ_JWT_BAD_HEADER;
    else if (json_object_get(h, "crit") != NULL) /* RFC 7515 4.1.11: we understand no extension */
        st = TQ_JWT_BAD_HEADER;
    json_decref(h);
    return st;
}

/*
 * jwt_decode answers EINVAL both for a bad signature and for a payload that is not
 * JSON. The difference matters to whoever reads the logs, and finding it costs only
 * on this failure path.
 */
static tq_jwt_status diagnose_decode_failure(const jws_parts *p)
{
    uint8_t *raw = malloc(tq_base64url_decoded_len(p->payload_len) + 1);
    size_t raw_len;
    if (raw == NULL)
        return TQ_JWT_INTERNAL;
    tq_jwt_status st = TQ_JWT_MALFORMED;
    if (tq_base64url_decode(p->payload, p->payload_len, raw, &raw_len)) {
        json_t *j = json_loadb((const char *)raw, raw_len, 0, NULL);
        if (j != NULL)
            st = TQ_JWT_BAD_SIGNATURE;
        json_decref(j);
    }
    free(raw);
    return st;
}

/* ---- verification: libjwt ---- */

/* Runs jwt_decode with the real key and returns the verified claims as jansson JSON. */
static tq_jwt_status libjwt_verify(const tq_jwt_verifier *v, const char *token, size_t len, const jws_parts *p,
                                   json_t **claims)
{
    char stack_copy[STACK_TOKEN_COPY + 1];
    char *copy = len <= STACK_TOKEN_COPY ? stack_copy : malloc(len + 1);
    if (copy == NULL)
        return TQ_JWT_INTERNAL;
    memcpy(copy, token, len);
    copy[len] = '\0';

    jwt_t *j = NULL;
    int rc = jwt_decode(&j, copy, v->secret, (int)v->secret_len);
    if (copy != stack_copy)
        free(copy);
    if (rc != 0)
        return rc == ENOMEM ? TQ_JWT_INTERNAL : diagnose_decode_failure(p);

    /*
     * The header check already pinned HS256, but libjwt's answer is what counts: when it
     * cannot copy the key, jwt_decode returns 0 with an unverified token of alg "none".
     */
    if (jwt_get_alg(j) != JWT_ALG_HS256) {
        jwt_free(j);
        return TQ_JWT_ALG_NOT_ALLOWED;
    }
    char *text = jwt_get_grants_json(j, NULL);
    jwt_free(j);
    if (text == NULL)
        return TQ_JWT_INTERNAL;
    *claims = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, NULL);
    free(text);
    if (!json_is_object(*claims)) {
        json_decref(*claims);
        *claims = NULL;
        return TQ_JWT_MALFORMED;
    }
    return TQ_JWT_OK;
}

/* ---- verification: claims ---- */

/* A NumericDate must be a JSON integer: jwt_get_grant_int would read a float as 0. */
static bool time_claim(const json_t *claims, const char *name, int64_t *val, bool *present)
{
    const json_t *c = json_object_get(claims, name);
    *present = c != NULL;
    if (c == NULL)
        return true;
    if (!json_is_integer(c))
        return false;
    *val = (int64_t)json_integer_value(c);
    return true;
}

static tq_jwt_status check_times(const tq_jwt_verifier *v, const json_t *claims, int64_t now, tq_jwt_claims *out)
{
    bool has_exp;
    if (!time_claim(claims, "exp", &out->exp, &has_exp) || !time_claim(claims, "nbf", &out->nbf, &out->has_nbf) ||
        !time_claim(claims, "iat", &out->iat, &out->has_iat))
        return TQ_JWT_BAD_TIME_CLAIM;
    if (!has_exp)
        return TQ_JWT_MISSING_EXP;
    return tq_jwt_check_time_claims(v, out, now);
}

tq_jwt_status tq_jwt_check_time_claims(const tq_jwt_verifier *v, const tq_jwt_claims *c, int64_t now)
{
    /* written as now -/+ leeway so that a huge exp cannot overflow */
    if (c->exp <= now - v->leeway)
        return TQ_JWT_EXPIRED;
    if (c->has_nbf && c->nbf > now + v->leeway)
        return TQ_JWT_NOT_YET_VALID;
    if (c->has_iat && c->iat > now + v->leeway)
        return TQ_JWT_ISSUED_IN_FUTURE;
    return TQ_JWT_OK;
}

static bool uuid_claim(const json_t *c, char out[TQ_UUID_TEXT_SIZE])
{
    return json_is_string(c) && tq_uuid_canonicalize(json_string_value(c), json_string_length(c), out);
}

static tq_jwt_status check_claims(const tq_jwt_verifier *v, const json_t *claims, int64_t now, tq_jwt_claims *out)
{
    tq_jwt_status st = check_times(v, claims, now, out);
    if (st != TQ_JWT_OK)
        return st;

    if (v->issuer != NULL) {
        const json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), v->issuer) != 0)
            return TQ_JWT_WRONG_ISSUER;
    }
    if (!uuid_claim(json_object_get(claims, "tenantId"), out->tenant_id))
        return TQ_JWT_BAD_TENANT;

    const json_t *sub = json_object_get(claims, "sub");
    out->has_sub = sub != NULL;
    if (sub != NULL && !uuid_claim(sub, out->sub))
        return TQ_JWT_BAD_SUB;
    return TQ_JWT_OK;
}

tq_jwt_status tq_jwt_verify(const tq_jwt_verifier *v, const char *token, size_t len, int64_t now,
                            tq_jwt_claims *out)
{
    memset(out, 0, sizeof(*out)); /* absent optional claims read as zero */
    if (len > v->max_token_len)
        return TQ_JWT_TOO_LONG;

    jws_parts p;
    if (len == 0 || !split_token(token, len, &p))
        return TQ_JWT_MALFORMED;
    tq_jwt_status st = check_header(&p);
    if (st != TQ_JWT_OK)
        return st;
    if (p.sig_len != HS256_SIG_LEN)
        return TQ_JWT_BAD_SIGNATURE;

    json_t *claims = NULL;
    st = libjwt_verify(v, token, len, &p, &claims);
    if (st == TQ_JWT_OK)
        st = check_claims(v, claims, now, out);
    json_decref(claims);
    if (st != TQ_JWT_OK) /* a refused token must not leave claims a caller could act on */
        memset(out, 0, sizeof(*out));
    return st;
}

/* ---- signing ---- */

static json_t *claims_json(const tq_jwt_verifier *v, const tq_jwt_claims *c)
{
    char tenant[TQ_UUID_TEXT_SIZE], sub[TQ_UUID_TEXT_SIZE];
    if (!tq_uuid_canonicalize(c->tenant_id, strnlen(c->tenant_id, sizeof(c->tenant_id)), tenant))
        return NULL;
    if (c->has_sub && !tq_uuid_canonicalize(c->sub, strnlen(c->sub, sizeof(c->sub)), sub))
        return NULL;

    json_t *o = json_object();
    int rc = o == NULL;
    if (!rc && v->issuer != NULL)
        rc |= json_object_set_new(o, "iss", json_string(v->issuer));
    if (!rc && c->has_sub)
        rc |= json_object_set_new(o, "sub", json_string(sub));
    if (!rc)
        rc |= json_object_set_new(o, "tenantId", json_string(tenant));
    if (!rc && c->has_iat)
        rc |= json_object_set_new(o, "iat", json_integer(c->iat));
    if (!rc && c->has_nbf)
        rc |= json_object_set_new(o, "nbf", json_integer(c->nbf));
    if (!rc)
        rc |= json_object_set_new(o, "exp", json_integer(c->exp));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Appends "." and the HS256 signature of token[0..len) to token, which has room for it. */
static bool append_signature(const tq_jwt_verifier *v, char *token, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha256(), v->secret, (int)v->secret_len, (const unsigned char *)token, len, mac, &mac_len) == NULL)
        return false;
    token[len++] = '.';
    len += tq_base64url_encode(mac, mac_len, token + len);
    token[len] = '\0';
    return true;
}

char *tq_jwt_sign(const tq_jwt_verifier *v, const tq_jwt_claims *claims)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

    json_t *o = claims_json(v, claims);
    char *payload = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (payload == NULL)
        return NULL;

    size_t hlen = tq_base64url_encoded_len(sizeof(header) - 1), plen = strlen(payload);
    size_t total = hlen + 1 + tq_base64url_encoded_len(plen) + 1 + HS256_SIG_LEN;
    char *token = malloc(total + 1);
    if (token != NULL) {
        size_t n = tq_base64url_encode(header, sizeof(header) - 1, token);
        token[n++] = '.';
        n += tq_base64url_encode(payload, plen, token + n);
        if (!append_signature(v, token, n)) {
            free(token);
            token = NULL;
        }
    }
    free(payload);
    return token;
}
