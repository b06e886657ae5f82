/*
 * migrate.c - applies the embedded migrations of a set in version order (see migrate.h).
 *
 * A migration's version is the number its file name starts with ("001_users.sql" is 1);
 * the registry's first migration is schema/registry.sql (version 1), later ones would be
 * schema/registry/NNN_*.sql.
 */
#include "tenantql/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/embedded.h"
#include "tenantql/pg_admin.h"

/* arbitrary constant: "tenantql" on a phone keypad */
#define MIGRATE_LOCK_KEY "836826875"

static const char *set_prefix(tq_migration_set set)
{
    return set == TQ_MIGRATIONS_REGISTRY ? "schema/registry/" : "schema/tenant/";
}

/* Returns the version of an embedded file in the set, or 0 if it is not part of it. */
static int migration_version(tq_migration_set set, const tq_embedded_file *f)
{
    if (set == TQ_MIGRATIONS_REGISTRY && strcmp(f->name, "schema/registry.sql") == 0)
        return 1;
    const char *prefix = set_prefix(set);
    size_t plen = strlen(prefix);
    if (strncmp(f->name, prefix, plen) != 0)
        return 0;
    const char *base = f->name + plen;
    char *end;
    long v = strtol(base, &end, 10);
    if (end == base || *end != '_' || v <= 0)
        return 0;
    return (int)v;
}

int tq_migrate_latest_version(tq_migration_set set)
{
    int latest = 0;
    for (const tq_embedded_file *f = tq_embedded_files; f->name != NULL; f++) {
        int v = migration_version(set, f);
        if (v > latest)
            latest = v;
    }
    return latest;
}

static int current_version(PGconn *conn, char *err, size_t errlen)
{
    PGresult *res = tq_pg_query(conn, "SELECT coalesce(max(version), 0) FROM tenantql_migrations", 0, NULL, err, errlen);
    if (res == NULL)
        return -1;
    int v = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static int apply_one(PGconn *conn, const tq_embedded_file *f, int version, char *err, size_t errlen)
{
    char detail[512];
    if (tq_pg_exec(conn, "BEGIN", err, errlen) != 0)
        return -1;
    if (tq_pg_exec(conn, f->data, detail, sizeof(detail)) != 0) {
        snprintf(err, errlen, "%s: %s", f->name, detail);
        tq_pg_exec(conn, "ROLLBACK", NULL, 0);
        return -1;
    }
    char vtext[16];
    snprintf(vtext, sizeof(vtext), "%d", version);
    const char *params[] = {vtext, f->name};
    PGresult *res = tq_pg_query(conn, "INSERT INTO tenantql_migrations (version, name) VALUES ($1, $2)", 2, params,
                                err, errlen);
    if (res == NULL) {
        tq_pg_exec(conn, "ROLLBACK", NULL, 0);
        return -1;
    }
    PQclear(res);
    return tq_pg_exec(conn, "COMMIT", err, errlen);
}

int tq_migrate(PGconn *conn, tq_migration_set set, char *err, size_t errlen)
{
    if (tq_pg_exec(conn,
                   "CREATE TABLE IF NOT EXISTS tenantql_migrations ("
                   " version integer PRIMARY KEY,"
                   " name text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   err, errlen) != 0)
        return -1;
    if (tq_pg_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen) != 0)
        return -1;

    int applied = 0, have = current_version(conn, err, errlen);
    int latest = tq_migrate_latest_version(set);
    for (int v = have + 1; have >= 0 && v <= latest; v++) {
        const tq_embedded_file *found = NULL;
        for (const tq_embedded_file *f = tq_embedded_files; f->name != NULL; f++)
            if (migration_version(set, f) == v)
                found = f;
        if (found == NULL) {
            snprintf(err, errlen, "migration %d is missing from this build", v);
            applied = -1;
            break;
        }
        if (apply_one(conn, found, v, err, errlen) != 0) {
            applied = -1;
            break;
        }
        applied++;
    }
    if (have < 0)
        applied = -1;
    tq_pg_exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", NULL, 0);
    return applied;
}

/* One tenant of the registry's row r: connect with its credentials, migrate, report. */
static int migrate_tenant(PGresult *rows, int r, FILE *out)
{
    char err[512];
    const char *name = PQgetvalue(rows, r, 0);
    PGconn *t = tq_pg_connect_db(PQgetvalue(rows, r, 1), PQgetvalue(rows, r, 2), PQgetvalue(rows, r, 3),
                                 PQgetvalue(rows, r, 4), PQgetvalue(rows, r, 5), err, sizeof(err));
    int n = t ? tq_migrate(t, TQ_MIGRATIONS_TENANT, err, sizeof(err)) : -1;
    if (t)
        PQfinish(t);
    if (n < 0) {
        fprintf(out, "tenant %s: failed: %s\n", name, err);
        return -1;
    }
    fprintf(out, "tenant %s: %d migration(s) applied, at version %d\n", name, n,
            tq_migrate_latest_version(TQ_MIGRATIONS_TENANT));
    return 0;
}

int tq_migrate_all(PGconn *registry, FILE *out)
{
    char err[512];
    int applied = tq_migrate(registry, TQ_MIGRATIONS_REGISTRY, err, sizeof(err));
    if (applied < 0) {
        fprintf(out, "registry: failed: %s\n", err);
        return -1;
    }
    fprintf(out, "registry: %d migration(s) applied, at version %d\n", applied,
            tq_migrate_latest_version(TQ_MIGRATIONS_REGISTRY));
    PGresult *rows = tq_pg_query(registry,
                                 "SELECT name, db_host, db_port::text, db_name, db_user, db_password"
                                 " FROM tenants ORDER BY name",
                                 0, NULL, err, sizeof(err));
    if (rows == NULL) {
        fprintf(out, "registry: failed: %s\n", err);
        return -1;
    }
    int failed = 0;
    for (int r = 0; r < PQntuples(rows); r++)
        failed += migrate_tenant(rows, r, out) != 0;
    PQclear(rows);
    return failed;
}
