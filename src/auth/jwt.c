/*
 * jwt.c - HS256 token verification and signing around libjwt 1.10, which is only safe
 * behind a wrapper: a NULL key verifies nothing, the algorithm comes from the token, and
 * no time claim is checked. So the header is read and the algorithm pinned here first,
 * libjwt only checks the signature with the real key, and every claim is checked here.
 */
#include "tenantql/jwt.h"

#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/base64url.h"

struct tq_jwt_verifier {
    unsigned char *secret;
    size_t secret_len;
    char *issuer;
    int64_t leeway;
    size_t max_token_len;
};

void tq_jwt_config_init(tq_jwt_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->issuer = TQ_JWT_DEFAULT_ISSUER;
    cfg->leeway = TQ_JWT_DEFAULT_LEEWAY;
    cfg->max_token_len = TQ_JWT_DEFAULT_MAX_TOKEN_LEN;
}

const char *tq_jwt_status_text(tq_jwt_status st)
{
    static const char *const text[] = {
        [TQ_JWT_OK] = "ok",
        [TQ_JWT_TOO_LONG] = "token too long",
        [TQ_JWT_MALFORMED] = "malformed",
        [TQ_JWT_ALG_NOT_ALLOWED] = "algorithm not allowed",
        [TQ_JWT_BAD_HEADER] = "bad header",
        [TQ_JWT_BAD_SIGNATURE] = "bad signature",
        [TQ_JWT_MISSING_EXP] = "missing exp",
        [TQ_JWT_BAD_TIME_CLAIM] = "exp, nbf or iat is not an integer",
        [TQ_JWT_EXPIRED] = "expired",
        [TQ_JWT_NOT_YET_VALID] = "not yet valid",
        [TQ_JWT_ISSUED_IN_FUTURE] = "issued in the future",
        [TQ_JWT_WRONG_ISSUER] = "wrong issuer",
        [TQ_JWT_BAD_TENANT] = "missing or invalid tenantId",
        [TQ_JWT_BAD_SUB] = "sub is not a user id",
        [TQ_JWT_INTERNAL] = "internal error",
    };
    return (unsigned)st < sizeof(text) / sizeof(text[0]) && text[st] ? text[st] : "unknown";
}

tq_jwt_verifier *tq_jwt_verifier_new(const tq_jwt_config *cfg, char *err, size_t errlen)
{
    if (cfg->nkeys != 1 || cfg->keys == NULL || cfg->keys[0].alg != TQ_JWT_HS256) {
        snprintf(err, errlen, "exactly one HS256 key is supported");
        return NULL;
    }
    if (cfg->keys[0].secret == NULL || cfg->keys[0].secret_len < TQ_JWT_MIN_HS256_SECRET) {
        snprintf(err, errlen, "the HS256 secret must be at least %d bytes", TQ_JWT_MIN_HS256_SECRET);
        return NULL;
    }
    if (cfg->leeway < 0 || cfg->max_token_len == 0 || cfg->max_token_len > TQ_JWT_MAX_TOKEN_LEN_LIMIT) {
        snprintf(err, errlen, "invalid leeway or maximum token length");
        return NULL;
    }
    tq_jwt_verifier *v = calloc(1, sizeof(*v));
    v->secret = malloc(cfg->keys[0].secret_len);
    memcpy(v->secret, cfg->keys[0].secret, cfg->keys[0].secret_len);
    v->secret_len = cfg->keys[0].secret_len;
    v->issuer = cfg->issuer && *cfg->issuer ? strdup(cfg->issuer) : NULL;
    v->leeway = cfg->leeway;
    v->max_token_len = cfg->max_token_len;
    return v;
}

void tq_jwt_verifier_free(tq_jwt_verifier *v)
{
    if (v == NULL)
        return;
    free(v->secret);
    free(v->issuer);
    free(v);
}

/* Decodes a base64url segment into JSON; NULL when it is not a JSON object. */
static json_t *segment_json(const char *seg, size_t len)
{
    if (!tq_base64url_valid(seg, len))
        return NULL;
    size_t cap = tq_base64url_decoded_len(len), n;
    uint8_t *buf = malloc(cap + 1);
    json_t *j = NULL;
    if (tq_base64url_decode(seg, len, buf, &n)) {
        json_error_t jerr;
        j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(j)) {
            json_decref(j);
            j = NULL;
        }
    }
    free(buf);
    return j;
}

/* Reads an optional integer time claim; -1 when it is present but not an integer. */
static int time_claim(json_t *claims, const char *name, int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 1;
}

