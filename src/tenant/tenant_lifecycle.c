/*
 * tenant_lifecycle.c - pool options as a whole, and offboarding (tenant_lifecycle.h):
 * deactivate and export, then, after the grace period, drop the database or schema and
 * the registry row. Both steps hold the tenant's move lock (move_internal.h) on the
 * registry session, so that neither runs beside a move, a pause or the other.
 */
#include "tenantql/tenant_lifecycle.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lifecycle_internal.h"
#include "move_internal.h"
#include "tenantql/pg_admin.h"
#include "tenantql/registry.h"
#include "tenantql/tenant_admin.h"

/* How long offboarding waits between deactivating the tenant and starting its export:
 * servers read the registry once a second, and a request let in just before they
 * noticed may still be writing; what it writes after the dump's snapshot would not be in
 * the export. */
#define SETTLE_MS 1500

int tq_tenant_set_pool_options(PGconn *registry, const char *name, const char *json, char *err, size_t errlen)
{
    if (tq_pool_options_check(json, err, errlen) != 0)
        return TQ_TENANT_INVALID;
    return tq_tenant_update_row(registry, "UPDATE tenants SET pool_options = $2::jsonb WHERE name = $1", name, json, err,
                                errlen);
}

/* The checks every offboarding step starts with: a valid name, a registry with migration
 * 6's columns, and the tenant's move lock taken (the caller gives it back with
 * move_unlock when this returns TQ_TENANT_OK). */
