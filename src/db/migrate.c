/*
 * migrate.c - applies the embedded migrations of a set in version order (see migrate.h).
 *
 * A migration's version is the number its file name starts with ("001_users.sql" is 1);
 * the registry's first migration is schema/registry.sql (version 1), later ones would be
 * schema/registry/NNN_*.sql.
 */
#include "tenantql/migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/embedded.h"
#include "tenantql/pg_admin.h"

/* arbitrary constant: "tenantql" on a phone keypad. It alone is the lock of migrations
 * of the public schema (tq_migrate), as it always was, so that migrators of older builds
 * and this one still exclude each other. Another schema's lock is this constant in the
 * high half and a hash of the schema's name in the low half: migrators of two schemas of
 * one shared database do not wait for each other, two of the same schema do. */
#define MIGRATE_LOCK_KEY "836826875"
#define SCHEMA_LOCK_KEY                                                                                                \
    "CASE WHEN $1 = 'public' THEN " MIGRATE_LOCK_KEY " ELSE (" MIGRATE_LOCK_KEY "::bigint << 32)"                      \
    " | (hashtext($1)::bigint & 4294967295) END"

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

/* The set's file of version v, or NULL when this build lacks it. */
static const tq_embedded_file *migration_file(tq_migration_set set, int v)
{
    const tq_embedded_file *found = NULL;
    for (const tq_embedded_file *f = tq_embedded_files; f->name != NULL; f++)
        if (migration_version(set, f) == v)
            found = f;
    return found;
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

/* Where the migrations go: schema NULL is the session's search_path (tq_migrate, as
 * before schemas existed); otherwise qschema is the quoted schema and table the
 * bookkeeping table inside it. */
typedef struct target {
    const char *schema;
    char *qschema;
    char table[160];
} target;

static int current_version(PGconn *conn, const target *to, char *err, size_t errlen)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(version), 0) FROM %s", to->table);
    PGresult *res = tq_pg_query(conn, sql, 0, NULL, err, errlen);
    if (res == NULL)
        return -1;
    int v = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static int apply_one(PGconn *conn, const target *to, const tq_embedded_file *f, int version, char *err, size_t errlen)
{
    char detail[512];
    if (tq_pg_exec(conn, "BEGIN", err, errlen) != 0)
        return -1;
    if (to->schema != NULL) {
        /* the files name their tables unqualified: this is what puts them in the schema */
        char sql[200];
        snprintf(sql, sizeof(sql), "SET LOCAL search_path = %s", to->qschema);
        if (tq_pg_exec(conn, sql, err, errlen) != 0) {
            tq_pg_exec(conn, "ROLLBACK", NULL, 0);
            return -1;
        }
    }
    if (tq_pg_exec(conn, f->data, detail, sizeof(detail)) != 0) {
        snprintf(err, errlen, "%s: %s", f->name, detail);
        tq_pg_exec(conn, "ROLLBACK", NULL, 0);
        return -1;
    }
    char vtext[16], sql[256];
    snprintf(vtext, sizeof(vtext), "%d", version);
    snprintf(sql, sizeof(sql), "INSERT INTO %s (version, name) VALUES ($1, $2)", to->table);
    const char *params[] = {vtext, f->name};
    PGresult *res = tq_pg_query(conn, sql, 2, params, err, errlen);
    if (res == NULL) {
        tq_pg_exec(conn, "ROLLBACK", NULL, 0);
        return -1;
    }
    PQclear(res);
    return tq_pg_exec(conn, "COMMIT", err, errlen);
}

/* Creates the schema when it is missing. Looked up first: CREATE SCHEMA IF NOT EXISTS
 * wants the right to create schemas in the database even when the schema exists, which
 * a tenant's role migrating its existing schema need not have. */
static int ensure_schema(PGconn *conn, const target *to, char *err, size_t errlen)
{
    const char *params[] = {to->schema};
    PGresult *res = tq_pg_query(conn, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, params, err, errlen);
    if (res == NULL)
        return -1;
    int exists = PQntuples(res) > 0;
    PQclear(res);
    if (exists)
        return 0;
    char sql[200];
    snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", to->qschema);
    return tq_pg_exec(conn, sql, err, errlen);
}

