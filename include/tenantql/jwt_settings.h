/*
 * jwt_settings.h - the token options of serve/dev/token turned into a verifier: reads
 * key files and the --jwt-keys key set, and refuses a bad configuration with a message
 * that names the option or file at fault.
 *
 * Two ways to give keys, never both:
 *   - simple flags: --jwt-secret (one HS256 key, no kid), or --jwt-alg RS256|ES256 with
 *     --jwt-public-key FILE and, to issue tokens, --jwt-private-key FILE;
 *   - --jwt-keys FILE, a JSON key set for rotation:
 *       {"keys": [{"kid": "2026-11", "alg": "RS256", "public_key_file": "new.pub.pem",
 *                  "private_key_file": "new.pem"},
 *                 {"kid": "old", "alg": "HS256", "secret": "..."}],
 *        "signing_kid": "2026-11"}
 *     Relative file names are relative to the key set's directory. Every key needs a kid
 *     when there are several; "signing_kid" names the key that signs (optional).
 */
#ifndef TENANTQL_JWT_SETTINGS_H
#define TENANTQL_JWT_SETTINGS_H

#include <stddef.h>

#include "tenantql/jwt.h"

#define TQ_JWT_MAX_KEY_FILE (64 * 1024)   /* a PEM file */
#define TQ_JWT_MAX_KEYS_FILE (1024 * 1024) /* the JSON key set */

typedef struct tq_jwt_settings {
    const char *secret;           /* --jwt-secret */
    const char *alg;              /* --jwt-alg: NULL or HS256 (default), RS256, ES256 */
    const char *public_key_file;  /* --jwt-public-key */
    const char *private_key_file; /* --jwt-private-key */
    const char *keys_file;        /* --jwt-keys, instead of the four above */
    const char *issuer;           /* --jwt-issuer: NULL = "tenantql", "" = not checked */
    const char *audience;         /* --jwt-audience: NULL or "" = not checked */
    long leeway;                  /* --jwt-leeway, seconds */
} tq_jwt_settings;

/* No key; the default issuer and leeway. */
void tq_jwt_settings_init(tq_jwt_settings *s);

/* Reads the key files and builds the verifier (and signer); NULL with a message in err.
 * Blocking file I/O: call at start-up, never on an event loop. The caller owns the
 * verifier (tq_jwt_verifier_free). */
tq_jwt_verifier *tq_jwt_settings_load(const tq_jwt_settings *s, char *err, size_t errlen);

#endif
