/*
 * tenant_secrets.h - the registry side of secret passwords (README, "Secrets"): setting a
 * tenant's database password (sealed with the process's key ring, see secret.h) and
 * re-sealing every stored password with the ring's first key (`secrets rotate-key`).
 * Blocking libpq; the command line's.
 *
 * To read a tenant's password, whatever form its row stores, every caller uses
 * tq_secret_reveal (secret.h) on the row's db_password, and tq_secret_free afterwards.
 */
#ifndef TENANTQL_TENANT_SECRETS_H
#define TENANTQL_TENANT_SECRETS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Replaces a tenant's db_password: value is the password (sealed with the process's ring,
 * *sealed true; without a ring stored as plain text, *sealed false) or, with reference, an
 * env:NAME or file:/PATH reference stored as it is (the servers resolve it). Running
 * servers re-read the row on its NOTIFY: their pool with the old password is retired
 * (its connections drained) and the next request connects with the new one. *others gets
 * the number of other tenants reached with the same role on the same server (their rows
 * keep their own password). 0, or -1 with err filled (never with the password). */
int tq_tenant_set_password(PGconn *registry, const char *name, const char *value, bool reference, bool *sealed,
                           int *others, char *err, size_t errlen);

typedef struct tq_rotate_counts {
    int resealed;   /* sealed with another key of the ring, sealed again with the first */
    int current;    /* already sealed with the first key: unchanged */
    int was_plain;  /* plain text, sealed now */
    int references; /* env:/file: references, left as they are */
    int moved_from; /* passwords of old copies (moved_from), sealed again */
} tq_rotate_counts;

/* Seals every tenant's db_password (and moved_from's password) with the first key of the
 * process's ring, in one transaction: nothing changes unless every row can be done (a row
 * sealed with a key the ring lacks is named in err). Servers whose rings hold the new key
 * as well as the old keep serving throughout. 0 with *counts filled, or -1 with err. */
int tq_secrets_rotate(PGconn *registry, tq_rotate_counts *counts, char *err, size_t errlen);

#endif