/* The advisory lock of the target (see MIGRATE_LOCK_KEY), taken or given back. */
static int migrate_lock(PGconn *conn, const target *to, bool take, char *err, size_t errlen)
{
    if (to->schema == NULL)
        return tq_pg_exec(conn,
                          take ? "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")"
                               : "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")",
                          err, errlen);
    const char *params[] = {to->schema};
    PGresult *res = tq_pg_query(
        conn, take ? "SELECT pg_advisory_lock(" SCHEMA_LOCK_KEY ")" : "SELECT pg_advisory_unlock(" SCHEMA_LOCK_KEY ")",
        1, params, err, errlen);
    int rc = res != NULL ? 0 : -1;
    PQclear(res);
    return rc;
}

static int migrate_target(PGconn *conn, tq_migration_set set, target *to, char *err, size_t errlen)
{
    /* the lock first: two migrators of a new schema would otherwise race to create it */
    if (migrate_lock(conn, to, true, err, errlen) != 0)
        return -1;
    char sql[320];
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS %s ("
             " version integer PRIMARY KEY,"
             " name text NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now())",
             to->table);
    int have = -1;
    if ((to->schema == NULL || ensure_schema(conn, to, err, errlen) == 0) && tq_pg_exec(conn, sql, err, errlen) == 0)
        have = current_version(conn, to, err, errlen);

    int applied = 0, latest = tq_migrate_latest_version(set);
    for (int v = have + 1; have >= 0 && v <= latest; v++) {
        const tq_embedded_file *found = migration_file(set, v);
        if (found == NULL) {
            snprintf(err, errlen, "migration %d is missing from this build", v);
            applied = -1;
            break;
        }
        if (apply_one(conn, to, found, v, err, errlen) != 0) {
            applied = -1;
            break;
        }
        applied++;
    }
    if (have < 0)
        applied = -1;
    migrate_lock(conn, to, false, NULL, 0);
    return applied;
}

int tq_migrate(PGconn *conn, tq_migration_set set, char *err, size_t errlen)
{
    target to = {.schema = NULL, .qschema = NULL, .table = "tenantql_migrations"};
    return migrate_target(conn, set, &to, err, errlen);
}

int tq_migrate_schema(PGconn *conn, tq_migration_set set, const char *schema, char *err, size_t errlen)
{
    if (schema == NULL || schema[0] == '\0' || strlen(schema) > 63) {
        snprintf(err, errlen, "invalid schema name");
        return -1;
    }
    target to = {.schema = schema};
    to.qschema = PQescapeIdentifier(conn, schema, strlen(schema));
    if (to.qschema == NULL) {
        tq_pg_copy_error(PQerrorMessage(conn), err, errlen);
        return -1;
    }
    snprintf(to.table, sizeof(to.table), "%s.tenantql_migrations", to.qschema);
    int applied = migrate_target(conn, set, &to, err, errlen);
    PQfreemem(to.qschema);
    return applied;
}

/* The text of the whole migration set of a new schema as one script (tq_migrate_schema_new):
 * the schema, its bookkeeping table, then each file and its bookkeeping row, in version
 * order; qschema and lschema are the schema's quoted name and literal. malloc'ed (the
 * caller frees it), NULL with err filled. */
