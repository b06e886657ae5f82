/*
 * tenant_secrets.c - setting a tenant's password and re-sealing every stored one (see
 * tenant_secrets.h). Errors of statements that carry a password are cut to their first
 * line (tq_secret_scrub_error): PostgreSQL's DETAIL may quote the row.
 */
#include "tenantql/tenant_secrets.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/pg_admin.h"
#include "tenantql/secret.h"

/* The number of other tenants with the row's role on the row's server, or -1. */
static int others_with_role(PGconn *registry, const char *name)
{
    const char *params[] = {name};
    PGresult *res = tq_pg_query(registry,
                                "SELECT count(*) FROM tenants o, tenants t WHERE t.name = $1 AND o.name <> t.name"
                                " AND o.db_host = t.db_host AND o.db_port = t.db_port AND o.db_user = t.db_user",
                                1, params, NULL, 0);
    int n = res != NULL ? atoi(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return n;
}

int tq_tenant_set_password(PGconn *registry, const char *name, const char *value, bool reference, bool *sealed,
                           int *others, char *err, size_t errlen)
{
    *sealed = false;
    char *stored;
    if (reference) {
        if (tq_secret_kind_of(value) != TQ_SECRET_REF) {
            snprintf(err, errlen, "a reference is env:NAME or file:/PATH");
            return -1;
        }
        stored = strdup(value);
    } else {
        stored = tq_secret_store(value, sealed, err, errlen);
    }
    if (stored == NULL)
        return -1;
    const char *params[] = {name, stored};
    PGresult *res = tq_pg_query(registry, "UPDATE tenants SET db_password = $2 WHERE name = $1", 2, params, err,
                                errlen);
    tq_secret_free(stored);
    if (res == NULL) {
        tq_secret_scrub_error(err);
        return -1;
    }
    int n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n != 1) {
        snprintf(err, errlen, "no tenant named \"%s\"", name);
        return -1;
    }
    *others = others_with_role(registry, name);
    return 0;
}

/* ---- rotation ---- */

/* moved_from's password sealed again (*out malloc'ed; NULL when it has none), or -1. */
static int reseal_moved_from(const tq_secret_ring *ring, const char *json, char **out, char *err, size_t errlen)
{
    *out = NULL;
    json_error_t jerr;
    json_t *o = json_loads(json, 0, &jerr);
    const char *pw = json_string_value(json_object_get(o, "password"));
    int rc = 0;
    if (pw != NULL) {
        *out = tq_secret_reseal(ring, pw, err, errlen);
        rc = *out != NULL ? 0 : -1;
    }
    json_decref(o);
    return rc;
}

/* One row (id, name, db_password, moved_from or NULL) sealed with the ring's first key. */
static int rotate_row(PGconn *registry, const tq_secret_ring *ring, PGresult *rows, int i, tq_rotate_counts *c,
                      char *err, size_t errlen)
{
    const char *name = PQgetvalue(rows, i, 1), *stored = PQgetvalue(rows, i, 2);
    char why[256];
    tq_secret_kind kind = tq_secret_kind_of(stored);
    char *sealed = tq_secret_reseal(ring, stored, why, sizeof(why)), *moved = NULL;
    if (sealed == NULL ||
        (!PQgetisnull(rows, i, 3) && reseal_moved_from(ring, PQgetvalue(rows, i, 3), &moved, why, sizeof(why)) != 0)) {
        snprintf(err, errlen, "tenant \"%s\": %s; nothing was changed", name, why);
        tq_secret_free(sealed);
        return -1;
    }
    bool same = strcmp(sealed, stored) == 0;
    c->references += kind == TQ_SECRET_REF;
    c->was_plain += kind == TQ_SECRET_PLAIN;
    c->current += kind == TQ_SECRET_SEALED && same;
    c->resealed += kind == TQ_SECRET_SEALED && !same;
    c->moved_from += moved != NULL;
    int rc = 0;
    if (!same || moved != NULL) {
        const char *params[] = {PQgetvalue(rows, i, 0), sealed, moved};
        PGresult *res = tq_pg_query(registry,
                                    moved != NULL
                                        ? "UPDATE tenants SET db_password = $2,"
                                          " moved_from = jsonb_set(moved_from, '{password}', to_jsonb($3::text))"
                                          " WHERE id = $1::uuid"
                                        : "UPDATE tenants SET db_password = $2 WHERE id = $1::uuid",
                                    moved != NULL ? 3 : 2, params, why, sizeof(why));
        tq_secret_scrub_error(why);
        if (res == NULL) {
            snprintf(err, errlen, "tenant \"%s\": %s; nothing was changed", name, why);
            rc = -1;
        }
        PQclear(res);
    }
    tq_secret_free(sealed);
    tq_secret_free(moved);
    return rc;
}

int tq_secrets_rotate(PGconn *registry, tq_rotate_counts *counts, char *err, size_t errlen)
{
    memset(counts, 0, sizeof(*counts));
    const tq_secret_ring *ring = tq_secret_process_ring();
    if (ring == NULL) {
        snprintf(err, errlen, "no key ring: give --secrets-key-file or " TQ_SECRET_KEY_ENV " (new key first)");
        return -1;
    }
    if (tq_pg_exec(registry, "BEGIN", err, errlen) != 0)
        return -1;
    /* moved_from by way of to_jsonb: a registry from before migration 4 has none */
    PGresult *rows = tq_pg_query(registry,
                                 "SELECT id::text, name, db_password, to_jsonb(t) -> 'moved_from' FROM tenants t"
                                 " ORDER BY name FOR UPDATE",
                                 0, NULL, err, errlen);
    int rc = rows != NULL ? 0 : -1;
    for (int i = 0; rc == 0 && i < PQntuples(rows); i++)
        rc = rotate_row(registry, ring, rows, i, counts, err, errlen);
    PQclear(rows);
    if (rc == 0 && tq_pg_exec(registry, "COMMIT", err, errlen) == 0)
        return 0;
    tq_pg_exec(registry, "ROLLBACK", NULL, 0);
    return -1;
}
