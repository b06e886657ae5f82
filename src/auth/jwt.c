/*
 * jwt.c - bearer tokens (see jwt.h): the compact JWS is split and its header read here,
 * the header's "kid" picks one of the configured keys and its "alg" must be that key's
 * algorithm, the signature is checked by jwt_key.c, and every claim is checked here.
 * Nothing in a token decides which algorithm or key material is used (RFC 8725 3.1).
 */
#include "tenantql/jwt.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_key.h"
#include "tenantql/base64url.h"
#include "tenantql/log.h"

#define MAX_HEADER_SEGMENT 1024  /* encoded; real headers are ~70 bytes, this bounds a stack buffer */
#define STACK_PAYLOAD 3072       /* decoded payloads up to this size stay on the stack */
#define MAX_SIG_SEGMENT 1366     /* base64url of JWT_MAX_SIG_LEN bytes */

struct tq_jwt_verifier {
    jwt_key *keys;
    size_t nkeys;
    const jwt_key *signer;      /* NULL: tq_jwt_sign refuses, with no_signer as the reason */
    const char *no_signer;
    char *issuer;               /* NULL: not checked */
    char *audience;             /* NULL: not checked */
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
    [TQ_JWT_BAD_HEADER] = "unsupported header (typ, crit or kid)",
    [TQ_JWT_UNKNOWN_KID] = "unknown key id (kid)",
    [TQ_JWT_BAD_SIGNATURE] = "bad signature",
    [TQ_JWT_MISSING_EXP] = "missing exp",
    [TQ_JWT_BAD_TIME_CLAIM] = "exp, nbf or iat is not an integer",
    [TQ_JWT_EXPIRED] = "expired",
    [TQ_JWT_NOT_YET_VALID] = "not yet valid (nbf)",
    [TQ_JWT_ISSUED_IN_FUTURE] = "issued in the future (iat)",
    [TQ_JWT_WRONG_ISSUER] = "wrong issuer",
    [TQ_JWT_WRONG_AUDIENCE] = "wrong or missing audience",
    [TQ_JWT_BAD_TENANT] = "missing or invalid tenantId",
    [TQ_JWT_BAD_SUB] = "invalid sub",
    [TQ_JWT_BAD_JTI] = "invalid jti",
    [TQ_JWT_NOT_PLATFORM] = "no platform scope",
    [TQ_JWT_TENANT_TOKEN] = "a tenant's token, not a platform token",
    [TQ_JWT_INTERNAL] = "internal error",
};

const char *tq_jwt_status_text(tq_jwt_status st)
{
    if ((size_t)st >= sizeof(status_texts) / sizeof(status_texts[0]) || status_texts[st] == NULL)
        return "unknown";
    return status_texts[st];
}

static const char *const alg_names[] = {[TQ_JWT_HS256] = "HS256", [TQ_JWT_RS256] = "RS256", [TQ_JWT_ES256] = "ES256"};

const char *tq_jwt_alg_name(tq_jwt_alg alg)
{
    return (size_t)alg < sizeof(alg_names) / sizeof(alg_names[0]) ? alg_names[alg] : "unknown";
}

