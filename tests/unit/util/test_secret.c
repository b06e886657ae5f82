/*
 * test_secret.c - util/secret.c: key rings (formats, ids, refusals), seal and open round
 * trips, a wrong key, a tampered box, references (env:, file:), size bounds, re-sealing
 * for rotation, and that no error message quotes a secret.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantql/secret.h"
#include "tq_test.h"

#define PASSWORD "Unit-Secret-Pw-7f3c!"

static char key_a_hex[65], key_b_b64[64];

static void make_keys(void)
{
    unsigned char a[32], b[32];
    randombytes_buf(a, sizeof(a));
    randombytes_buf(b, sizeof(b));
    sodium_bin2hex(key_a_hex, sizeof(key_a_hex), a, sizeof(a));
    sodium_bin2base64(key_b_b64, sizeof(key_b_b64), b, sizeof(b), sodium_base64_VARIANT_ORIGINAL);
}

static tq_secret_ring *ring_of(const char *text)
{
    char err[256];
    tq_secret_ring *r = tq_secret_ring_parse(text, err, sizeof(err));
    if (r == NULL)
        fprintf(stderr, "ring: %s\n", err);
    return r;
}

static void test_rings(void)
{
    char text[512], err[256];
    snprintf(text, sizeof(text), "# the ring\n%s\n\n  %s  # old key\n", key_a_hex, key_b_b64);
    tq_secret_ring *r = ring_of(text);
    CHECK(r != NULL && tq_secret_ring_count(r) == 2);
    const char *id0 = tq_secret_ring_key_id(r, 0);
    CHECK(id0 != NULL && strlen(id0) == TQ_SECRET_KEY_ID_LEN && strspn(id0, "0123456789abcdef") == 8);
    CHECK(strcmp(id0, tq_secret_ring_key_id(r, 1)) != 0);
    CHECK(tq_secret_ring_key_id(r, 2) == NULL);
    /* the id is the key's, wherever it stands and however written: commas separate too */
    snprintf(text, sizeof(text), "%s,%s", key_b_b64, key_a_hex);
    tq_secret_ring *swapped = ring_of(text);
    CHECK(swapped != NULL && strcmp(tq_secret_ring_key_id(swapped, 1), id0) == 0);
    tq_secret_ring_free(swapped);
    tq_secret_ring_free(r);

    CHECK(tq_secret_ring_parse("", err, sizeof(err)) == NULL && strstr(err, "no key") != NULL);
    CHECK(tq_secret_ring_parse("# nothing\n", err, sizeof(err)) == NULL);
    CHECK(tq_secret_ring_parse("not-a-key-at-all", err, sizeof(err)) == NULL && strstr(err, "key 1") != NULL);
    CHECK(strstr(err, "not-a-key") == NULL); /* never quoted */
    char short_hex[64];
    snprintf(short_hex, sizeof(short_hex), "%.62s", key_a_hex);
    CHECK(tq_secret_ring_parse(short_hex, err, sizeof(err)) == NULL);
    snprintf(text, sizeof(text), "%s %s", key_a_hex, key_a_hex);
    CHECK(tq_secret_ring_parse(text, err, sizeof(err)) == NULL && strstr(err, "same id") != NULL);
    /* at most TQ_SECRET_MAX_KEYS keys */
    char many[4096] = "";
    for (int i = 0; i <= TQ_SECRET_MAX_KEYS; i++) {
        unsigned char k[32];
        char hex[65];
        randombytes_buf(k, sizeof(k));
        sodium_bin2hex(hex, sizeof(hex), k, sizeof(k));
        strcat(many, hex);
        strcat(many, "\n");
    }
    CHECK(tq_secret_ring_parse(many, err, sizeof(err)) == NULL && strstr(err, "more than") != NULL);
}

