/*
 * move_internal.h - what the move (tenant_move.c) and its --finish (tenant_move_finish.c)
 * share: places, the tables of a place and their checksums, the sessions they open, and
 * the registry lock that keeps two of them (or a pause) on one tenant apart.
 */
#ifndef TENANTQL_MOVE_INTERNAL_H
#define TENANTQL_MOVE_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "tenantql/tenant_result.h"

/* the move's own sessions: servers' are "tenantql", which the drain check counts */
#define MOVE_APPLICATION "tenantql move"
#define LOCK_TIMEOUT "'10s'" /* for LOCK TABLE and DROP SCHEMA behind a long statement */

/* Where a tenant's tables are (a registry row's settings); strings malloc'ed. stored is
 * db_password as a row keeps it (sealed, a reference or plain), password what it reveals
 * (NULL when it cannot be had: password_err says why, and move_connect refuses). */
typedef struct move_place {
    bool schema_placed;
    char *host, *port, *db, *schema, *user, *password, *stored;
    char password_err[256];
} move_place;

/* One table of a place; strings malloc'ed. */
typedef struct move_table {
    char *name;
    char *columns;  /* quoted, in column order: what COPY and the checksum name */
    long long rows; /* the source's, at the last comparison */
    char *sum;
} move_table;

void move_place_free(move_place *p);
/* Replaces p's settings with copies of these (NULL: ""); password is a stored form, which
 * is revealed (tq_secret_reveal) into p->password. */
void move_place_set(move_place *p, bool schema_placed, const char *host, const char *port, const char *db,
                    const char *schema, const char *user, const char *password);
/* "schema S of D on HOST:PORT" or "database D on HOST:PORT", written to buf; returns buf. */
const char *move_place_text(const move_place *p, char *buf, size_t len);
/* What a row written for p keeps as db_password: a sealed value or a reference as it is, a
 * plain password sealed when the process has a key ring. Malloc'ed (tq_secret_free); NULL
 * with err filled. */
char *move_place_stored_password(const move_place *p, char *err, size_t errlen);
/* A session with p's credentials on database db (p's own when NULL), set up so that text
 * COPY and the checksums read every value the same way everywhere; the caller PQfinishes
 * it. NULL with err filled. */
PGconn *move_connect(const move_place *p, const char *db, char *err, size_t errlen);
/* "schema"."relation", quoted for c; malloc'ed (the caller frees it), NULL when out of memory. */
char *move_qualified(PGconn *c, const char *schema, const char *relation);

/* Whether the registry has the pause migration's columns; -1 with err when it cannot tell
 * or has not. */
int move_check_registry(PGconn *registry, char *err, size_t errlen);
/* Takes the tenant's move lock (a session advisory lock on the registry), or says why not
 * (err filled): TQ_TENANT_WRONG_STATE when another move (pause, offboarding) holds it,
 * TQ_TENANT_FAILED when the registry failed. */
int move_lock_tenant(PGconn *registry, const char *name, char *err, size_t errlen);
void move_unlock(PGconn *registry, const char *name);

/* The tables of a schema of c's database, tenantql_migrations left out, each after the
 * tables its foreign keys name: *out (malloc'ed, *n of them; move_tables_free). */
int move_load_tables(PGconn *c, const char *schema, move_table **out, int *n, char *err, size_t errlen);
void move_tables_free(move_table *tables, int n);
/* A table's row count and checksum at c's schema (*sum malloc'ed); -1 on error. */
int move_checksum(PGconn *c, const char *schema, const move_table *t, long long *rows, char **sum, char *err,
                  size_t errlen);

#endif