bool tq_jwt_alg_parse(const char *name, tq_jwt_alg *out)
{
    for (size_t i = 0; name != NULL && i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
        if (strcmp(name, alg_names[i]) == 0)
            return *out = (tq_jwt_alg)i, true;
    return false;
}

void tq_jwt_config_init(tq_jwt_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->issuer = TQ_JWT_DEFAULT_ISSUER;
    cfg->leeway = TQ_JWT_DEFAULT_LEEWAY;
    cfg->max_token_len = TQ_JWT_DEFAULT_MAX_TOKEN_LEN;
}

/* ---- configuration ---- */

/* kids appear in the start-up log and in error messages: printable ASCII only */
static bool kid_valid(const char *kid)
{
    size_t n = strlen(kid);
    if (n == 0 || n > TQ_JWT_MAX_KID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (kid[i] < 0x20 || kid[i] > 0x7e)
            return false;
    return true;
}

static const char *config_problem(const tq_jwt_config *cfg)
{
    if (cfg->keys == NULL || cfg->nkeys == 0)
        return "no JWT key is configured";
    if (cfg->nkeys > TQ_JWT_MAX_KEYS)
        return "too many JWT keys (at most 64)";
    if (cfg->leeway < 0 || cfg->leeway > TQ_JWT_MAX_LEEWAY)
        return "the JWT leeway must be between 0 and 86400 seconds";
    if (cfg->max_token_len == 0 || cfg->max_token_len > TQ_JWT_MAX_TOKEN_LEN_LIMIT)
        return "the maximum JWT length must be between 1 and 65536 bytes";
    for (size_t i = 0; i < cfg->nkeys; i++) {
        const char *kid = cfg->keys[i].kid;
        if (kid == NULL && cfg->nkeys > 1)
            return "with several JWT keys, every key needs a kid";
        if (kid != NULL && !kid_valid(kid))
            return "a kid must be 1 to 128 printable ASCII characters";
        for (size_t j = 0; kid != NULL && j < i; j++)
            if (cfg->keys[j].kid != NULL && strcmp(cfg->keys[j].kid, kid) == 0)
                return "two JWT keys have the same kid";
    }
    return NULL;
}

/* Parses every key; names the failing one in err. */
static int load_keys(tq_jwt_verifier *v, const tq_jwt_config *cfg, char *err, size_t errlen)
{
    v->keys = calloc(cfg->nkeys, sizeof(*v->keys));
    if (v->keys == NULL)
        return snprintf(err, errlen, "out of memory"), -1;
    for (size_t i = 0; i < cfg->nkeys; i++) {
        char why[256];
        if (jwt_key_init(&v->keys[i], &cfg->keys[i], why, sizeof(why)) != 0) {
            v->nkeys = i + 1; /* the failed key holds partial state to clear */
            if (cfg->keys[i].kid != NULL)
                snprintf(err, errlen, "JWT key \"%s\": %s", cfg->keys[i].kid, why);
            else
                snprintf(err, errlen, "JWT key: %s", why);
            return -1;
        }
        v->nkeys = i + 1;
    }
    return 0;
}

static const jwt_key *find_kid(const tq_jwt_verifier *v, const char *kid)
{
    for (size_t i = 0; i < v->nkeys; i++)
        if (v->keys[i].kid != NULL && strcmp(v->keys[i].kid, kid) == 0)
            return &v->keys[i];
    return NULL;
}

/* The signing key: the named one, or the only one. A missing one is not an error (a
 * server that only verifies is fine) unless it was named. */
static int choose_signer(tq_jwt_verifier *v, const char *signing_kid, char *err, size_t errlen)
{
    if (signing_kid != NULL) {
        const jwt_key *k = find_kid(v, signing_kid);
        if (k == NULL)
            return snprintf(err, errlen, "the signing kid \"%s\" names no configured key", signing_kid), -1;
        if (!jwt_key_can_sign(k))
            return snprintf(err, errlen, "the signing key \"%s\" (%s) has no private key", signing_kid,
                            tq_jwt_alg_name(k->alg)),
                   -1;
        v->signer = k;
    } else if (v->nkeys == 1 && jwt_key_can_sign(&v->keys[0])) {
        v->signer = &v->keys[0];
    } else if (v->nkeys == 1) {
        v->no_signer = "its public-key algorithm was configured without a private key";
    } else {
        v->no_signer = "several keys are configured and none is named as the signing key";
    }
    return 0;
}

tq_jwt_verifier *tq_jwt_verifier_new(const tq_jwt_config *cfg, char *err, size_t errlen)
{
    const char *problem = config_problem(cfg);
    if (problem != NULL) {
        snprintf(err, errlen, "%s", problem);
        return NULL;
    }
    tq_jwt_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (load_keys(v, cfg, err, errlen) != 0 || choose_signer(v, cfg->signing_kid, err, errlen) != 0)
        goto fail;
    if ((cfg->issuer != NULL && cfg->issuer[0] != '\0' && (v->issuer = strdup(cfg->issuer)) == NULL) ||
        (cfg->audience != NULL && cfg->audience[0] != '\0' && (v->audience = strdup(cfg->audience)) == NULL)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    v->leeway = cfg->leeway;
    v->max_token_len = cfg->max_token_len;
    return v;

fail:
    tq_jwt_verifier_free(v);
    return NULL;
}

void tq_jwt_verifier_free(tq_jwt_verifier *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->nkeys; i++)
        jwt_key_clear(&v->keys[i]);
    free(v->keys);
    free(v->issuer);
    free(v->audience);
    free(v);
}

void tq_jwt_describe(const tq_jwt_verifier *v, char *buf, size_t len)
{
    size_t n = 0;
    n += (size_t)snprintf(buf, len, "%zu key%s:", v->nkeys, v->nkeys == 1 ? "" : "s");
    for (size_t i = 0; i < v->nkeys && n < len; i++) {
        const jwt_key *k = &v->keys[i];
        n += (size_t)snprintf(buf + n, len - n, "%s %s%s%s%s", i ? "," : "", tq_jwt_alg_name(k->alg),
                              k->kid ? " kid \"" : "", k->kid ? k->kid : "", k->kid ? "\"" : "");
    }
    if (n >= len)
        return;
    if (v->signer == NULL)
        snprintf(buf + n, len - n, "; issues no tokens (%s)", v->no_signer);
    else if (v->signer->kid != NULL)
        snprintf(buf + n, len - n, "; signs with kid \"%s\"", v->signer->kid);
    else
        snprintf(buf + n, len - n, "; signs with %s", tq_jwt_alg_name(v->signer->alg));
}

/* ---- verification: shape and header ---- */

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

/* The key a header asks for: by kid, or the only key when there is no kid. A kid that
 * names no key is refused (a key without a kid cannot be named either). */
static tq_jwt_status select_key(const tq_jwt_verifier *v, const json_t *kid, const jwt_key **key)
{
    if (kid == NULL) {
        *key = v->nkeys == 1 ? &v->keys[0] : NULL;
        return *key != NULL ? TQ_JWT_OK : TQ_JWT_UNKNOWN_KID;
    }
    if (!json_is_string(kid))
        return TQ_JWT_BAD_HEADER;
    *key = find_kid(v, json_string_value(kid));
    return *key != NULL ? TQ_JWT_OK : TQ_JWT_UNKNOWN_KID;
}

/* Reads the header and picks the key; the token's alg must be that key's own. */
static tq_jwt_status check_header(const tq_jwt_verifier *v, const jws_parts *p, const jwt_key **key)
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
    tq_jwt_alg token_alg;
    if (!json_is_object(h))
        st = TQ_JWT_MALFORMED;
    else if (!json_is_string(alg) || !tq_jwt_alg_parse(json_string_value(alg), &token_alg))
        st = TQ_JWT_ALG_NOT_ALLOWED; /* "none" included */
    else if (typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        st = TQ_JWT_BAD_HEADER;
    else if (json_object_get(h, "crit") != NULL) /* RFC 7515 4.1.11: we understand no extension */
        st = TQ_JWT_BAD_HEADER;
    else if ((st = select_key(v, json_object_get(h, "kid"), key)) == TQ_JWT_OK && (*key)->alg != token_alg)
        st = TQ_JWT_ALG_NOT_ALLOWED; /* e.g. HS256 over an RS256 key's public PEM: confusion */
    /* jku, jwk, x5u, x5c are ignored: keys only ever come from the configuration */
    json_decref(h);
    return st;
}

/* The payload as a JSON object; parsed before the signature check because a garbage
 * payload is cheaper to refuse than an RSA or ECDSA verification. */
static tq_jwt_status read_payload(const jws_parts *p, json_t **claims)
{
    uint8_t stack[STACK_PAYLOAD];
    size_t need = tq_base64url_decoded_len(p->payload_len), raw_len;
    uint8_t *raw = need <= sizeof(stack) ? stack : malloc(need);
    if (raw == NULL)
        return TQ_JWT_INTERNAL;
    tq_jwt_status st = TQ_JWT_MALFORMED;
    if (tq_base64url_decode(p->payload, p->payload_len, raw, &raw_len)) {
        *claims = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(*claims))
            st = TQ_JWT_OK;
        else {
            json_decref(*claims);
            *claims = NULL;
        }
    }
    if (raw != stack)
        free(raw);
    return st;
}

static tq_jwt_status check_signature(const jwt_key *k, const char *token, const jws_parts *p)
{
    uint8_t sig[JWT_MAX_SIG_LEN];
    size_t sig_len;
    /* the length is checked before decoding: a wrong-size signature is simply wrong */
    if (p->sig_len != tq_base64url_encoded_len(k->sig_len) || p->sig_len > MAX_SIG_SEGMENT ||
        !tq_base64url_decode(p->sig, p->sig_len, sig, &sig_len))
        return TQ_JWT_BAD_SIGNATURE;
    size_t signed_len = (size_t)(p->sig - token) - 1; /* header "." payload */
    return jwt_key_verify(k, token, signed_len, sig, sig_len) ? TQ_JWT_OK : TQ_JWT_BAD_SIGNATURE;
}

/* ---- verification: claims ---- */

/* A NumericDate must be a JSON integer. */
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

/* RFC 7519 4.1.3: "aud" is one string or an array of strings; ours must be among them. */
static bool audience_ok(const char *want, const json_t *aud)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    const json_t *a;
    json_array_foreach(aud, i, a) {
        if (json_is_string(a) && strcmp(json_string_value(a), want) == 0)
            return true;
    }
    return false;
}

