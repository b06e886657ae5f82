/*
 * jwt_key.c - JWT keys parsed once and the three JWS algorithms on them (see jwt_key.h).
 *
 * All three algorithms go through OpenSSL here rather than libjwt: libjwt 1.10 takes the
 * algorithm from the token, parses a PEM key on every call (330 us for RS256) and wants
 * a NUL-terminated copy of the token. HS256 is an HMAC compared in constant time
 * (CRYPTO_memcmp), so one code path serves every algorithm and the key that checks a
 * token is always the one its configuration pinned.
 */
#include "jwt_key.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECRET_LEN 4096  /* anything longer is a misconfiguration (and HMAC() takes an int) */
#define MAX_PEM_LEN 65536
#define MIN_RSA_BITS 2048    /* RFC 7518 3.3 */
#define MAX_RSA_BITS 8192    /* bounds the signature buffer and the cost of a forged token */
#define HS256_SIG_LEN 32
#define ES256_COORD 32       /* P-256: R and S are 32 bytes each in a JWS signature */
#define ES256_SIG_LEN (2 * ES256_COORD)
#define ECDSA_DER_MAX 80     /* DER of two 33-byte INTEGERs in a SEQUENCE is at most 72 */

/* An encrypted private key would make OpenSSL prompt on the terminal: refuse instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static BIO *pem_bio(const char *pem, size_t len)
{
    return len > 0 && len <= MAX_PEM_LEN ? BIO_new_mem_buf(pem, (int)len) : NULL;
}

/* A "PUBLIC KEY" block, or else the key of a "CERTIFICATE" block. */
static EVP_PKEY *read_public(const char *pem, size_t len)
{
    BIO *b = pem_bio(pem, len);
    EVP_PKEY *k = b != NULL ? PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    if (k == NULL && (b = pem_bio(pem, len)) != NULL) {
        X509 *cert = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
        BIO_free(b);
        if (cert != NULL)
            k = X509_get_pubkey(cert);
        X509_free(cert);
    }
    ERR_clear_error();
    return k;
}

static EVP_PKEY *read_private(const char *pem, size_t len)
{
    BIO *b = pem_bio(pem, len);
    EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return k;
}

/* Whether pkey is what alg needs; a message in err if not. Sets k->sig_len. */
static bool fits_alg(jwt_key *k, EVP_PKEY *pkey, const char *what, char *err, size_t errlen)
{
    if (k->alg == TQ_JWT_RS256) {
        /* "RSA" only: an RSA-PSS key would need PS256, which is not RS256 */
        if (!EVP_PKEY_is_a(pkey, "RSA")) {
            snprintf(err, errlen, "RS256 needs an RSA %s, this is another kind of key", what);
            return false;
        }
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
            snprintf(err, errlen, "RS256 needs an RSA key of 2048 to 8192 bits, this one has %d", bits);
            return false;
        }
        k->sig_len = (size_t)EVP_PKEY_get_size(pkey);
        return true;
    }
    char group[64] = "";
    size_t glen = 0;
    if (!EVP_PKEY_is_a(pkey, "EC") || EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1 ||
        (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
        ERR_clear_error();
        snprintf(err, errlen, "ES256 needs an EC %s on the P-256 curve (prime256v1)", what);
        return false;
    }
    k->sig_len = ES256_SIG_LEN;
    return true;
}

