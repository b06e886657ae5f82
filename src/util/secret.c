/*
 * secret.c - sealed and referenced passwords (see secret.h). The sealed form carries the
 * id of its key so that a ring of several keys opens rows sealed by any of them, which is
 * what lets a key be rotated while servers keep serving. Every buffer that held a plain
 * password or a key is zeroed before it is freed.
 */
#include "tenantql/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REF_ENV "env:"
#define REF_FILE "file:"
#define ENV_NAME_MAX 128
/* what the key id hashes: the key is the hash's key, so the id says nothing of it */
#define KEY_ID_CONTEXT "tenantql secretbox key id v1"

struct tq_secret_ring {
    size_t n;
    unsigned char keys[TQ_SECRET_MAX_KEYS][TQ_SECRET_KEY_BYTES];
    char ids[TQ_SECRET_MAX_KEYS][TQ_SECRET_KEY_ID_LEN + 1];
};

/* The process's ring (tq_secret_install_ring): set at start-up, read-only afterwards. */
static tq_secret_ring *process_ring;

/* ---- rings ---- */

static void key_id(const unsigned char key[TQ_SECRET_KEY_BYTES], char out[TQ_SECRET_KEY_ID_LEN + 1])
{
    unsigned char h[16];
    crypto_generichash(h, sizeof(h), (const unsigned char *)KEY_ID_CONTEXT, strlen(KEY_ID_CONTEXT), key,
                       TQ_SECRET_KEY_BYTES);
    sodium_bin2hex(out, TQ_SECRET_KEY_ID_LEN + 1, h, TQ_SECRET_KEY_ID_LEN / 2);
}

/* One key's text (64 hex digits or base64 of 32 bytes) into key: 0, or -1. */
static int decode_key(const char *text, size_t len, unsigned char key[TQ_SECRET_KEY_BYTES])
{
    size_t got = 0;
    const char *end;
    if (len == 2 * TQ_SECRET_KEY_BYTES && sodium_hex2bin(key, TQ_SECRET_KEY_BYTES, text, len, NULL, &got, &end) == 0 &&
        got == TQ_SECRET_KEY_BYTES && end == text + len)
        return 0;
    if (sodium_base642bin(key, TQ_SECRET_KEY_BYTES, text, len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) == 0 &&
        got == TQ_SECRET_KEY_BYTES && end == text + len)
        return 0;
    sodium_memzero(key, TQ_SECRET_KEY_BYTES);
    return -1;
}

static bool separator(char c)
{
    return c == '\n' || c == '\r' || c == ',' || c == ' ' || c == '\t';
}

/* Adds the key text[0..len) to r: 0, or -1 with err filled (the key is never quoted). */
static int add_key(tq_secret_ring *r, const char *text, size_t len, char *err, size_t errlen)
{
    if (r->n == TQ_SECRET_MAX_KEYS) {
        snprintf(err, errlen, "the key ring holds more than %d keys", TQ_SECRET_MAX_KEYS);
        return -1;
    }
    if (decode_key(text, len, r->keys[r->n]) != 0) {
        snprintf(err, errlen, "key %zu of the key ring is neither 64 hex digits nor base64 of %d bytes", r->n + 1,
                 TQ_SECRET_KEY_BYTES);
        return -1;
    }
    key_id(r->keys[r->n], r->ids[r->n]);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->ids[i], r->ids[r->n]) == 0) {
            snprintf(err, errlen, "keys %zu and %zu of the key ring have the same id %s (the same key twice?)", i + 1,
                     r->n + 1, r->ids[i]);
            return -1;
        }
    r->n++;
    return 0;
}

