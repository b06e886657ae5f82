/*
 * tenant_template.c - new tenant databases copied from a template database per server
 * (lifecycle_internal.h), so that creating a tenant is one CREATE DATABASE instead of a
 * CREATE DATABASE and every migration.
 *
 * The template is a database of its own, TQ_TEMPLATE_DATABASE, owned by the role that
 * made it. Its comment records the tenant schema version it was migrated to (readable
 * from any database, with no connection to the template). It refuses connections
 * (ALLOW_CONNECTIONS false) except while it is being migrated: CREATE DATABASE ...
 * TEMPLATE fails while anyone is connected to the template, and no tenant has any
 * business there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle_internal.h"
#include "tenantql/migrate.h"
#include "tenantql/pg_admin.h"

/* two-key advisory lock of the registry session: this constant and a hash of host:port */
#define TEMPLATE_LOCK "pg_advisory_lock(83682, hashtext($1))"
#define TEMPLATE_UNLOCK "pg_advisory_unlock(83682, hashtext($1))"
#define VERSION_COMMENT "tenantql tenant schema version "

/* What a server says of its template: whether it exists, its owner, its version. */
typedef struct template_state {
    bool exists, db_exists;
    char owner[128];
    int version; /* -1: none recorded (made, never migrated to the end) */
} template_state;

static int read_state(PGconn *server, const char *db, template_state *st, char *err, size_t errlen)
{
    const char *params[] = {TQ_TEMPLATE_DATABASE, db};
    PGresult *res = tq_pg_query(
        server,
        "SELECT pg_get_userbyid(d.datdba), coalesce(shobj_description(d.oid, 'pg_database'), ''),"
        " EXISTS (SELECT 1 FROM pg_database WHERE datname = $2)"
        " FROM (SELECT 1) one LEFT JOIN pg_database d ON d.datname = $1",
        2, params, err, errlen);
    if (res == NULL)
        return -1;
    st->exists = !PQgetisnull(res, 0, 0);
    st->db_exists = PQgetvalue(res, 0, 2)[0] == 't';
    snprintf(st->owner, sizeof(st->owner), "%s", PQgetvalue(res, 0, 0));
    const char *comment = PQgetvalue(res, 0, 1);
    size_t plen = strlen(VERSION_COMMENT);
    st->version = strncmp(comment, VERSION_COMMENT, plen) == 0 ? atoi(comment + plen) : -1;
    PQclear(res);
    return 0;
}

/* Runs before, the template's quoted name, then after. */
static int exec_on_template(PGconn *server, const char *before, const char *after, char *err, size_t errlen)
{
    char *q = PQescapeIdentifier(server, TQ_TEMPLATE_DATABASE, strlen(TQ_TEMPLATE_DATABASE));
    if (q == NULL) {
        tq_pg_copy_error(PQerrorMessage(server), err, errlen);
        return -1;
    }
    char sql[512];
    snprintf(sql, sizeof(sql), "%s%s%s", before, q, after);
    PQfreemem(q);
    return tq_pg_exec(server, sql, err, errlen);
}

/* Opens the template for the time of its migration, migrates it as owner, records the
 * version and closes it again (also when the migration failed). */
static int migrate_template(PGconn *server, const char *host, const char *port, const char *owner, const char *password,
                            char *err, size_t errlen)
{
    if (exec_on_template(server, "ALTER DATABASE ", " ALLOW_CONNECTIONS true", err, errlen) != 0)
        return -1;
    PGconn *t = tq_pg_connect_db(host, port, TQ_TEMPLATE_DATABASE, owner, password, err, errlen);
    int rc = -1;
    if (t != NULL) {
        char detail[512];
        rc = tq_migrate(t, TQ_MIGRATIONS_TENANT, detail, sizeof(detail)) < 0 ? -1 : 0;
        if (rc != 0)
            snprintf(err, errlen, "migrating the template database %s: %s", TQ_TEMPLATE_DATABASE, detail);
        PQfinish(t);
    }
    if (rc == 0) {
        char sql[128];
        snprintf(sql, sizeof(sql), " IS '" VERSION_COMMENT "%d'", tq_migrate_latest_version(TQ_MIGRATIONS_TENANT));
        rc = exec_on_template(server, "COMMENT ON DATABASE ", sql, err, errlen);
    }
    char close_err[256];
    if (exec_on_template(server, "ALTER DATABASE ", " ALLOW_CONNECTIONS false", close_err, sizeof(close_err)) != 0 &&
        rc == 0) {
        snprintf(err, errlen, "closing the template database %s: %s", TQ_TEMPLATE_DATABASE, close_err);
        rc = -1;
    }
    return rc;
}