static void test_seal_open(void)
{
    char err[256];
    tq_secret_ring *a = ring_of(key_a_hex), *b = ring_of(key_b_b64);
    char *sealed = tq_secret_seal(a, PASSWORD, err, sizeof(err));
    CHECK(sealed != NULL && strncmp(sealed, "secretbox:v1:", 13) == 0);
    CHECK(sealed != NULL && strncmp(sealed + 13, tq_secret_ring_key_id(a, 0), 8) == 0 && sealed[21] == ':');
    CHECK(strstr(sealed, PASSWORD) == NULL);
    CHECK(tq_secret_kind_of(sealed) == TQ_SECRET_SEALED);
    char *again = tq_secret_seal(a, PASSWORD, err, sizeof(err));
    CHECK(strcmp(again, sealed) != 0); /* a random nonce each time */
    char *plain = tq_secret_open(a, sealed, err, sizeof(err));
    CHECK_STR(plain, PASSWORD);
    tq_secret_free(plain);
    plain = tq_secret_reveal_with(a, again, err, sizeof(err));
    CHECK_STR(plain, PASSWORD);
    tq_secret_free(plain);
    /* the empty password seals too */
    char *empty = tq_secret_seal(a, "", err, sizeof(err));
    plain = tq_secret_open(a, empty, err, sizeof(err));
    CHECK_STR(plain, "");
    tq_secret_free(plain);
    tq_secret_free(empty);

    /* a ring without the key: refused, naming the key id only */
    CHECK(tq_secret_open(b, sealed, err, sizeof(err)) == NULL && strstr(err, tq_secret_ring_key_id(a, 0)) != NULL);
    CHECK(tq_secret_open(NULL, sealed, err, sizeof(err)) == NULL && strstr(err, "no key ring") != NULL);
    /* another key under the sealing key's id (forged id): the box does not open */
    char *forged = tq_secret_seal(b, PASSWORD, err, sizeof(err));
    memcpy(forged + 13, tq_secret_ring_key_id(a, 0), 8);
    CHECK(tq_secret_open(a, forged, err, sizeof(err)) == NULL && strstr(err, "does not open") != NULL);
    free(forged);
    /* one changed character of the box: refused */
    char *tampered = strdup(sealed);
    size_t at = strlen(tampered) - 6;
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    CHECK(tq_secret_open(a, tampered, err, sizeof(err)) == NULL);
    CHECK(strstr(err, PASSWORD) == NULL);
    free(tampered);
    /* malformed ones */
    CHECK(tq_secret_open(a, "secretbox:v1:", err, sizeof(err)) == NULL && strstr(err, "malformed") != NULL);
    CHECK(tq_secret_open(a, "secretbox:v1:0011223344", err, sizeof(err)) == NULL);
    char bad[128];
    snprintf(bad, sizeof(bad), "secretbox:v1:%s:!!!notbase64", tq_secret_ring_key_id(a, 0));
    CHECK(tq_secret_open(a, bad, err, sizeof(err)) == NULL && strstr(err, "malformed") != NULL);
    snprintf(bad, sizeof(bad), "secretbox:v1:%s:AAAA", tq_secret_ring_key_id(a, 0));
    CHECK(tq_secret_open(a, bad, err, sizeof(err)) == NULL);
    /* the size bound */
    char *big = malloc(TQ_SECRET_MAX_BYTES + 2);
    memset(big, 'x', TQ_SECRET_MAX_BYTES + 1);
    big[TQ_SECRET_MAX_BYTES + 1] = '\0';
    CHECK(tq_secret_seal(a, big, err, sizeof(err)) == NULL && strstr(err, "longer") != NULL);
    big[TQ_SECRET_MAX_BYTES] = '\0';
    char *max = tq_secret_seal(a, big, err, sizeof(err));
    plain = max ? tq_secret_open(a, max, err, sizeof(err)) : NULL;
    CHECK(plain != NULL && strlen(plain) == TQ_SECRET_MAX_BYTES);
    tq_secret_free(plain);
    free(max);
    free(big);
    free(again);
    free(sealed);
    tq_secret_ring_free(a);
    tq_secret_ring_free(b);
}

static void test_references(void)
{
    char err[512];
    setenv("TQ_UNIT_SECRET_PW", PASSWORD, 1);
    char *v = tq_secret_reveal_with(NULL, "env:TQ_UNIT_SECRET_PW", err, sizeof(err));
    CHECK_STR(v, PASSWORD);
    tq_secret_free(v);
    CHECK(tq_secret_reveal_with(NULL, "env:TQ_UNIT_SECRET_UNSET", err, sizeof(err)) == NULL &&
          strstr(err, "TQ_UNIT_SECRET_UNSET") != NULL);
    CHECK(tq_secret_resolve("env:BAD-NAME", err, sizeof(err)) == NULL);
    CHECK(tq_secret_resolve("env:", err, sizeof(err)) == NULL);

    char path[] = "/tmp/tq_unit_secret_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, PASSWORD "\n", strlen(PASSWORD) + 1) == (ssize_t)strlen(PASSWORD) + 1);
    close(fd);
    char ref[128];
    snprintf(ref, sizeof(ref), "file:%s", path);
    CHECK(tq_secret_kind_of(ref) == TQ_SECRET_REF);
    v = tq_secret_reveal_with(NULL, ref, err, sizeof(err));
    CHECK_STR(v, PASSWORD); /* the trailing newline dropped */
    tq_secret_free(v);
    CHECK(tq_secret_resolve("file:relative/path", err, sizeof(err)) == NULL && strstr(err, "absolute") != NULL);
    CHECK(tq_secret_resolve("file:/nonexistent/tq-secret", err, sizeof(err)) == NULL);
    CHECK(tq_secret_resolve("file:/tmp", err, sizeof(err)) == NULL && strstr(err, "regular") != NULL);
    /* a file larger than the bound is refused, without its contents in the message */
    FILE *f = fopen(path, "w");
    for (int i = 0; i <= TQ_SECRET_MAX_BYTES / 8; i++)
        fputs("Zq9-Zq9-", f);
    fclose(f);
    CHECK(tq_secret_resolve(ref, err, sizeof(err)) == NULL && strstr(err, "larger") != NULL);
    CHECK(strstr(err, "Zq9") == NULL);
    /* a variable larger than the bound */
    char *big = malloc(TQ_SECRET_MAX_BYTES + 2);
    memset(big, 'y', TQ_SECRET_MAX_BYTES + 1);
    big[TQ_SECRET_MAX_BYTES + 1] = '\0';
    setenv("TQ_UNIT_SECRET_BIG", big, 1);
    CHECK(tq_secret_resolve("env:TQ_UNIT_SECRET_BIG", err, sizeof(err)) == NULL && strstr(err, "longer") != NULL);
    free(big);
    unlink(path);
}