/* What every token must pass whatever it is for: its times, issuer and audience. */
static tq_jwt_status check_common(const tq_jwt_verifier *v, const json_t *claims, int64_t now, tq_jwt_claims *out)
{
    tq_jwt_status st = check_times(v, claims, now, out);
    if (st != TQ_JWT_OK)
        return st;
    if (v->issuer != NULL) {
        const json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), v->issuer) != 0)
            return TQ_JWT_WRONG_ISSUER;
    }
    if (v->audience != NULL && !audience_ok(v->audience, json_object_get(claims, "aud")))
        return TQ_JWT_WRONG_AUDIENCE;
    return TQ_JWT_OK;
}

static tq_jwt_status check_claims(const tq_jwt_verifier *v, const json_t *claims, int64_t now, void *out_)
{
    tq_jwt_claims *out = out_;
    tq_jwt_status st = check_common(v, claims, now, out);
    if (st != TQ_JWT_OK)
        return st;
    if (!uuid_claim(json_object_get(claims, "tenantId"), out->tenant_id))
        return TQ_JWT_BAD_TENANT;

    const json_t *sub = json_object_get(claims, "sub");
    out->has_sub = sub != NULL;
    if (sub != NULL && !uuid_claim(sub, out->sub))
        return TQ_JWT_BAD_SUB;
    /* revocation stores token ids as uuids: one of another shape could never be revoked */
    const json_t *jti = json_object_get(claims, "jti");
    out->has_jti = jti != NULL;
    if (jti != NULL && !uuid_claim(jti, out->jti))
        return TQ_JWT_BAD_JTI;
    return TQ_JWT_OK;
}