static tq_jwt_status check_claims(const tq_jwt_verifier *v, json_t *claims, int64_t now, tq_jwt_claims *out)
{
    int rc = time_claim(claims, "exp", &out->exp);
    if (rc == 0)
        return TQ_JWT_MISSING_EXP;
    if (rc < 0)
        return TQ_JWT_BAD_TIME_CLAIM;
    if (now >= out->exp + v->leeway)
        return TQ_JWT_EXPIRED;
    if ((rc = time_claim(claims, "nbf", &out->nbf)) < 0)
        return TQ_JWT_BAD_TIME_CLAIM;
    out->has_nbf = rc > 0;
    if (out->has_nbf && out->nbf > now + v->leeway)
        return TQ_JWT_NOT_YET_VALID;
    if ((rc = time_claim(claims, "iat", &out->iat)) < 0)
        return TQ_JWT_BAD_TIME_CLAIM;
    out->has_iat = rc > 0;
    if (out->has_iat && out->iat > now + v->leeway)
        return TQ_JWT_ISSUED_IN_FUTURE;
    if (v->issuer != NULL) {
        json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), v->issuer) != 0)
            return TQ_JWT_WRONG_ISSUER;
    }
    json_t *tenant = json_object_get(claims, "tenantId");
    if (!json_is_string(tenant) ||
        !tq_uuid_canonicalize(json_string_value(tenant), json_string_length(tenant), out->tenant_id))
        return TQ_JWT_BAD_TENANT;
    json_t *sub = json_object_get(claims, "sub");
    out->has_sub = false;
    if (sub != NULL) {
        if (!json_is_string(sub) || !tq_uuid_canonicalize(json_string_value(sub), json_string_length(sub), out->sub))
            return TQ_JWT_BAD_SUB;
        out->has_sub = true;
    }
    return TQ_JWT_OK;
}

tq_jwt_status tq_jwt_verify(const tq_jwt_verifier *v, const char *token, size_t len, int64_t now, tq_jwt_claims *out)
{
    memset(out, 0, sizeof(*out));
    if (len > v->max_token_len)
        return TQ_JWT_TOO_LONG;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL ||
        dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == token + len)
        return TQ_JWT_MALFORMED;

    /* pin the algorithm before libjwt sees the token: it would trust the header's */
    json_t *header = segment_json(token, (size_t)(dot1 - token));
    if (header == NULL)
        return TQ_JWT_MALFORMED;
    json_t *alg = json_object_get(header, "alg"), *typ = json_object_get(header, "typ");
    tq_jwt_status st = TQ_JWT_OK;
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
        st = TQ_JWT_ALG_NOT_ALLOWED;
    else if (typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        st = TQ_JWT_BAD_HEADER;
    json_decref(header);
    if (st != TQ_JWT_OK)
        return st;

    char *copy = malloc(len + 1);
    memcpy(copy, token, len);
    copy[len] = '\0';
    jwt_t *j = NULL;
    int rc = jwt_decode(&j, copy, v->secret, (int)v->secret_len);
    free(copy);
    if (rc != 0 || j == NULL) {
        jwt_free(j);
        return TQ_JWT_BAD_SIGNATURE;
    }
    if (jwt_get_alg(j) != JWT_ALG_HS256) {
        jwt_free(j);
        return TQ_JWT_ALG_NOT_ALLOWED;
    }
    char *grants = jwt_get_grants_json(j, NULL);
    jwt_free(j);
    if (grants == NULL)
        return TQ_JWT_MALFORMED;
    json_error_t jerr;
    json_t *claims = json_loads(grants, JSON_REJECT_DUPLICATES, &jerr);
    free(grants);
    if (!json_is_object(claims)) {
        json_decref(claims);
        return TQ_JWT_MALFORMED;
    }
    st = check_claims(v, claims, now, out);
    json_decref(claims);
    return st;
}

char *tq_jwt_sign(const tq_jwt_verifier *v, const tq_jwt_claims *claims)
{
    jwt_t *j = NULL;
    if (jwt_new(&j) != 0)
        return NULL;
    char *token = NULL;
    int rc = jwt_add_grant(j, "tenantId", claims->tenant_id);
    if (rc == 0 && claims->has_sub)
        rc = jwt_add_grant(j, "sub", claims->sub);
    if (rc == 0 && claims->has_iat)
        rc = jwt_add_grant_int(j, "iat", (long)claims->iat);
    if (rc == 0)
        rc = jwt_add_grant_int(j, "exp", (long)claims->exp);
    if (rc == 0 && v->issuer != NULL)
        rc = jwt_add_grant(j, "iss", v->issuer);
    if (rc == 0)
        rc = jwt_set_alg(j, JWT_ALG_HS256, v->secret, (int)v->secret_len);
    if (rc == 0)
        token = jwt_encode_str(j);
    jwt_free(j);
    return token;
}
