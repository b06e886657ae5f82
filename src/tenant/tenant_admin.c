/*
 * tenant_admin.c - tenant administration against the registry (see tenant_admin.h).
 */
#include "tenantql/tenant_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/migrate.h"
#include "tenantql/pg_admin.h"
#include "tenantql/quota.h"

#define SELECT_TENANT_CONN \
    "SELECT db_host, db_port::text, db_name, db_user, db_password FROM tenants WHERE name = $1"

bool tq_tenant_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 48 || !(name[0] >= 'a' && name[0] <= 'z'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* CREATE DATABASE cannot take parameters; the name is quoted as an identifier. */
int tq_tenant_create_database(PGconn *server, const char *db_name, const char *owner, char *err, size_t errlen)
{
    const char *params[] = {db_name};
    PGresult *res = tq_pg_query(server, "SELECT 1 FROM pg_database WHERE datname = $1", 1, params, err, errlen);
    if (res == NULL)
        return -1;
    int exists = PQntuples(res) > 0;
    PQclear(res);
    if (exists)
        return 0;
    char *qname = PQescapeIdentifier(server, db_name, strlen(db_name));
    char *qowner = PQescapeIdentifier(server, owner, strlen(owner));
    char sql[512];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER %s", qname, qowner);
    PQfreemem(qname);
    PQfreemem(qowner);
    return tq_pg_exec(server, sql, err, errlen);
}

static int find_tenant_id(PGconn *registry, const char *name, char id_out[37], char *err, size_t errlen)
{
    const char *params[] = {name};
    PGresult *res = tq_pg_query(registry, "SELECT id::text FROM tenants WHERE name = $1", 1, params, err, errlen);
    if (res == NULL)
        return -1;
    int found = PQntuples(res) == 1;
    if (found)
        snprintf(id_out, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return found;
}

int tq_tenant_create(PGconn *registry, const tq_tenant_spec *spec, bool if_missing, char id_out[37], char *err,
                     size_t errlen)
{
    if (!tq_tenant_name_valid(spec->name)) {
        snprintf(err, errlen, "invalid tenant name \"%s\": use 1-48 of a-z, 0-9 and _, starting with a letter",
                 spec->name);
        return -1;
    }
    if (spec->quota != NULL && tq_quota_check(spec->quota, err, errlen) != 0)
        return -1;
    int found = find_tenant_id(registry, spec->name, id_out, err, errlen);
    if (found < 0)
        return -1;
    if (found && !if_missing) {
        snprintf(err, errlen, "tenant \"%s\" already exists", spec->name);
        return -1;
    }

    char db_name[80];
    snprintf(db_name, sizeof(db_name), "tenant_%s", spec->name);
    const char *host = spec->db_host ? spec->db_host : PQhost(registry);
    const char *port = spec->db_port ? spec->db_port : PQport(registry);
    const char *db = spec->db_name ? spec->db_name : db_name;
    const char *user = spec->db_user ? spec->db_user : PQuser(registry);
    const char *password = spec->db_password ? spec->db_password : PQpass(registry);
    if (password == NULL)
        password = "";

    if (!found) {
        /* the database lives on the tenant's server; reuse the registry session when that is the same server */
        int same_server = strcmp(host, PQhost(registry)) == 0 && strcmp(port, PQport(registry)) == 0;
        PGconn *server = same_server ? registry : tq_pg_connect_db(host, port, "postgres", user, password, err, errlen);
        if (server == NULL)
            return -1;
        int rc = tq_tenant_create_database(server, db, user, err, errlen);
        if (server != registry)
            PQfinish(server);
        if (rc != 0)
            return -1;
    }

    PGconn *tenant = found ? tq_tenant_connect(registry, spec->name, err, errlen)
                           : tq_pg_connect_db(host, port, db, user, password, err, errlen);
    if (tenant == NULL)
        return -1;
    char detail[512];
    int applied = tq_migrate(tenant, TQ_MIGRATIONS_TENANT, detail, sizeof(detail));
    PQfinish(tenant);
    if (applied < 0) {
        snprintf(err, errlen, "migrating %s: %s", db, detail);
        return -1;
    }
    if (found)
        return 0;

    const char *pool_options = spec->pool_options ? spec->pool_options : "{}";
    const char *params[] = {spec->name, host, port, db, user, password, pool_options, spec->quota ? spec->quota : "{}"};
    PGresult *res = tq_pg_query(registry,
                                "INSERT INTO tenants (name, db_host, db_port, db_name, db_user, db_password,"
                                " pool_options, quota) VALUES ($1, $2, $3::int, $4, $5, $6, $7::jsonb, $8::jsonb)"
                                " RETURNING id::text",
                                8, params, err, errlen);
    if (res == NULL)
        return -1;
    snprintf(id_out, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

PGconn *tq_tenant_connect(PGconn *registry, const char *name, char *err, size_t errlen)
{
    const char *params[] = {name};
    PGresult *res = tq_pg_query(registry, SELECT_TENANT_CONN, 1, params, err, errlen);
    if (res == NULL)
        return NULL;
    if (PQntuples(res) != 1) {
        snprintf(err, errlen, "no tenant named \"%s\"", name);
        PQclear(res);
        return NULL;
    }
    PGconn *c = tq_pg_connect_db(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
                                 PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), err, errlen);
    PQclear(res);
    return c;
}


/* Runs an UPDATE of one tenant's row ($1 its name, $2 the new value); -1 with err filled
 * when it fails or no tenant has that name. */
static int update_tenant(PGconn *registry, const char *sql, const char *name, const char *value, char *err,
                         size_t errlen)
{
    const char *params[] = {name, value};
    PGresult *res = tq_pg_query(registry, sql, 2, params, err, errlen);
    if (res == NULL)
        return -1;
    int n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n != 1) {
        snprintf(err, errlen, "no tenant named \"%s\"", name);
        return -1;
    }
    return 0;
}

int tq_tenant_set_quota(PGconn *registry, const char *name, const char *quota, char *err, size_t errlen)
{
    if (tq_quota_check(quota, err, errlen) != 0)
        return -1;
    return update_tenant(registry, "UPDATE tenants SET quota = $2::jsonb WHERE name = $1", name, quota, err, errlen);
}

int tq_tenant_set_active(PGconn *registry, const char *name, bool active, char *err, size_t errlen)
{
    return update_tenant(registry, "UPDATE tenants SET active = $2::boolean WHERE name = $1", name,
                         active ? "true" : "false", err, errlen);
}