static int begin(PGconn *registry, const char *name, char *err, size_t errlen)
{
    if (!tq_tenant_name_valid(name)) {
        snprintf(err, errlen, "invalid tenant name \"%s\"", name);
        return TQ_TENANT_INVALID;
    }
    PGresult *res = tq_pg_query(registry, "SELECT offboarded_at, export_path FROM tenants LIMIT 0", 0, NULL, NULL, 0);
    if (res == NULL) {
        snprintf(err, errlen, "the registry has no offboarded_at column yet: run `tenantql migrate` first");
        return TQ_TENANT_FAILED;
    }
    PQclear(res);
    return move_lock_tenant(registry, name, err, errlen);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Exports the (now inactive) tenant and records it offboarded; active is put back to
 * was_active when the export fails. */
static int export_and_record(PGconn *registry, const char *name, const char *dir, bool was_active, char *path_out,
                             size_t path_len, char *err, size_t errlen)
{
    tq_tenant_place place;
    int rc = tq_tenant_place_read(registry, name, &place, err, errlen);
    if (rc != TQ_TENANT_OK)
        return rc;
    char path[PATH_MAX];
    rc = tq_tenant_export(&place, name, dir, path, sizeof(path), err, errlen) == 0 ? TQ_TENANT_OK : TQ_TENANT_FAILED;
    tq_tenant_place_free(&place);
    if (rc == TQ_TENANT_OK) {
        const char *params[] = {name, path};
        PGresult *res = tq_pg_query(registry,
                                    "UPDATE tenants SET offboarded_at = now(), export_path = $2 WHERE name = $1", 2,
                                    params, err, errlen);
        rc = res != NULL ? TQ_TENANT_OK : TQ_TENANT_FAILED;
        PQclear(res);
    }
    if (rc != TQ_TENANT_OK && was_active)
        tq_tenant_set_active(registry, name, true, NULL, 0);
    if (rc == TQ_TENANT_OK && path_out != NULL)
        snprintf(path_out, path_len, "%s", path);
    return rc;
}

static int offboard_locked(PGconn *registry, const char *name, const char *dir, char *path_out, size_t path_len,
                           char *err, size_t errlen)
{
    const char *params[] = {name};
    PGresult *res = tq_pg_query(registry,
                                "SELECT active, offboarded_at IS NOT NULL, coalesce(export_path, '')"
                                " FROM tenants WHERE name = $1",
                                1, params, err, errlen);
    if (res == NULL)
        return TQ_TENANT_FAILED;
    if (PQntuples(res) != 1) {
        PQclear(res);
        snprintf(err, errlen, "no tenant named \"%s\"", name);
        return TQ_TENANT_NOT_FOUND;
    }
    bool was_active = PQgetvalue(res, 0, 0)[0] == 't', offboarded = PQgetvalue(res, 0, 1)[0] == 't';
    if (offboarded && path_out != NULL)
        snprintf(path_out, path_len, "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    if (offboarded)
        return TQ_TENANT_OK; /* asked again: the first call's export stands */
    int rc = tq_tenant_set_active(registry, name, false, err, errlen);
    if (rc != TQ_TENANT_OK)
        return rc;
    if (was_active)
        sleep_ms(SETTLE_MS);
    return export_and_record(registry, name, dir, was_active, path_out, path_len, err, errlen);
}

int tq_tenant_offboard(PGconn *registry, const char *name, const char *export_dir, char *path_out, size_t path_len,
                       char *err, size_t errlen)
{
    int rc = begin(registry, name, err, errlen);
    if (rc != TQ_TENANT_OK)
        return rc;
    rc = offboard_locked(registry, name, export_dir ? export_dir : TQ_EXPORT_DIR_DEFAULT, path_out, path_len, err,
                         errlen);
    move_unlock(registry, name);
    return rc;
}

/* ---- step 2: drop ---- */

/* Whether another tenant's row names the place p (its database, for a database-placed
 * tenant; its schema of that database, for a schema-placed one): 1, 0, -1 (err filled). */
static int place_shared(PGconn *registry, const char *name, const tq_tenant_place *p, char *err, size_t errlen)
{
    const char *params[] = {name, p->host, p->port, p->db, p->schema_placed ? p->schema : NULL};
    PGresult *res = tq_pg_query(registry,
                                "SELECT count(*) FROM tenants WHERE name <> $1 AND db_host = $2 AND db_port = $3::int"
                                " AND db_name = $4 AND ($5::text IS NULL OR db_schema = $5)",
                                5, params, err, errlen);
    if (res == NULL)
        return -1;
    int shared = atoi(PQgetvalue(res, 0, 0)) > 0;
    PQclear(res);
    return shared;
}

/* Runs before, name quoted as an identifier, then after, on c. */
static int exec_named(PGconn *c, const char *before, const char *name, const char *after, char *err, size_t errlen)
{
    char *q = PQescapeIdentifier(c, name, strlen(name));
    if (q == NULL) {
        tq_pg_copy_error(PQerrorMessage(c), err, errlen);
        return -1;
    }
    char sql[256];
    snprintf(sql, sizeof(sql), "%s%s%s", before, q, after);
    PQfreemem(q);
    return tq_pg_exec(c, sql, err, errlen);
}

/* Drops the tenant's own database, through the registry's session when it is on the
 * registry's server, else as its own user (the database's owner). */
static int drop_database(PGconn *registry, const tq_tenant_place *p, char *err, size_t errlen)
{
    bool same_server = strcmp(p->host, PQhost(registry)) == 0 && strcmp(p->port, PQport(registry)) == 0;
    static const char *const never[] = {"postgres", "template0", "template1", TQ_TEMPLATE_DATABASE};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        if (strcmp(p->db, never[i]) == 0 || (same_server && strcmp(p->db, PQdb(registry)) == 0)) {
            snprintf(err, errlen, "refusing to drop database %s", p->db);
            return -1;
        }
    PGconn *server = same_server ? registry
                                 : tq_pg_connect_db(p->host, p->port, "postgres", p->user, p->password, err, errlen);
    if (server == NULL)
        return -1;
    int rc = exec_named(server, "DROP DATABASE IF EXISTS ", p->db, " WITH (FORCE)", err, errlen);
    if (server != registry)
        PQfinish(server);
    return rc;
}

/* Drops the tenant's role (db_role) unless another tenant of the server has it: first
 * what it may do in the shared database (tenant, a member of it), then the role, through
 * the registry's session when the cluster is the registry's (as tenant_admin.c made it). */
static int drop_role(PGconn *registry, PGconn *tenant, const tq_tenant_place *p, const char *name, const char *role,
                     char *err, size_t errlen)
{
    const char *params[] = {name, p->host, p->port, role};
    PGresult *res = tq_pg_query(registry,
                                "SELECT count(*) FROM tenants t WHERE name <> $1 AND db_host = $2"
                                " AND db_port = $3::int AND db_role = $4",
                                4, params, err, errlen);
    if (res == NULL)
        return -1;
    int others = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (others > 0)
        return 0;
    res = tq_pg_query(tenant, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, params + 3, err, errlen);
    if (res == NULL)
        return -1;
    int exists = PQntuples(res) > 0;
    PQclear(res);
    if (!exists)
        return 0;
    if (exec_named(tenant, "DROP OWNED BY ", role, "", err, errlen) != 0)
        return -1;
    bool same_server = strcmp(p->host, PQhost(registry)) == 0 && strcmp(p->port, PQport(registry)) == 0;
    return exec_named(same_server ? registry : tenant, "DROP ROLE IF EXISTS ", role, "", err, errlen);
}

/* Drops the tenant's schema of its shared database, and its role. */
static int drop_schema(PGconn *registry, const tq_tenant_place *p, const char *name, const char *role, char *err,
                       size_t errlen)
{
    PGconn *tenant = tq_pg_connect_db(p->host, p->port, p->db, p->user, p->password, err, errlen);
    if (tenant == NULL)
        return -1;
    /* behind a long statement of another tenant's on a shared catalog: give up, not hang */
    int rc = tq_pg_exec(tenant, "SET lock_timeout = '10s'", err, errlen);
    if (rc == 0)
        rc = exec_named(tenant, "DROP SCHEMA IF EXISTS ", p->schema, " CASCADE", err, errlen);
    if (rc == 0 && role != NULL)
        rc = drop_role(registry, tenant, p, name, role, err, errlen);
    PQfinish(tenant);
    return rc;
}

/* Drops the offboarded tenant's place, then its row. */
static int drop_place_and_row(PGconn *registry, const char *name, const char *role, char *err, size_t errlen)
{
    tq_tenant_place p;
    int rc = tq_tenant_place_read(registry, name, &p, err, errlen);
    if (rc != TQ_TENANT_OK)
        return rc;
    int shared = place_shared(registry, name, &p, err, errlen);
    if (shared < 0)
        rc = TQ_TENANT_FAILED;
    else if (!shared && p.schema_placed)
        rc = drop_schema(registry, &p, name, role, err, errlen) == 0 ? TQ_TENANT_OK : TQ_TENANT_FAILED;
    else if (!shared)
        rc = drop_database(registry, &p, err, errlen) == 0 ? TQ_TENANT_OK : TQ_TENANT_FAILED;
    tq_tenant_place_free(&p);
    if (rc != TQ_TENANT_OK)
        return rc;
    const char *params[] = {name};
    PGresult *res = tq_pg_query(registry, "DELETE FROM tenants WHERE name = $1 AND offboarded_at IS NOT NULL", 1,
                                params, err, errlen);
    if (res == NULL)
        return TQ_TENANT_FAILED;
    PQclear(res);
    return TQ_TENANT_OK;
}

static int drop_locked(PGconn *registry, const char *name, long grace_s, bool force, char *err, size_t errlen)
{
    char grace[32];
    snprintf(grace, sizeof(grace), "%ld", grace_s);
    const char *params[] = {name, grace};
    PGresult *res = tq_pg_query(
        registry,
        "SELECT offboarded_at IS NOT NULL, offboarded_at + make_interval(secs => $2::bigint) <= now(),"
        " to_char((offboarded_at + make_interval(secs => $2::bigint)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " ceil(extract(epoch FROM offboarded_at + make_interval(secs => $2::bigint) - now()))::bigint, db_role"
        " FROM tenants WHERE name = $1",
        2, params, err, errlen);
    if (res == NULL)
        return TQ_TENANT_FAILED;
    int rc = TQ_TENANT_OK;
    if (PQntuples(res) != 1) {
        snprintf(err, errlen, "no tenant named \"%s\"", name);
        rc = TQ_TENANT_NOT_FOUND;
    } else if (PQgetvalue(res, 0, 0)[0] != 't') {
        snprintf(err, errlen,
                 "tenant \"%s\" is not offboarded: `tenant delete %s` (DELETE /tenants/%s) deactivates and exports it "
                 "first",
                 name, name, name);
        rc = TQ_TENANT_WRONG_STATE;
    } else if (!force && PQgetvalue(res, 0, 1)[0] != 't') {
        snprintf(err, errlen, "tenant \"%s\" is in its grace period until %s (%s s from now); force drops it sooner",
                 name, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
        rc = TQ_TENANT_WRONG_STATE;
    }
    char role[128] = "";
    if (rc == TQ_TENANT_OK && !PQgetisnull(res, 0, 4))
        snprintf(role, sizeof(role), "%s", PQgetvalue(res, 0, 4));
    PQclear(res);
    if (rc != TQ_TENANT_OK)
        return rc;
    return drop_place_and_row(registry, name, role[0] ? role : NULL, err, errlen);
}

int tq_tenant_drop(PGconn *registry, const char *name, long grace_s, bool force, char *err, size_t errlen)
{
    if (grace_s < 0) {
        snprintf(err, errlen, "the grace period must not be negative");
        return TQ_TENANT_INVALID;
    }
    int rc = begin(registry, name, err, errlen);
    if (rc != TQ_TENANT_OK)
        return rc;
    rc = drop_locked(registry, name, grace_s, force, err, errlen);
    move_unlock(registry, name);
    return rc;
}

int tq_tenant_drop_expired(PGconn *registry, const char *export_dir, long grace_s, int *dropped, char *err,
                           size_t errlen)
{
    (void)export_dir;
    if (dropped != NULL)
        *dropped = 0;
    char grace[32], limit[16];
    snprintf(grace, sizeof(grace), "%ld", grace_s < 0 ? 0 : grace_s);
    snprintf(limit, sizeof(limit), "%d", TQ_DROP_EXPIRED_MAX);
    const char *params[] = {grace, limit};
    PGresult *res = tq_pg_query(
        registry,
        "SELECT name FROM tenants WHERE offboarded_at + make_interval(secs => $1::bigint) <= now()"
        " ORDER BY offboarded_at LIMIT $2::int",
        2, params, err, errlen);
    if (res == NULL)
        return TQ_TENANT_FAILED;
    int rc = TQ_TENANT_OK;
    for (int i = 0; i < PQntuples(res); i++) {
        char one[512];
        if (tq_tenant_drop(registry, PQgetvalue(res, i, 0), grace_s, false, one, sizeof(one)) == TQ_TENANT_OK) {
            if (dropped != NULL)
                (*dropped)++;
        } else if (rc == TQ_TENANT_OK) {
            snprintf(err, errlen, "tenant %s: %s", PQgetvalue(res, i, 0), one);
            rc = TQ_TENANT_FAILED;
        }
    }
    PQclear(res);
    return rc;
}
