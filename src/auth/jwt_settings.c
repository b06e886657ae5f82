/*
 * jwt_settings.c - from token options to a verifier (see jwt_settings.h). Everything
 * here runs once at start-up; the checks that need the key material itself (key type,
 * size, curve, private key matching public key, duplicate kid) are tq_jwt_verifier_new's,
 * and their messages are prefixed here with the option or file they came from.
 */
#include "tenantql/jwt_settings.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* File contents read for one load; private keys are wiped before they are freed. */
typedef struct loaded_file {
    char *data;
    size_t len;
} loaded_file;

typedef struct key_set {
    tq_jwt_key keys[TQ_JWT_MAX_KEYS];
    loaded_file files[2 * TQ_JWT_MAX_KEYS];
    size_t nkeys, nfiles;
} key_set;

void tq_jwt_settings_init(tq_jwt_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->issuer = TQ_JWT_DEFAULT_ISSUER;
    s->leeway = TQ_JWT_DEFAULT_LEEWAY;
}

static void key_set_clear(key_set *ks)
{
    for (size_t i = 0; i < ks->nfiles; i++) {
        OPENSSL_cleanse(ks->files[i].data, ks->files[i].len);
        free(ks->files[i].data);
    }
    ks->nfiles = 0;
}

/* Reads a whole file of at most max bytes, NUL-terminated; what names it in messages. */
static char *read_file(const char *path, size_t max, size_t *len, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s %s: cannot open: %s", what, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    bool bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad || n > max) {
        snprintf(err, errlen, "%s %s: %s", what, path, bad ? "cannot read it" : "too large for a key file");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Reads a PEM file into the key set's file list; returns its text or NULL. */
static const char *load_pem(key_set *ks, const char *path, size_t *len, const char *what, char *err, size_t errlen)
{
    char *data = read_file(path, TQ_JWT_MAX_KEY_FILE, len, what, err, errlen);
    if (data == NULL)
        return NULL;
    ks->files[ks->nfiles++] = (loaded_file){data, *len};
    return data;
}

static tq_jwt_verifier *build(const tq_jwt_settings *s, const key_set *ks, const char *signing_kid,
                              const char *source, char *err, size_t errlen)
{
    tq_jwt_config jc;
    tq_jwt_config_init(&jc);
    jc.keys = ks->keys;
    jc.nkeys = ks->nkeys;
    jc.signing_kid = signing_kid;
    jc.issuer = s->issuer != NULL ? s->issuer : TQ_JWT_DEFAULT_ISSUER;
    jc.audience = s->audience;
    jc.leeway = s->leeway;
    char why[384];
    tq_jwt_verifier *v = tq_jwt_verifier_new(&jc, why, sizeof(why));
    if (v == NULL)
        snprintf(err, errlen, "%s: %s", source, why);
    return v;
}

/* ---- simple flags ---- */

static tq_jwt_verifier *load_flags(const tq_jwt_settings *s, char *err, size_t errlen)
{
    tq_jwt_alg alg = TQ_JWT_HS256;
    if (s->alg != NULL && !tq_jwt_alg_parse(s->alg, &alg)) {
        snprintf(err, errlen, "--jwt-alg (TENANTQL_JWT_ALG) must be HS256, RS256 or ES256, not \"%s\"", s->alg);
        return NULL;
    }
    key_set ks = {.nkeys = 1};
    tq_jwt_key *k = &ks.keys[0];
    k->alg = alg;
    if (alg == TQ_JWT_HS256) {
        if (s->public_key_file != NULL || s->private_key_file != NULL) {
            snprintf(err, errlen, "--jwt-public-key and --jwt-private-key need --jwt-alg RS256 or ES256");
            return NULL;
        }
        if (s->secret == NULL) {
            snprintf(err, errlen, "no token key: give --jwt-secret (TENANTQL_JWT_SECRET), --jwt-alg RS256|ES256 "
                                  "with --jwt-public-key FILE, or --jwt-keys FILE");
            return NULL;
        }
        if (strlen(s->secret) < TQ_JWT_MIN_HS256_SECRET) {
            snprintf(err, errlen, "--jwt-secret (TENANTQL_JWT_SECRET) must be at least %d bytes",
                     TQ_JWT_MIN_HS256_SECRET);
            return NULL;
        }
        k->secret = (const unsigned char *)s->secret;
        k->secret_len = strlen(s->secret);
        return build(s, &ks, NULL, "--jwt-secret", err, errlen);
    }
    if (s->secret != NULL) {
        snprintf(err, errlen, "--jwt-secret is an HS256 key; with --jwt-alg %s give --jwt-public-key FILE "
                              "(and --jwt-private-key FILE to issue tokens)", s->alg);
        return NULL;
    }
    if (s->public_key_file == NULL) {
        snprintf(err, errlen, "--jwt-alg %s needs --jwt-public-key FILE (TENANTQL_JWT_PUBLIC_KEY)", s->alg);
        return NULL;
    }
    tq_jwt_verifier *v = NULL;
    char source[512];
    snprintf(source, sizeof(source), "--jwt-public-key %s%s%s", s->public_key_file,
             s->private_key_file ? " with --jwt-private-key " : "", s->private_key_file ? s->private_key_file : "");
    if ((k->public_pem = load_pem(&ks, s->public_key_file, &k->public_pem_len, "--jwt-public-key", err, errlen)) !=
            NULL &&
        (s->private_key_file == NULL || (k->private_pem = load_pem(&ks, s->private_key_file, &k->private_pem_len,
                                                                   "--jwt-private-key", err, errlen)) != NULL))
        v = build(s, &ks, NULL, source, err, errlen);
    key_set_clear(&ks);
    return v;
}

/* ---- the JSON key set ---- */

/* path as written, or relative to the key set's directory */
static char *resolve(const char *keys_file, const char *path)
{
    const char *slash = strrchr(keys_file, '/');
    if (path[0] == '/' || slash == NULL)
        return strdup(path);
    size_t dl = (size_t)(slash - keys_file) + 1, pl = strlen(path);
    char *out = malloc(dl + pl + 1);
    if (out != NULL) {
        memcpy(out, keys_file, dl);
        memcpy(out + dl, path, pl + 1);
    }
    return out;
}

static bool only_members(const json_t *o, const char *const *allowed, char *bad, size_t badlen)
{
    const char *name;
    const json_t *val;
    json_object_foreach((json_t *)o, name, val) {
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL; a++)
            ok |= strcmp(name, *a) == 0;
        if (!ok) {
            snprintf(bad, badlen, "%s", name);
            return false;
        }
    }
    return true;
}