/* Whether a space-separated scope string names scope. */
static bool has_scope(const char *scopes, const char *scope)
{
    size_t n = strlen(scope);
    for (const char *p = scopes; *p;) {
        size_t w = strcspn(p, " ");
        if (w == n && memcmp(p, scope, n) == 0)
            return true;
        p += w;
        p += strspn(p, " ");
    }
    return false;
}

static bool printable_ascii(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max || (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            return false;
    return true;
}

static tq_jwt_status check_platform_claims(const tq_jwt_verifier *v, const json_t *claims, int64_t now, void *out_)
{
    tq_jwt_platform_claims *out = out_;
    tq_jwt_claims times;
    memset(&times, 0, sizeof(times));
    tq_jwt_status st = check_common(v, claims, now, &times);
    if (st != TQ_JWT_OK)
        return st;
    if (json_object_get(claims, "tenantId") != NULL)
        return TQ_JWT_TENANT_TOKEN;
    const json_t *scope = json_object_get(claims, "scope");
    if (!json_is_string(scope) || !has_scope(json_string_value(scope), TQ_JWT_PLATFORM_SCOPE))
        return TQ_JWT_NOT_PLATFORM;
    const json_t *sub = json_object_get(claims, "sub");
    if (sub != NULL) {
        if (!json_is_string(sub) || !printable_ascii(json_string_value(sub), TQ_JWT_MAX_PLATFORM_SUB))
            return TQ_JWT_BAD_SUB;
        strcpy(out->sub, json_string_value(sub));
    }
    out->exp = times.exp;
    return TQ_JWT_OK;
}

typedef tq_jwt_status (*claims_check)(const tq_jwt_verifier *v, const json_t *claims, int64_t now, void *out);

/* The steps every token goes through, cheapest first; check reads the claims into out. */
static tq_jwt_status verify_token(const tq_jwt_verifier *v, const char *token, size_t len, int64_t now,
                                  claims_check check, void *out)
{
    if (len > v->max_token_len)
        return TQ_JWT_TOO_LONG;

    jws_parts p;
    const jwt_key *key = NULL;
    if (len == 0 || !split_token(token, len, &p))
        return TQ_JWT_MALFORMED;
    tq_jwt_status st = check_header(v, &p, &key);
    if (st != TQ_JWT_OK)
        return st;

    json_t *claims = NULL;
    st = read_payload(&p, &claims);
    if (st == TQ_JWT_OK)
        st = check_signature(key, token, &p);
    if (st == TQ_JWT_OK)
        st = check(v, claims, now, out);
    json_decref(claims);
    return st;
}

tq_jwt_status tq_jwt_verify(const tq_jwt_verifier *v, const char *token, size_t len, int64_t now,
                            tq_jwt_claims *out)
{
    memset(out, 0, sizeof(*out)); /* absent optional claims read as zero */
    tq_jwt_status st = verify_token(v, token, len, now, check_claims, out);
    if (st != TQ_JWT_OK) /* a refused token must not leave claims a caller could act on */
        memset(out, 0, sizeof(*out));
    return st;
}

tq_jwt_status tq_jwt_verify_platform(const tq_jwt_verifier *v, const char *token, size_t len, int64_t now,
                                     tq_jwt_platform_claims *out)
{
    memset(out, 0, sizeof(*out));
    tq_jwt_status st = verify_token(v, token, len, now, check_platform_claims, out);
    if (st != TQ_JWT_OK)
        memset(out, 0, sizeof(*out));
    return st;
}

/* ---- signing ---- */

bool tq_jwt_can_sign(const tq_jwt_verifier *v)
{
    return v->signer != NULL;
}

/* The claims every token this server issues starts with: iss and aud where configured.
 * NULL when out of memory. */
static json_t *claims_base(const tq_jwt_verifier *v)
{
    json_t *o = json_object();
    int rc = o == NULL;
    if (!rc && v->issuer != NULL)
        rc |= json_object_set_new(o, "iss", json_string(v->issuer));
    if (!rc && v->audience != NULL)
        rc |= json_object_set_new(o, "aud", json_string(v->audience));
    if (rc && o != NULL) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *claims_json(const tq_jwt_verifier *v, const tq_jwt_claims *c)
{
    char tenant[TQ_UUID_TEXT_SIZE], sub[TQ_UUID_TEXT_SIZE], jti[TQ_UUID_TEXT_SIZE];
    if (!tq_uuid_canonicalize(c->tenant_id, strnlen(c->tenant_id, sizeof(c->tenant_id)), tenant))
        return NULL;
    if (c->has_sub && !tq_uuid_canonicalize(c->sub, strnlen(c->sub, sizeof(c->sub)), sub))
        return NULL;
    if (c->has_jti && !tq_uuid_canonicalize(c->jti, strnlen(c->jti, sizeof(c->jti)), jti))
        return NULL;

    json_t *o = claims_base(v);
    int rc = o == NULL;
    if (!rc && c->has_sub)
        rc |= json_object_set_new(o, "sub", json_string(sub));
    if (!rc)
        rc |= json_object_set_new(o, "tenantId", json_string(tenant));
    if (!rc && c->has_jti)
        rc |= json_object_set_new(o, "jti", json_string(jti));
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

static char *header_text(const jwt_key *k)
{
    json_t *h = json_pack("{s:s, s:s}", "alg", tq_jwt_alg_name(k->alg), "typ", "JWT");
    if (h != NULL && k->kid != NULL && json_object_set_new(h, "kid", json_string(k->kid)) != 0) {
        json_decref(h);
        return NULL;
    }
    char *text = h != NULL ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    return text;
}

/* b64(header) "." b64(payload) "." b64(signature) */
static char *assemble(const jwt_key *k, const char *header, const char *payload)
{
    size_t hl = strlen(header), pl = strlen(payload);
    size_t signed_len = tq_base64url_encoded_len(hl) + 1 + tq_base64url_encoded_len(pl);
    char *token = malloc(signed_len + 1 + tq_base64url_encoded_len(k->sig_len) + 1);
    if (token == NULL)
        return NULL;
    size_t n = tq_base64url_encode(header, hl, token);
    token[n++] = '.';
    n += tq_base64url_encode(payload, pl, token + n);
    uint8_t sig[JWT_MAX_SIG_LEN];
    if (!jwt_key_sign(k, token, n, sig)) {
        free(token);
        return NULL;
    }
    token[n++] = '.';
    n += tq_base64url_encode(sig, k->sig_len, token + n);
    token[n] = '\0';
    return token;
}

static char *sign_json(const tq_jwt_verifier *v, json_t *o);

char *tq_jwt_sign(const tq_jwt_verifier *v, const tq_jwt_claims *claims)
{
    if (v->signer == NULL) {
        tq_log_warn("auth", "cannot issue a token: no signing key (%s)", v->no_signer);
        return NULL;
    }
    return sign_json(v, claims_json(v, claims));
}

/* Signs the claims object o (taking it; NULL: out of memory) with the signing key. */
static char *sign_json(const tq_jwt_verifier *v, json_t *o)
{
    char *payload = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    char *header = payload != NULL ? header_text(v->signer) : NULL;
    char *token = header != NULL ? assemble(v->signer, header, payload) : NULL;
    free(header);
    free(payload);
    return token;
}

/* A fresh random token id (a version 4 uuid). */
static bool random_jti(char out[TQ_UUID_TEXT_SIZE])
{
    uint8_t id[16];
    if (RAND_bytes(id, sizeof(id)) != 1)
        return false;
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* RFC 9562 version 4 */
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); /* and its variant */
    tq_uuid_format(id, out);
    return true;
}

char *tq_jwt_issue_platform(const tq_jwt_verifier *v, const char *sub, int64_t now, int64_t ttl, char *err,
                            size_t errlen)
{
    char jti[TQ_UUID_TEXT_SIZE];
    if (!tq_jwt_can_sign(v)) {
        snprintf(err, errlen, "no signing key: RS256/ES256 need --jwt-private-key (or signing_kid in --jwt-keys)");
        return NULL;
    }
    if (sub != NULL && (sub[0] == '\0' || !printable_ascii(sub, TQ_JWT_MAX_PLATFORM_SUB))) {
        snprintf(err, errlen, "--sub must be 1 to %d printable ASCII characters", TQ_JWT_MAX_PLATFORM_SUB);
        return NULL;
    }
    if (ttl <= 0 || ttl > INT64_MAX - now) {
        snprintf(err, errlen, "the lifetime must be a positive number of seconds");
        return NULL;
    }
    if (!random_jti(jti)) {
        snprintf(err, errlen, "no random bytes for the token id");
        return NULL;
    }
    json_t *o = claims_base(v);
    int rc = o == NULL;
    if (!rc && sub != NULL)
        rc |= json_object_set_new(o, "sub", json_string(sub));
    if (!rc)
        rc |= json_object_set_new(o, "scope", json_string(TQ_JWT_PLATFORM_SCOPE));
    if (!rc)
        rc |= json_object_set_new(o, "jti", json_string(jti));
    if (!rc)
        rc |= json_object_set_new(o, "iat", json_integer(now));
    if (!rc)
        rc |= json_object_set_new(o, "exp", json_integer(now + ttl));
    if (rc) {
        json_decref(o);
        o = NULL;
    }
    char *token = o != NULL ? sign_json(v, o) : NULL;
    if (token == NULL)
        snprintf(err, errlen, "signing failed");
    return token;
}

char *tq_jwt_issue(const tq_jwt_verifier *v, const char *tenant_id, const char *sub, int64_t now, int64_t ttl,
                   char *err, size_t errlen)
{
    if (!tq_jwt_can_sign(v)) {
        snprintf(err, errlen, "no signing key: RS256/ES256 need --jwt-private-key (or signing_kid in --jwt-keys)");
        return NULL;
    }
    tq_jwt_claims claims;
    memset(&claims, 0, sizeof(claims));
    if (!tq_uuid_canonicalize(tenant_id, strlen(tenant_id), claims.tenant_id)) {
        snprintf(err, errlen, "the tenant id must be a uuid");
        return NULL;
    }
    if (sub != NULL && !tq_uuid_canonicalize(sub, strlen(sub), claims.sub)) {
        snprintf(err, errlen, "--sub must be a user id (uuid)");
        return NULL;
    }
    if (ttl <= 0 || ttl > INT64_MAX - now) {
        snprintf(err, errlen, "the lifetime must be a positive number of seconds");
        return NULL;
    }
    if (!random_jti(claims.jti)) {
        snprintf(err, errlen, "no random bytes for the token id");
        return NULL;
    }
    claims.has_jti = true;
    claims.has_sub = sub != NULL;
    claims.has_iat = true;
    claims.iat = now;
    claims.exp = now + ttl;
    char *token = tq_jwt_sign(v, &claims);
    if (token == NULL)
        snprintf(err, errlen, "signing failed");
    return token;
}