static void test_store_reseal(void)
{
    char err[256];
    bool sealed;
    /* without a ring: plain text, unless it would read as another form */
    char *s = tq_secret_store_with(NULL, PASSWORD, &sealed, err, sizeof(err));
    CHECK_STR(s, PASSWORD);
    CHECK(!sealed);
    tq_secret_free(s);
    CHECK(tq_secret_store_with(NULL, "env:HOME", &sealed, err, sizeof(err)) == NULL);
    CHECK(tq_secret_kind_of("plain-password") == TQ_SECRET_PLAIN);

    char text[256];
    snprintf(text, sizeof(text), "%s\n%s", key_b_b64, key_a_hex); /* new key b first, old key a */
    tq_secret_ring *a = ring_of(key_a_hex), *ab = ring_of(text);
    s = tq_secret_store_with(a, PASSWORD, &sealed, err, sizeof(err));
    CHECK(sealed && tq_secret_kind_of(s) == TQ_SECRET_SEALED);
    /* rotation: sealed with a -> sealed with b; plain -> sealed; references stay */
    char *r = tq_secret_reseal(ab, s, err, sizeof(err));
    CHECK(r != NULL && strncmp(r + 13, tq_secret_ring_key_id(ab, 0), 8) == 0);
    char *plain = tq_secret_open(ab, r, err, sizeof(err));
    CHECK_STR(plain, PASSWORD);
    tq_secret_free(plain);
    char *same = tq_secret_reseal(ab, r, err, sizeof(err));
    CHECK_STR(same, r); /* already the first key's: kept */
    tq_secret_free(same);
    CHECK(tq_secret_open(a, r, err, sizeof(err)) == NULL); /* the old ring alone cannot */
    char *p = tq_secret_reseal(ab, PASSWORD, err, sizeof(err));
    CHECK(p != NULL && tq_secret_kind_of(p) == TQ_SECRET_SEALED);
    tq_secret_free(p);
    char *ref = tq_secret_reseal(ab, "env:SOME_VAR", err, sizeof(err));
    CHECK_STR(ref, "env:SOME_VAR");
    tq_secret_free(ref);
    CHECK(tq_secret_reseal(NULL, PASSWORD, err, sizeof(err)) == NULL);
    CHECK(tq_secret_reseal(a, r, err, sizeof(err)) == NULL); /* a value the ring cannot open */
    tq_secret_free(r);
    tq_secret_free(s);
    tq_secret_ring_free(a);
    tq_secret_ring_free(ab);
}

static void test_load_and_install(void)
{
    char err[256];
    unsetenv(TQ_SECRET_KEY_ENV);
    CHECK(tq_secret_ring_load(NULL, err, sizeof(err)) == NULL && err[0] == '\0');
    CHECK(tq_secret_install_from(NULL, err, sizeof(err)) == 0 && tq_secret_process_ring() == NULL);
    setenv(TQ_SECRET_KEY_ENV, key_a_hex, 1);
    CHECK(tq_secret_install_from(NULL, err, sizeof(err)) == 0 && tq_secret_ring_count(tq_secret_process_ring()) == 1);
    bool sealed;
    char *s = tq_secret_store(PASSWORD, &sealed, err, sizeof(err));
    CHECK(sealed);
    char *plain = tq_secret_reveal(s, err, sizeof(err));
    CHECK_STR(plain, PASSWORD);
    tq_secret_free(plain);
    tq_secret_free(s);
    setenv(TQ_SECRET_KEY_ENV, "garbage", 1);
    CHECK(tq_secret_install_from(NULL, err, sizeof(err)) == -1 && strstr(err, TQ_SECRET_KEY_ENV) != NULL);

    char path[] = "/tmp/tq_unit_ring_XXXXXX";
    int fd = mkstemp(path);
    char text[200];
    int n = snprintf(text, sizeof(text), "%s\n%s\n", key_b_b64, key_a_hex);
    CHECK(write(fd, text, (size_t)n) == n);
    close(fd);
    /* the file wins over the variable */
    tq_secret_ring *r = tq_secret_ring_load(path, err, sizeof(err));
    CHECK(r != NULL && tq_secret_ring_count(r) == 2);
    tq_secret_ring_free(r);
    CHECK(tq_secret_ring_load("/nonexistent/tq-ring", err, sizeof(err)) == NULL && strstr(err, "key file") != NULL);
    unlink(path);
    unsetenv(TQ_SECRET_KEY_ENV);
    tq_secret_install_ring(NULL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    make_keys();
    test_rings();
    test_seal_open();
    test_references();
    test_store_reseal();
    test_load_and_install();
    return TQ_TEST_REPORT();
}