tq_secret_ring *tq_secret_ring_parse(const char *text, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    if (strlen(text) > TQ_SECRET_MAX_RING_BYTES) {
        snprintf(err, errlen, "the key ring is longer than %d bytes", TQ_SECRET_MAX_RING_BYTES);
        return NULL;
    }
    tq_secret_ring *r = sodium_malloc(sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->n = 0;
    const char *p = text;
    while (*p != '\0') {
        if (separator(*p)) {
            p++;
        } else if (*p == '#') {
            p += strcspn(p, "\n");
        } else {
            size_t len = strcspn(p, "\n\r, \t#");
            if (add_key(r, p, len, err, errlen) != 0) {
                tq_secret_ring_free(r);
                return NULL;
            }
            p += len;
        }
    }
    if (r->n == 0) {
        snprintf(err, errlen, "the key ring holds no key");
        tq_secret_ring_free(r);
        return NULL;
    }
    return r;
}

/* A regular file's contents, at most max bytes, NUL-terminated and malloc'ed (zero it
 * after use: it may be a secret); NULL with err filled naming what. */
static char *read_bounded(const char *path, size_t max, const char *what, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s %s is not a regular file", what, path);
        close(fd);
        return NULL;
    }
    char *buf = malloc(max + 2);
    size_t n = 0;
    ssize_t got = 1;
    /* one byte more than allowed tells a file that is too large */
    while (buf != NULL && n <= max && (got = read(fd, buf + n, max + 1 - n)) > 0)
        n += (size_t)got;
    close(fd);
    if (buf == NULL || got < 0 || n > max) {
        if (buf == NULL)
            snprintf(err, errlen, "out of memory");
        else if (got < 0)
            snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
        else
            snprintf(err, errlen, "%s %s is larger than %zu bytes", what, path, max);
        if (buf != NULL)
            sodium_memzero(buf, max + 2);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

tq_secret_ring *tq_secret_ring_load(const char *path, char *err, size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    if (path != NULL && *path != '\0') {
        char *text = read_bounded(path, TQ_SECRET_MAX_RING_BYTES, "key file", err, errlen);
        if (text == NULL)
            return NULL;
        char why[256];
        tq_secret_ring *r = tq_secret_ring_parse(text, why, sizeof(why));
        if (r == NULL)
            snprintf(err, errlen, "key file %s: %s", path, why);
        sodium_memzero(text, strlen(text));
        free(text);
        return r;
    }
    const char *env = getenv(TQ_SECRET_KEY_ENV);
    if (env == NULL || *env == '\0')
        return NULL;
    char why[256];
    tq_secret_ring *r = tq_secret_ring_parse(env, why, sizeof(why));
    if (r == NULL)
        snprintf(err, errlen, "%s: %s", TQ_SECRET_KEY_ENV, why);
    return r;
}

void tq_secret_ring_free(tq_secret_ring *r)
{
    if (r != NULL)
        sodium_free(r); /* zeroes it */
}

size_t tq_secret_ring_count(const tq_secret_ring *r)
{
    return r != NULL ? r->n : 0;
}

const char *tq_secret_ring_key_id(const tq_secret_ring *r, size_t i)
{
    return r != NULL && i < r->n ? r->ids[i] : NULL;
}

void tq_secret_install_ring(tq_secret_ring *r)
{
    tq_secret_ring *old = process_ring;
    process_ring = r;
    tq_secret_ring_free(old);
}

const tq_secret_ring *tq_secret_process_ring(void)
{
    return process_ring;
}

int tq_secret_install_from(const char *path, char *err, size_t errlen)
{
    tq_secret_ring *r = tq_secret_ring_load(path, err, errlen);
    if (r == NULL && errlen > 0 && err[0] != '\0')
        return -1;
    tq_secret_install_ring(r);
    return 0;
}

/* ---- forms ---- */

tq_secret_kind tq_secret_kind_of(const char *stored)
{
    if (strncmp(stored, TQ_SECRET_SEALED_PREFIX, strlen(TQ_SECRET_SEALED_PREFIX)) == 0)
        return TQ_SECRET_SEALED;
    if (strncmp(stored, REF_ENV, strlen(REF_ENV)) == 0 || strncmp(stored, REF_FILE, strlen(REF_FILE)) == 0)
        return TQ_SECRET_REF;
    return TQ_SECRET_PLAIN;
}

/* A malloc'ed copy of n bytes of s and a NUL; NULL with err when out of memory. */
static char *copy_n(const char *s, size_t n, char *err, size_t errlen)
{
    char *c = malloc(n + 1);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

char *tq_secret_seal(const tq_secret_ring *r, const char *plain, char *err, size_t errlen)
{
    if (r == NULL || r->n == 0) {
        snprintf(err, errlen, "no key ring to seal with (--secrets-key-file or " TQ_SECRET_KEY_ENV ")");
        return NULL;
    }
    size_t len = strlen(plain);
    if (len > TQ_SECRET_MAX_BYTES) {
        snprintf(err, errlen, "the password is longer than %d bytes", TQ_SECRET_MAX_BYTES);
        return NULL;
    }
    size_t boxlen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    unsigned char *box = malloc(boxlen);
    size_t b64len = sodium_base64_ENCODED_LEN(boxlen, sodium_base64_VARIANT_ORIGINAL);
    size_t outlen = strlen(TQ_SECRET_SEALED_PREFIX) + TQ_SECRET_KEY_ID_LEN + 1 + b64len;
    char *out = malloc(outlen);
    if (box == NULL || out == NULL) {
        free(box);
        free(out);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, len, box, r->keys[0]);
    int off = snprintf(out, outlen, "%s%s:", TQ_SECRET_SEALED_PREFIX, r->ids[0]);
    sodium_bin2base64(out + off, outlen - (size_t)off, box, boxlen, sodium_base64_VARIANT_ORIGINAL);
    free(box);
    return out;
}

/* The key of id (8 hex digits) in r, or NULL. */
static const unsigned char *find_key(const tq_secret_ring *r, const char *id)
{
    for (size_t i = 0; r != NULL && i < r->n; i++)
        if (strncmp(r->ids[i], id, TQ_SECRET_KEY_ID_LEN) == 0)
            return r->keys[i];
    return NULL;
}

char *tq_secret_open(const tq_secret_ring *r, const char *sealed, char *err, size_t errlen)
{
    size_t plen = strlen(TQ_SECRET_SEALED_PREFIX), len = strlen(sealed);
    const char *id = sealed + plen, *b64 = id + TQ_SECRET_KEY_ID_LEN + 1;
    size_t b64len = len - plen - TQ_SECRET_KEY_ID_LEN - 1;
    if (strncmp(sealed, TQ_SECRET_SEALED_PREFIX, plen) != 0 || len < plen + TQ_SECRET_KEY_ID_LEN + 1 ||
        id[TQ_SECRET_KEY_ID_LEN] != ':' || b64len > 2 * TQ_SECRET_MAX_BYTES) {
        snprintf(err, errlen, "malformed sealed password (not " TQ_SECRET_SEALED_PREFIX "KEYID:BASE64)");
        return NULL;
    }
    char idtext[TQ_SECRET_KEY_ID_LEN + 1];
    snprintf(idtext, sizeof(idtext), "%.*s", TQ_SECRET_KEY_ID_LEN, id);
    const unsigned char *key = find_key(r, idtext);
    if (key == NULL) {
        snprintf(err, errlen, "the password is sealed with key %s, which the key ring does not hold%s", idtext,
                 r == NULL ? " (no key ring: --secrets-key-file or " TQ_SECRET_KEY_ENV ")" : "");
        return NULL;
    }
    size_t cap = b64len, boxlen = 0;
    unsigned char *box = malloc(cap + 1);
    const char *end;
    if (box == NULL ||
        sodium_base642bin(box, cap, b64, b64len, NULL, &boxlen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + b64len || boxlen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        free(box);
        snprintf(err, errlen, "malformed sealed password (its base64 of key %s does not decode to a box)", idtext);
        return NULL;
    }
    size_t mlen = boxlen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *plain = malloc(mlen + 1);
    if (plain == NULL || crypto_secretbox_open_easy((unsigned char *)plain, box + crypto_secretbox_NONCEBYTES,
                                                    boxlen - crypto_secretbox_NONCEBYTES, box, key) != 0) {
        free(box);
        if (plain != NULL)
            sodium_memzero(plain, mlen + 1);
        free(plain);
        snprintf(err, errlen, "the sealed password does not open with key %s (altered, or sealed by another key)",
                 idtext);
        return NULL;
    }
    free(box);
    plain[mlen] = '\0';
    if (strlen(plain) != mlen) {
        sodium_memzero(plain, mlen);
        free(plain);
        snprintf(err, errlen, "the sealed password holds a NUL byte");
        return NULL;
    }
    return plain;
}

static bool env_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ENV_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return false;
    return true;
}

char *tq_secret_resolve(const char *ref, char *err, size_t errlen)
{
    if (strncmp(ref, REF_ENV, strlen(REF_ENV)) == 0) {
        const char *name = ref + strlen(REF_ENV);
        if (!env_name_valid(name)) {
            snprintf(err, errlen, "env: names no valid variable (letters, digits and _, at most %d)", ENV_NAME_MAX);
            return NULL;
        }
        const char *v = getenv(name);
        if (v == NULL) {
            snprintf(err, errlen, "the password's variable %s is not set", name);
            return NULL;
        }
        if (strlen(v) > TQ_SECRET_MAX_BYTES) {
            snprintf(err, errlen, "the password's variable %s is longer than %d bytes", name, TQ_SECRET_MAX_BYTES);
            return NULL;
        }
        return copy_n(v, strlen(v), err, errlen);
    }
    if (strncmp(ref, REF_FILE, strlen(REF_FILE)) == 0) {
        const char *path = ref + strlen(REF_FILE);
        if (path[0] != '/' || strlen(path) > 4096) {
            snprintf(err, errlen, "file: needs an absolute path");
            return NULL;
        }
        char *text = read_bounded(path, TQ_SECRET_MAX_BYTES, "the password's file", err, errlen);
        if (text == NULL)
            return NULL;
        size_t n = strlen(text);
        if (n > 0 && text[n - 1] == '\n')
            text[--n] = '\0';
        if (n > 0 && text[n - 1] == '\r')
            text[--n] = '\0';
        return text;
    }
    snprintf(err, errlen, "not a reference (env:NAME or file:/PATH)");
    return NULL;
}

char *tq_secret_reveal_with(const tq_secret_ring *r, const char *stored, char *err, size_t errlen)
{
    switch (tq_secret_kind_of(stored)) {
    case TQ_SECRET_SEALED:
        return tq_secret_open(r, stored, err, errlen);
    case TQ_SECRET_REF:
        return tq_secret_resolve(stored, err, errlen);
    case TQ_SECRET_PLAIN:
    default:
        return copy_n(stored, strlen(stored), err, errlen);
    }
}

char *tq_secret_reveal(const char *stored, char *err, size_t errlen)
{
    return tq_secret_reveal_with(process_ring, stored, err, errlen);
}

char *tq_secret_store_with(const tq_secret_ring *r, const char *plain, bool *sealed, char *err, size_t errlen)
{
    *sealed = r != NULL;
    if (r != NULL)
        return tq_secret_seal(r, plain, err, errlen);
    if (tq_secret_kind_of(plain) != TQ_SECRET_PLAIN) {
        snprintf(err, errlen,
                 "a password starting with secretbox:, env: or file: cannot be stored in plain text (it would be read "
                 "as that form): configure a key ring to seal it");
        return NULL;
    }
    return copy_n(plain, strlen(plain), err, errlen);
}

char *tq_secret_store(const char *plain, bool *sealed, char *err, size_t errlen)
{
    return tq_secret_store_with(process_ring, plain, sealed, err, errlen);
}

char *tq_secret_reseal(const tq_secret_ring *r, const char *stored, char *err, size_t errlen)
{
    tq_secret_kind kind = tq_secret_kind_of(stored);
    if (kind == TQ_SECRET_REF)
        return copy_n(stored, strlen(stored), err, errlen);
    if (r == NULL) {
        snprintf(err, errlen, "no key ring to seal with (--secrets-key-file or " TQ_SECRET_KEY_ENV ")");
        return NULL;
    }
    size_t plen = strlen(TQ_SECRET_SEALED_PREFIX);
    if (kind == TQ_SECRET_SEALED && strncmp(stored + plen, r->ids[0], TQ_SECRET_KEY_ID_LEN) == 0 &&
        stored[plen + TQ_SECRET_KEY_ID_LEN] == ':') {
        /* already the first key's: checked to open, then kept as it is */
        char *plain = tq_secret_open(r, stored, err, errlen);
        if (plain == NULL)
            return NULL;
        tq_secret_free(plain);
        return copy_n(stored, strlen(stored), err, errlen);
    }
    char *plain = kind == TQ_SECRET_SEALED ? tq_secret_open(r, stored, err, errlen)
                                           : copy_n(stored, strlen(stored), err, errlen);
    if (plain == NULL)
        return NULL;
    char *out = tq_secret_seal(r, plain, err, errlen);
    tq_secret_free(plain);
    return out;
}

void tq_secret_scrub_error(char *err)
{
    if (err != NULL)
        err[strcspn(err, "\n")] = '\0';
}

void tq_secret_free(char *s)
{
    if (s == NULL)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}
