/*
 * test_jwt_settings.c - token options to verifier: the simple flags, the --jwt-keys key
 * set with relative key files, and every configuration that must be refused at start
 * with a message naming what is wrong. Keys are made at test time in a temp directory.
 */
#include "tenantql/jwt_settings.h"
#include "tq_test.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <unistd.h>

#define SECRET "0123456789abcdef0123456789abcdef-settings"
#define TENANT "3f2c1a4e-9b7d-4c2e-8f1a-2b3c4d5e6f70"

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void write_key(const char *name, EVP_PKEY *k, bool priv)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL && (priv ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
                             : PEM_write_PUBKEY(f, k)) == 1);
    if (f != NULL)
        fclose(f);
}

static const char *path_of(const char *name)
{
    static char paths[8][256];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

/* Loads s and expects a refusal whose message contains want. */
static void expect_refused(const tq_jwt_settings *s, const char *want)
{
    char err[512] = "";
    tq_jwt_verifier *v = tq_jwt_settings_load(s, err, sizeof(err));
    CHECK(v == NULL);
    if (strstr(err, want) == NULL)
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err, want);
    CHECK(strstr(err, want) != NULL);
    tq_jwt_verifier_free(v);
}

static tq_jwt_verifier *expect_loaded(const tq_jwt_settings *s, const char *description)
{
    char err[512] = "", desc[512];
    tq_jwt_verifier *v = tq_jwt_settings_load(s, err, sizeof(err));
    if (v == NULL)
        fprintf(stderr, "  refused: %s\n", err);
    CHECK(v != NULL);
    if (v == NULL)
        return NULL;
    tq_jwt_describe(v, desc, sizeof(desc));
    CHECK_STR(desc, description);
    return v;
}

/* Signs and verifies a token with v: the round trip every configuration that signs must pass. */
static void check_round_trip(const tq_jwt_verifier *v)
{
    tq_jwt_claims in = {0}, out;
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", TENANT);
    in.exp = 4000000000;
    char *t = tq_jwt_sign(v, &in);
    CHECK(t != NULL);
    if (t != NULL)
        CHECK(tq_jwt_verify(v, t, strlen(t), 1700000000, &out) == TQ_JWT_OK);
    free(t);
}

static void test_flags(void)
{
    tq_jwt_settings s;
    tq_jwt_settings_init(&s);
    expect_refused(&s, "no token key: give --jwt-secret");
    s.secret = "short";
    expect_refused(&s, "--jwt-secret (TENANTQL_JWT_SECRET) must be at least 32 bytes");
    s.secret = SECRET;
    tq_jwt_verifier *v = expect_loaded(&s, "1 key: HS256; signs with HS256");
    if (v != NULL)
        check_round_trip(v);
    tq_jwt_verifier_free(v);
    s.alg = "HS256";
    v = expect_loaded(&s, "1 key: HS256; signs with HS256");
    tq_jwt_verifier_free(v);
    s.public_key_file = path_of("rsa.pub.pem");
    expect_refused(&s, "--jwt-public-key and --jwt-private-key need --jwt-alg RS256 or ES256");
    s.alg = "rs256";
    expect_refused(&s, "--jwt-alg (TENANTQL_JWT_ALG) must be HS256, RS256 or ES256, not \"rs256\"");
    s.alg = "none";
    expect_refused(&s, "not \"none\"");
    s.alg = "RS256";
    expect_refused(&s, "--jwt-secret is an HS256 key; with --jwt-alg RS256");
    s.secret = NULL;
    s.public_key_file = NULL;
    expect_refused(&s, "--jwt-alg RS256 needs --jwt-public-key FILE");
    s.public_key_file = path_of("missing.pem");
    expect_refused(&s, "--jwt-public-key ");
    expect_refused(&s, "missing.pem: cannot open");
    s.public_key_file = path_of("ec.pub.pem");
    expect_refused(&s, "RS256 needs an RSA public key");
    s.public_key_file = path_of("garbage.pem");
    expect_refused(&s, "no PEM public key (BEGIN PUBLIC KEY) or certificate found");
    s.public_key_file = path_of("rsa.pub.pem");
    v = expect_loaded(&s, "1 key: RS256; issues no tokens (its public-key algorithm was configured without a "
                          "private key)");
    tq_jwt_verifier_free(v);
    s.private_key_file = path_of("rsa2.pem");
    expect_refused(&s, "the private key does not belong to the public key");
    s.private_key_file = path_of("rsa.pem");
    v = expect_loaded(&s, "1 key: RS256; signs with RS256");
    if (v != NULL)
        check_round_trip(v);
    tq_jwt_verifier_free(v);

    s.alg = "ES256";
    s.public_key_file = path_of("ec.pub.pem");
    s.private_key_file = path_of("ec.pem");
    s.audience = "api";
    v = expect_loaded(&s, "1 key: ES256; signs with ES256");
    if (v != NULL)
        check_round_trip(v);
    tq_jwt_verifier_free(v);
    s.private_key_file = path_of("rsa.pem");
    expect_refused(&s, "ES256 needs an EC private key");

    s.leeway = -1;
    expect_refused(&s, "--jwt-leeway (TENANTQL_JWT_LEEWAY) must be between 0 and 86400 seconds");
    s.leeway = 86401;
    expect_refused(&s, "--jwt-leeway");
}

static void keys_file(const char *json)
{
    write_file("keys.json", json);
}