static int init_secret(jwt_key *k, const tq_jwt_key *cfg, char *err, size_t errlen)
{
    if (cfg->public_pem != NULL || cfg->private_pem != NULL) {
        snprintf(err, errlen, "an HS256 key is a secret, not a PEM key");
        return -1;
    }
    if (cfg->secret == NULL || cfg->secret_len < TQ_JWT_MIN_HS256_SECRET) {
        snprintf(err, errlen, "the HS256 secret must be at least %d bytes", TQ_JWT_MIN_HS256_SECRET);
        return -1;
    }
    if (cfg->secret_len > MAX_SECRET_LEN) {
        snprintf(err, errlen, "the HS256 secret is longer than %d bytes", MAX_SECRET_LEN);
        return -1;
    }
    if ((k->secret = malloc(cfg->secret_len)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(k->secret, cfg->secret, cfg->secret_len);
    k->secret_len = cfg->secret_len;
    k->sig_len = HS256_SIG_LEN;
    return 0;
}

static int init_pkey(jwt_key *k, const tq_jwt_key *cfg, char *err, size_t errlen)
{
    const char *alg = tq_jwt_alg_name(k->alg);
    if (cfg->secret != NULL) {
        snprintf(err, errlen, "an %s key is a PEM public key, not a secret", alg);
        return -1;
    }
    if (cfg->public_pem == NULL) {
        snprintf(err, errlen, "an %s key needs a PEM public key", alg);
        return -1;
    }
    if ((k->pub = read_public(cfg->public_pem, cfg->public_pem_len)) == NULL) {
        snprintf(err, errlen, "no PEM public key (BEGIN PUBLIC KEY) or certificate found");
        return -1;
    }
    if (!fits_alg(k, k->pub, "public key", err, errlen))
        return -1;
    if (cfg->private_pem == NULL)
        return 0;
    if ((k->priv = read_private(cfg->private_pem, cfg->private_pem_len)) == NULL) {
        snprintf(err, errlen, "no unencrypted PEM private key found");
        return -1;
    }
    size_t pub_len = k->sig_len;
    if (!fits_alg(k, k->priv, "private key", err, errlen))
        return -1;
    if (EVP_PKEY_eq(k->pub, k->priv) != 1 || k->sig_len != pub_len) {
        ERR_clear_error();
        snprintf(err, errlen, "the private key does not belong to the public key");
        return -1;
    }
    return 0;
}

int jwt_key_init(jwt_key *k, const tq_jwt_key *cfg, char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    k->alg = cfg->alg;
    if (cfg->alg != TQ_JWT_HS256 && cfg->alg != TQ_JWT_RS256 && cfg->alg != TQ_JWT_ES256) {
        snprintf(err, errlen, "unknown algorithm");
        return -1;
    }
    if (cfg->kid != NULL && (k->kid = strdup(cfg->kid)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if ((k->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL) {
        snprintf(err, errlen, "OpenSSL has no SHA-256");
        return -1;
    }
    return cfg->alg == TQ_JWT_HS256 ? init_secret(k, cfg, err, errlen) : init_pkey(k, cfg, err, errlen);
}

void jwt_key_clear(jwt_key *k)
{
    if (k->secret != NULL)
        OPENSSL_cleanse(k->secret, k->secret_len);
    free(k->secret);
    free(k->kid);
    EVP_PKEY_free(k->pub);
    EVP_PKEY_free(k->priv);
    EVP_MD_free(k->sha256);
    memset(k, 0, sizeof(*k));
}

bool jwt_key_can_sign(const jwt_key *k)
{
    return k->alg == TQ_JWT_HS256 || k->priv != NULL;
}

/* ---- signatures ---- */

static bool hmac(const jwt_key *k, const void *msg, size_t len, uint8_t out[HS256_SIG_LEN])
{
    unsigned int n = 0;
    return HMAC(k->sha256, k->secret, (int)k->secret_len, msg, len, out, &n) != NULL && n == HS256_SIG_LEN;
}

/* JWS carries ECDSA signatures as R || S (RFC 7518 3.4); OpenSSL wants DER. */
static int es256_raw_to_der(const uint8_t *raw, unsigned char der[ECDSA_DER_MAX])
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, ES256_COORD, NULL), *sv = BN_bin2bn(raw + ES256_COORD, ES256_COORD, NULL);
    if (s == NULL || r == NULL || sv == NULL || ECDSA_SIG_set0(s, r, sv) != 1) {
        ECDSA_SIG_free(s);
        BN_free(r);
        BN_free(sv);
        return -1;
    }
    unsigned char *p = der;
    int n = i2d_ECDSA_SIG(s, &p); /* at most 72 bytes for 32-byte R and S */
    ECDSA_SIG_free(s);
    return n;
}

static bool es256_der_to_raw(const unsigned char *der, size_t len, uint8_t raw[ES256_SIG_LEN])
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (s == NULL)
        return false;
    const BIGNUM *r, *sv;
    ECDSA_SIG_get0(s, &r, &sv);
    bool ok = BN_bn2binpad(r, raw, ES256_COORD) == ES256_COORD &&
              BN_bn2binpad(sv, raw + ES256_COORD, ES256_COORD) == ES256_COORD;
    ECDSA_SIG_free(s);
    return ok;
}

static bool pkey_verify(const jwt_key *k, const void *msg, size_t len, const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, k->sha256, NULL, k->pub) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

bool jwt_key_verify(const jwt_key *k, const void *msg, size_t len, const uint8_t *sig, size_t sig_len)
{
    if (sig_len != k->sig_len) /* e.g. a DER ECDSA signature, or one for another key size */
        return false;
    bool ok = false;
    if (k->alg == TQ_JWT_HS256) {
        uint8_t mac[HS256_SIG_LEN];
        ok = hmac(k, msg, len, mac) && CRYPTO_memcmp(mac, sig, HS256_SIG_LEN) == 0;
        OPENSSL_cleanse(mac, sizeof(mac));
    } else if (k->alg == TQ_JWT_RS256) {
        ok = pkey_verify(k, msg, len, sig, sig_len);
    } else {
        unsigned char der[ECDSA_DER_MAX];
        int n = es256_raw_to_der(sig, der);
        ok = n > 0 && pkey_verify(k, msg, len, der, (size_t)n);
    }
    ERR_clear_error(); /* a refused signature leaves errors on this thread's queue */
    return ok;
}

static bool pkey_sign(const jwt_key *k, const void *msg, size_t len, unsigned char *out, size_t *out_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, k->sha256, NULL, k->priv) == 1 &&
              EVP_DigestSign(ctx, out, out_len, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

bool jwt_key_sign(const jwt_key *k, const void *msg, size_t len, uint8_t *sig)
{
    bool ok = false;
    if (k->alg == TQ_JWT_HS256) {
        ok = hmac(k, msg, len, sig);
    } else if (k->priv != NULL && k->alg == TQ_JWT_RS256) {
        size_t n = JWT_MAX_SIG_LEN;
        ok = pkey_sign(k, msg, len, sig, &n) && n == k->sig_len;
    } else if (k->priv != NULL) {
        unsigned char der[ECDSA_DER_MAX];
        size_t n = sizeof(der);
        ok = pkey_sign(k, msg, len, der, &n) && es256_der_to_raw(der, n, sig);
    }
    ERR_clear_error();
    return ok;
}