static int key_file(key_set *ks, const char *keys_file, const json_t *name, const char *what, const char **pem,
                    size_t *len, char *err, size_t errlen)
{
    if (!json_is_string(name) || json_string_length(name) == 0) {
        snprintf(err, errlen, "%s must be a file name", what);
        return -1;
    }
    char *path = resolve(keys_file, json_string_value(name));
    if (path == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *pem = load_pem(ks, path, len, what, err, errlen);
    free(path);
    return *pem != NULL ? 0 : -1;
}

/* One entry of "keys"; err says what is wrong with it (the caller names the entry). */
static int key_entry(key_set *ks, const char *keys_file, const json_t *e, char *err, size_t errlen)
{
    static const char *const members[] = {"kid", "alg", "secret", "public_key_file", "private_key_file", NULL};
    char bad[64];
    if (!json_is_object(e)) {
        snprintf(err, errlen, "must be an object");
        return -1;
    }
    if (!only_members(e, members, bad, sizeof(bad))) {
        snprintf(err, errlen, "unknown member \"%s\" (known: kid, alg, secret, public_key_file, private_key_file)",
                 bad);
        return -1;
    }
    tq_jwt_key *k = &ks->keys[ks->nkeys];
    const json_t *kid = json_object_get(e, "kid"), *alg = json_object_get(e, "alg"),
                 *secret = json_object_get(e, "secret"), *pub = json_object_get(e, "public_key_file"),
                 *priv = json_object_get(e, "private_key_file");
    if (kid != NULL && !json_is_string(kid)) {
        snprintf(err, errlen, "kid must be a string");
        return -1;
    }
    k->kid = json_string_value(kid);
    if (!json_is_string(alg) || !tq_jwt_alg_parse(json_string_value(alg), &k->alg)) {
        snprintf(err, errlen, "alg must be \"HS256\", \"RS256\" or \"ES256\"");
        return -1;
    }
    if (k->alg == TQ_JWT_HS256) {
        if (pub != NULL || priv != NULL || !json_is_string(secret)) {
            snprintf(err, errlen, "an HS256 key has a \"secret\" (a string of at least 32 bytes) and no key files");
            return -1;
        }
        k->secret = (const unsigned char *)json_string_value(secret);
        k->secret_len = json_string_length(secret);
        return 0;
    }
    if (secret != NULL || pub == NULL) {
        snprintf(err, errlen, "an %s key has a \"public_key_file\" (and optionally a \"private_key_file\"), no secret",
                 json_string_value(alg));
        return -1;
    }
    if (key_file(ks, keys_file, pub, "public_key_file", &k->public_pem, &k->public_pem_len, err, errlen) != 0)
        return -1;
    if (priv != NULL &&
        key_file(ks, keys_file, priv, "private_key_file", &k->private_pem, &k->private_pem_len, err, errlen) != 0)
        return -1;
    return 0;
}

static int key_entries(key_set *ks, const char *path, const json_t *keys, char *err, size_t errlen)
{
    if (!json_is_array(keys) || json_array_size(keys) == 0 || json_array_size(keys) > TQ_JWT_MAX_KEYS) {
        snprintf(err, errlen, "--jwt-keys %s: \"keys\" must be an array of 1 to %d keys", path, TQ_JWT_MAX_KEYS);
        return -1;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(keys, i, e) {
        char why[384];
        if (key_entry(ks, path, e, why, sizeof(why)) != 0) {
            const json_t *kid = json_is_object(e) ? json_object_get(e, "kid") : NULL;
            snprintf(err, errlen, "--jwt-keys %s: keys[%zu]%s%s%s: %s", path, i, json_is_string(kid) ? " (kid \"" : "",
                     json_is_string(kid) ? json_string_value(kid) : "", json_is_string(kid) ? "\")" : "", why);
            return -1;
        }
        ks->nkeys++;
    }
    return 0;
}

static tq_jwt_verifier *load_keys_file(const tq_jwt_settings *s, char *err, size_t errlen)
{
    static const char *const members[] = {"keys", "signing_kid", NULL};
    if (s->secret != NULL || s->alg != NULL || s->public_key_file != NULL || s->private_key_file != NULL) {
        snprintf(err, errlen, "--jwt-keys replaces --jwt-secret, --jwt-alg, --jwt-public-key and --jwt-private-key "
                              "(and their TENANTQL_* variables): give one or the other");
        return NULL;
    }
    size_t len;
    char *text = read_file(s->keys_file, TQ_JWT_MAX_KEYS_FILE, &len, "--jwt-keys", err, errlen);
    if (text == NULL)
        return NULL;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    OPENSSL_cleanse(text, len); /* it may hold HS256 secrets */
    free(text);

    key_set *ks = calloc(1, sizeof(*ks));
    tq_jwt_verifier *v = NULL;
    char bad[64];
    const json_t *signing = json_object_get(root, "signing_kid");
    if (ks == NULL)
        snprintf(err, errlen, "out of memory");
    else if (root == NULL)
        /* not je.text: jansson quotes the text near the error, which may be a secret */
        snprintf(err, errlen, "--jwt-keys %s: not JSON (line %d, column %d)", s->keys_file, je.line, je.column);
    else if (!json_is_object(root))
        snprintf(err, errlen, "--jwt-keys %s: must be a JSON object {\"keys\": [...]}", s->keys_file);
    else if (!only_members(root, members, bad, sizeof(bad)))
        snprintf(err, errlen, "--jwt-keys %s: unknown member \"%s\" (known: keys, signing_kid)", s->keys_file, bad);
    else if (signing != NULL && !json_is_string(signing))
        snprintf(err, errlen, "--jwt-keys %s: signing_kid must be a string", s->keys_file);
    else if (key_entries(ks, s->keys_file, json_object_get(root, "keys"), err, errlen) == 0) {
        char source[512];
        snprintf(source, sizeof(source), "--jwt-keys %s", s->keys_file);
        v = build(s, ks, json_string_value(signing), source, err, errlen);
    }
    if (ks != NULL)
        key_set_clear(ks);
    free(ks);
    json_decref(root); /* jansson frees its copies of HS256 secrets without wiping them */
    return v;
}

tq_jwt_verifier *tq_jwt_settings_load(const tq_jwt_settings *s, char *err, size_t errlen)
{
    if (s->leeway < 0 || s->leeway > TQ_JWT_MAX_LEEWAY) {
        snprintf(err, errlen, "--jwt-leeway (TENANTQL_JWT_LEEWAY) must be between 0 and %d seconds",
                 TQ_JWT_MAX_LEEWAY);
        return NULL;
    }
    return s->keys_file != NULL ? load_keys_file(s, err, errlen) : load_flags(s, err, errlen);
}