/* Makes the template (empty, closed, version unknown) owned by owner. */
static int make_template(PGconn *server, const char *owner, char *err, size_t errlen)
{
    char *qowner = PQescapeIdentifier(server, owner, strlen(owner));
    if (qowner == NULL) {
        tq_pg_copy_error(PQerrorMessage(server), err, errlen);
        return -1;
    }
    char sql[256];
    snprintf(sql, sizeof(sql), " OWNER %s ALLOW_CONNECTIONS false", qowner);
    PQfreemem(qowner);
    if (exec_on_template(server, "CREATE DATABASE ", sql, err, errlen) != 0)
        return -1;
    return exec_on_template(server, "REVOKE ALL ON DATABASE ", " FROM PUBLIC", err, errlen);
}

/* CREATE DATABASE db from the template. Strategy WAL_LOG (PostgreSQL 15's default): for
 * the template's 7.6 MB (nearly all of it template1's catalogs), measured on 2026-12-07
 * with bench/create (100 creations each, test cluster, fsync on, 2 cores): the CREATE
 * DATABASE statement alone takes ~100-130 ms with WAL_LOG, 570-2000 ms with FILE_COPY,
 * whose two checkpoints dominate; whole `tenant create` p50 103 ms vs 703 ms. */
static int clone_template(PGconn *server, const char *db, const char *owner, char *err, size_t errlen)
{
    char *qdb = PQescapeIdentifier(server, db, strlen(db));
    char *qowner = PQescapeIdentifier(server, owner, strlen(owner));
    int rc = -1;
    if (qdb != NULL && qowner != NULL) {
        const char *strategy = getenv("TENANTQL_TEMPLATE_STRATEGY"); /* measuring only; see bench/create */
        if (strategy == NULL || (strcmp(strategy, "wal_log") != 0 && strcmp(strategy, "file_copy") != 0))
            strategy = "wal_log";
        char sql[512], with[64] = "";
        if (PQserverVersion(server) >= 150000)
            snprintf(with, sizeof(with), " STRATEGY %s", strategy);
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE %s OWNER %s%s", qdb, TQ_TEMPLATE_DATABASE, qowner,
                 with);
        rc = tq_pg_exec(server, sql, err, errlen);
    } else {
        tq_pg_copy_error(PQerrorMessage(server), err, errlen);
    }
    PQfreemem(qdb);
    PQfreemem(qowner);
    return rc;
}

/* tq_template_create_database with the server's lock held. */
static int create_locked(PGconn *server, const char *host, const char *port, const char *db, const char *owner,
                         const char *password, char *err, size_t errlen)
{
    template_state st;
    if (read_state(server, db, &st, err, errlen) != 0)
        return -1;
    int latest = tq_migrate_latest_version(TQ_MIGRATIONS_TENANT);
    if (st.db_exists || (st.exists && strcmp(st.owner, owner) != 0) || st.version > latest)
        return 0; /* a template of a newer build: its copies would be ahead of this build */
    if (!st.exists && make_template(server, owner, err, errlen) != 0)
        return -1;
    if (st.version < latest && migrate_template(server, host, port, owner, password, err, errlen) != 0)
        return -1;
    return clone_template(server, db, owner, err, errlen) == 0 ? 1 : -1;
}

int tq_template_create_database(PGconn *registry, PGconn *server, const char *host, const char *port, const char *db,
                                const char *owner, const char *password, char *err, size_t errlen)
{
    char where[1100];
    snprintf(where, sizeof(where), "%s:%s", host, port);
    const char *params[] = {where};
    PGresult *res = tq_pg_query(registry, "SELECT " TEMPLATE_LOCK, 1, params, err, errlen);
    if (res == NULL)
        return -1;
    PQclear(res);
    int rc = create_locked(server, host, port, db, owner, password, err, errlen);
    PQclear(tq_pg_query(registry, "SELECT " TEMPLATE_UNLOCK, 1, params, NULL, 0));
    return rc;
}