static void test_keys_file(void)
{
    tq_jwt_settings s;
    tq_jwt_settings_init(&s);
    s.keys_file = path_of("keys.json");
    s.secret = SECRET;
    expect_refused(&s, "--jwt-keys replaces --jwt-secret, --jwt-alg, --jwt-public-key and --jwt-private-key");
    s.secret = NULL;
    s.alg = "RS256";
    expect_refused(&s, "--jwt-keys replaces");
    s.alg = NULL;

    s.keys_file = path_of("nope.json");
    expect_refused(&s, "--jwt-keys ");
    expect_refused(&s, "nope.json: cannot open");
    s.keys_file = path_of("keys.json");

    keys_file("{\"keys\": [");
    expect_refused(&s, "not JSON");
    keys_file("[]");
    expect_refused(&s, "must be a JSON object");
    keys_file("{\"keys\": [], \"x\": 1}");
    expect_refused(&s, "unknown member \"x\"");
    keys_file("{\"keys\": []}");
    expect_refused(&s, "\"keys\" must be an array of 1 to 64 keys");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"HS256\", \"secret\": \"" SECRET "\", \"public_key\": \"x\"}]}");
    expect_refused(&s, "keys[0] (kid \"a\"): unknown member \"public_key\"");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"none\", \"secret\": \"" SECRET "\"}]}");
    expect_refused(&s, "alg must be");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"HS256\"}]}");
    expect_refused(&s, "an HS256 key has a \"secret\"");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"HS256\", \"secret\": \"short\"}]}");
    expect_refused(&s, "JWT key \"a\": the HS256 secret must be at least 32 bytes");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"RS256\", \"secret\": \"" SECRET "\"}]}");
    expect_refused(&s, "an RS256 key has a \"public_key_file\"");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"RS256\", \"public_key_file\": \"missing.pem\"}]}");
    expect_refused(&s, "missing.pem: cannot open");
    keys_file("{\"keys\": [{\"kid\": 7, \"alg\": \"HS256\", \"secret\": \"" SECRET "\"}]}");
    expect_refused(&s, "kid must be a string");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"HS256\", \"secret\": \"" SECRET "\"},"
              "{\"kid\": \"a\", \"alg\": \"RS256\", \"public_key_file\": \"rsa.pub.pem\"}]}");
    expect_refused(&s, "two JWT keys have the same kid");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"HS256\", \"secret\": \"" SECRET "\"},"
              "{\"alg\": \"RS256\", \"public_key_file\": \"rsa.pub.pem\"}]}");
    expect_refused(&s, "every key needs a kid");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"ES256\", \"public_key_file\": \"rsa.pub.pem\"}]}");
    expect_refused(&s, "JWT key \"a\": ES256 needs an EC public key");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"HS256\", \"secret\": \"" SECRET "\"}], \"signing_kid\": \"b\"}");
    expect_refused(&s, "the signing kid \"b\" names no configured key");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"RS256\", \"public_key_file\": \"rsa.pub.pem\"}],"
              "\"signing_kid\": \"a\"}");
    expect_refused(&s, "the signing key \"a\" (RS256) has no private key");
    keys_file("{\"keys\": [{\"kid\": \"a\", \"alg\": \"HS256\", \"secret\": \"" SECRET "\"}], \"signing_kid\": 1}");
    expect_refused(&s, "signing_kid must be a string");

    /* rotation: relative key files, an absolute one, a signing kid */
    char json[1024];
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"kid\": \"2026-11\", \"alg\": \"RS256\", \"public_key_file\": \"rsa.pub.pem\","
             " \"private_key_file\": \"%s\"},"
             " {\"kid\": \"old\", \"alg\": \"HS256\", \"secret\": \"" SECRET "\"},"
             " {\"kid\": \"ec\", \"alg\": \"ES256\", \"public_key_file\": \"ec.pub.pem\"}],"
             " \"signing_kid\": \"2026-11\"}",
             path_of("rsa.pem"));
    keys_file(json);
    tq_jwt_verifier *v =
        expect_loaded(&s, "3 keys: RS256 kid \"2026-11\", HS256 kid \"old\", ES256 kid \"ec\"; signs with kid \"2026-11\"");
    if (v != NULL)
        check_round_trip(v);
    tq_jwt_verifier_free(v);

    /* several keys and no signing kid: verifies only */
    keys_file("{\"keys\": [{\"kid\": \"old\", \"alg\": \"HS256\", \"secret\": \"" SECRET "\"},"
              "{\"kid\": \"ec\", \"alg\": \"ES256\", \"public_key_file\": \"ec.pub.pem\"}]}");
    v = expect_loaded(&s, "2 keys: HS256 kid \"old\", ES256 kid \"ec\"; issues no tokens (several keys are "
                          "configured and none is named as the signing key)");
    tq_jwt_verifier_free(v);

    /* one key: no kid needed, and it signs */
    keys_file("{\"keys\": [{\"alg\": \"HS256\", \"secret\": \"" SECRET "\"}]}");
    v = expect_loaded(&s, "1 key: HS256; signs with HS256");
    tq_jwt_verifier_free(v);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tq-jwt-settings-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    EVP_PKEY *rsa = EVP_RSA_gen(2048), *rsa2 = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
    write_key("rsa.pub.pem", rsa, false);
    write_key("rsa.pem", rsa, true);
    write_key("rsa2.pem", rsa2, true);
    write_key("ec.pub.pem", ec, false);
    write_key("ec.pem", ec, true);
    write_file("garbage.pem", "hello\n");

    test_flags();
    test_keys_file();

    const char *names[] = {"rsa.pub.pem", "rsa.pem", "rsa2.pem", "ec.pub.pem", "ec.pem", "garbage.pem", "keys.json"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unlink(path_of(names[i]));
    rmdir(dir);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(ec);
    return TQ_TEST_REPORT();
}
