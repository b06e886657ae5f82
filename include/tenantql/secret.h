/*
 * secret.h - tenant database passwords kept secret: sealed with a key ring (libsodium's
 * secretbox, XSalsa20-Poly1305) or given by reference, and revealed only where a
 * connection is made.
 *
 * A registry row's db_password holds one of three forms (README, "Secrets"):
 *   secretbox:v1:KEYID:BASE64   sealed: base64 of nonce (24 bytes) and box, under the key
 *                               of the ring whose id is KEYID
 *   env:NAME | file:/PATH       a reference: the variable's value, or the file's contents
 *                               (one trailing newline dropped), read where it is used
 *   anything else               legacy plain text (`tenantql secrets rotate-key` seals it)
 *
 * A key ring is text: keys separated by newlines, commas or blanks (# starts a comment to
 * the end of its line), each 32 bytes as 64 hex digits or standard base64. The first key
 * seals; every key opens. A key's id is 8 hex digits of a keyed BLAKE2b hash of it, so a
 * sealed value names the key that opens it without saying anything about it.
 *
 * Nothing here ever puts a secret into an error message: messages name the form, the key
 * id, the variable or the file, never the value. Plain text handed out is malloc'ed and
 * must be freed with tq_secret_free, which zeroes it first.
 */
#ifndef TENANTQL_SECRET_H
#define TENANTQL_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define TQ_SECRET_KEY_BYTES 32
#define TQ_SECRET_MAX_KEYS 16          /* keys of one ring */
#define TQ_SECRET_MAX_BYTES 4096       /* a password, a file a reference names */
#define TQ_SECRET_MAX_RING_BYTES 65536 /* a key file */
#define TQ_SECRET_KEY_ID_LEN 8
#define TQ_SECRET_SEALED_PREFIX "secretbox:v1:"
/* the variable that may hold a key ring instead of --secrets-key-file */
#define TQ_SECRET_KEY_ENV "TENANTQL_SECRETS_KEY"

typedef struct tq_secret_ring tq_secret_ring;

typedef enum tq_secret_kind {
    TQ_SECRET_PLAIN,  /* legacy plain text */
    TQ_SECRET_SEALED, /* secretbox:v1:... */
    TQ_SECRET_REF,    /* env:NAME or file:/PATH */
} tq_secret_kind;

/* A ring from its text (see above): NULL with err filled when a key is malformed, the ring
 * is empty or too long, or two keys share an id. The caller frees it (tq_secret_ring_free). */
tq_secret_ring *tq_secret_ring_parse(const char *text, char *err, size_t errlen);
/* The ring of a key file (when path is not NULL) or else of the variable
 * TENANTQL_SECRETS_KEY. NULL with err "" when neither is given, NULL with err filled when
 * the one given is unusable. */
tq_secret_ring *tq_secret_ring_load(const char *path, char *err, size_t errlen);
void tq_secret_ring_free(tq_secret_ring *r);
size_t tq_secret_ring_count(const tq_secret_ring *r);
/* The id of key i (0: the sealing key), 8 hex digits; valid while the ring lives. */
const char *tq_secret_ring_key_id(const tq_secret_ring *r, size_t i);

/* The process's ring, which tq_secret_reveal and tq_secret_store use: installed once at
 * start-up, before any thread reads it (the server, or a command after parsing its
 * options), and owned by this module from then on (NULL: none; a previous one is freed).
 * The pointer returned stays valid until the next install. */
void tq_secret_install_ring(tq_secret_ring *r);
const tq_secret_ring *tq_secret_process_ring(void);
/* Loads the ring as tq_secret_ring_load does and installs it: 0 (also when none is given),
 * or -1 with err filled. */
int tq_secret_install_from(const char *path, char *err, size_t errlen);

tq_secret_kind tq_secret_kind_of(const char *stored);

/* Seals plain with the ring's first key: malloc'ed text (free it), NULL with err filled. */
char *tq_secret_seal(const tq_secret_ring *r, const char *plain, char *err, size_t errlen);
/* Opens a sealed value: malloc'ed plain text (tq_secret_free), NULL with err filled (an
 * unknown key id, a malformed or tampered box). */
char *tq_secret_open(const tq_secret_ring *r, const char *sealed, char *err, size_t errlen);
/* Resolves a reference (env:NAME, file:/PATH): malloc'ed plain text (tq_secret_free), NULL
 * with err filled (no such variable, an unreadable or too large file, a relative path). */
char *tq_secret_resolve(const char *ref, char *err, size_t errlen);

/* THE way to the password of a stored db_password value, whatever its form: opened with r
 * (tq_secret_reveal: the process's ring), resolved, or copied when plain. Malloc'ed; free
 * it with tq_secret_free as soon as the connection is made. NULL with err filled (never
 * with the secret in it). Every reader of a tenant's credentials goes through here. */
char *tq_secret_reveal_with(const tq_secret_ring *r, const char *stored, char *err, size_t errlen);
char *tq_secret_reveal(const char *stored, char *err, size_t errlen);

/* The form to store for a password given in plain text: sealed with r's first key, or the
 * plain text itself without a ring (legacy; refused when it would read as another form).
 * *sealed tells which. Malloc'ed (tq_secret_free); NULL with err filled. tq_secret_store
 * uses the process's ring. */
char *tq_secret_store_with(const tq_secret_ring *r, const char *plain, bool *sealed, char *err, size_t errlen);
char *tq_secret_store(const char *plain, bool *sealed, char *err, size_t errlen);

/* The form to store for a value already stored (what a rotation or a move writes back):
 * a reference stays as it is; a sealed value is opened and sealed again with r's first
 * key (unchanged when already sealed with it); plain text is sealed. Malloc'ed
 * (tq_secret_free); NULL with err filled (a value r cannot open, or no ring). */
char *tq_secret_reseal(const tq_secret_ring *r, const char *stored, char *err, size_t errlen);

/* Cuts a database error message after its first line: PostgreSQL's DETAIL may quote the
 * row a statement wrote ("Failing row contains (...)"), password and all. */
void tq_secret_scrub_error(char *err);

/* Zeroes and frees a string from this module (NULL: nothing). */
void tq_secret_free(char *s);

#endif