static char *new_schema_script(tq_migration_set set, const char *qschema, const char *lschema, char *err, size_t errlen)
{
    int latest = tq_migrate_latest_version(set);
    size_t cap = 1024;
    for (const tq_embedded_file *f = tq_embedded_files; f->name != NULL; f++)
        if (migration_version(set, f) > 0)
            cap += strlen(f->data) + strlen(f->name) + 256;
    char *sql = malloc(cap);
    if (sql == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* the advisory lock of tq_migrate_schema, for this transaction: a migrator of the same
     * schema that comes meanwhile waits, then finds every migration applied */
    size_t n = (size_t)snprintf(sql, cap,
                                "BEGIN; SELECT pg_advisory_xact_lock((" MIGRATE_LOCK_KEY "::bigint << 32)"
                                " | (hashtext(%2$s)::bigint & 4294967295)); CREATE SCHEMA %1$s;"
                                " SET LOCAL search_path = %1$s; CREATE TABLE tenantql_migrations ("
                                " version integer PRIMARY KEY, name text NOT NULL,"
                                " applied_at timestamptz NOT NULL DEFAULT now());\n",
                                qschema, lschema);
    for (int v = 1; v <= latest; v++) {
        const tq_embedded_file *found = migration_file(set, v);
        if (found == NULL) {
            snprintf(err, errlen, "migration %d is missing from this build", v);
            free(sql);
            return NULL;
        }
        /* file names are ours (schema/tenant/NNN_word.sql): no quote to escape */
        n += (size_t)snprintf(sql + n, cap - n,
                              "%s\n;INSERT INTO tenantql_migrations (version, name) VALUES (%d, '%s');\n", found->data,
                              v, found->name);
    }
    snprintf(sql + n, cap - n, "COMMIT");
    return sql;
}

int tq_migrate_schema_new(PGconn *conn, tq_migration_set set, const char *schema, char *err, size_t errlen)
{
    if (schema == NULL || schema[0] == '\0' || strlen(schema) > 63 || strcmp(schema, "public") == 0) {
        snprintf(err, errlen, "invalid schema name");
        return -1;
    }
    char *qschema = PQescapeIdentifier(conn, schema, strlen(schema));
    char *lschema = PQescapeLiteral(conn, schema, strlen(schema));
    char *sql = qschema && lschema ? new_schema_script(set, qschema, lschema, err, errlen) : NULL;
    if (qschema == NULL || lschema == NULL)
        tq_pg_copy_error(PQerrorMessage(conn), err, errlen);
    PQfreemem(qschema);
    PQfreemem(lschema);
    if (sql == NULL)
        return -1;
    /* one simple query: one round trip; its statements run in the one transaction it opens */
    PGresult *res = PQexec(conn, sql);
    free(sql);
    int rc = tq_migrate_latest_version(set);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        rc = state != NULL && strcmp(state, "42P06") == 0 ? -2 : -1; /* duplicate_schema */
        tq_pg_copy_error(PQerrorMessage(conn), err, errlen);
    }
    PQclear(res);
    /* a failed statement leaves the script's transaction open (its COMMIT never ran) */
    if (rc < 0 && PQtransactionStatus(conn) == PQTRANS_INERROR)
        tq_pg_exec(conn, "ROLLBACK", NULL, 0);
    return rc;
}

const char *tq_migrate_name(tq_migration_set set, int version)
{
    const tq_embedded_file *f = migration_file(set, version);
    return f != NULL ? f->name : NULL;
}

int tq_migrate_version(PGconn *conn, const char *schema, char *err, size_t errlen)
{
    if (schema != NULL && (schema[0] == '\0' || strlen(schema) > 63)) {
        snprintf(err, errlen, "invalid schema name");
        return -1;
    }
    /* to_regclass: a database or schema never migrated has no table, and is at 0 */
    char name[160];
    char *q = schema != NULL ? PQescapeIdentifier(conn, schema, strlen(schema)) : NULL;
    if (schema != NULL && q == NULL) {
        tq_pg_copy_error(PQerrorMessage(conn), err, errlen);
        return -1;
    }
    snprintf(name, sizeof(name), "%s%stenantql_migrations", q != NULL ? q : "", q != NULL ? "." : "");
    PQfreemem(q);
    const char *params[] = {name};
    PGresult *res = tq_pg_query(conn, "SELECT to_regclass($1) IS NOT NULL", 1, params, err, errlen);
    if (res == NULL)
        return -1;
    bool exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!exists)
        return 0;
    target to = {.schema = schema};
    snprintf(to.table, sizeof(to.table), "%s", name);
    return current_version(conn, &to, err, errlen);
}
