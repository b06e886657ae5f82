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
#include "tenantql/registry.h"
#include "tenantql/secret.h"

#include "lifecycle_internal.h"

/* placement and db_schema by way of to_jsonb: a registry from before migration 3 has
 * only tenants with databases of their own */
#define SELECT_TENANT_CONN                                                                                             \
    "SELECT db_host, db_port::text, db_name, db_user, db_password,"                                                    \
    " coalesce(to_jsonb(t) ->> 'placement', 'database'), coalesce(to_jsonb(t) ->> 'db_schema', 'public')"              \
    " FROM tenants t WHERE name = $1"
enum { CONN_HOST, CONN_PORT, CONN_DB, CONN_USER, CONN_PASSWORD, CONN_PLACEMENT, CONN_SCHEMA };

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

/* The registry row's connection settings of a tenant (SELECT_TENANT_CONN): 1 with *out
 * set (the caller PQclears it), 0 when there is no such tenant, -1 with err filled. */
static int tenant_conn_row(PGconn *registry, const char *name, PGresult **out, char *err, size_t errlen)
{
    const char *params[] = {name};
    PGresult *res = tq_pg_query(registry, SELECT_TENANT_CONN, 1, params, err, errlen);
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 0;
    }
    *out = res;
    return 1;
}

/* tenant_conn_row as a tq_tenant_result: TQ_TENANT_OK with *out set, TQ_TENANT_NOT_FOUND or
 * TQ_TENANT_FAILED with err filled. */
static int conn_row(PGconn *registry, const char *name, PGresult **out, char *err, size_t errlen)
{
    int found = tenant_conn_row(registry, name, out, err, errlen);
    if (found > 0)
        return TQ_TENANT_OK;
    if (found == 0)
        snprintf(err, errlen, "no tenant named \"%s\"", name);
    return found == 0 ? TQ_TENANT_NOT_FOUND : TQ_TENANT_FAILED;
}

/* The password of a row of SELECT_TENANT_CONN, whatever form it is stored in
 * (tq_secret_reveal): free it with tq_secret_free. NULL with err naming the tenant. */
static char *row_password(PGresult *row, const char *name, char *err, size_t errlen)
{
    char why[256];
    char *pw = tq_secret_reveal(PQgetvalue(row, 0, CONN_PASSWORD), why, sizeof(why));
    if (pw == NULL)
        snprintf(err, errlen, "tenant \"%s\": its database password cannot be used: %s", name, why);
    return pw;
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

/* Where a new tenant's tables go, from its spec: placement and schema checked, defaults
 * filled in (schema_buf holds tenant_<name>). 0, or -1 with err filled. */
static int resolve_placement(const tq_tenant_spec *spec, bool *schema_placed, const char **schema, char *schema_buf,
                             size_t buflen, char *err, size_t errlen)
{
    const char *placement = spec->placement ? spec->placement : "database";
    *schema_placed = strcmp(placement, "schema") == 0;
    if (!*schema_placed && strcmp(placement, "database") != 0) {
        snprintf(err, errlen, "placement must be \"database\" or \"schema\", not \"%s\"", placement);
        return -1;
    }
    if (!*schema_placed) {
        if (spec->db_schema != NULL && strcmp(spec->db_schema, "public") != 0) {
            snprintf(err, errlen,
                     "a tenant with a database of its own has its tables in schema public;"
                     " a schema of its own is placement schema");
            return -1;
        }
        *schema = "public";
        return 0;
    }
    snprintf(schema_buf, buflen, "tenant_%s", spec->name);
    *schema = spec->db_schema ? spec->db_schema : schema_buf;
    if (!tq_schema_name_valid(*schema) || strcmp(*schema, "public") == 0) {
        snprintf(err, errlen,
                 "invalid schema \"%s\": use 1-63 of a-z, 0-9 and _, not starting with a digit, and not public",
                 *schema);
        return -1;
    }
    return 0;
}

/* Refuses what (a schema, a role) when the query of four parameters finds a tenant that
 * already has it (its first column is that tenant's name): 0, TQ_TENANT_EXISTS, or -1 with
 * err filled. why
 * follows the refusal, or is "". */
static int refuse_if_taken(PGconn *registry, const char *sql, const char *const params[4], const char *what,
                           const char *why, char *err, size_t errlen)
{
    PGresult *res = tq_pg_query(registry, sql, 4, params, err, errlen);
    if (res == NULL)
        return -1;
    int taken = PQntuples(res) > 0;
    if (taken)
        snprintf(err, errlen, "%s already belongs to tenant \"%s\"%s", what, PQgetvalue(res, 0, 0), why);
    PQclear(res);
    return taken ? TQ_TENANT_EXISTS : TQ_TENANT_OK;
}

/* Refuses a schema of the shared database that another tenant has (the registry's unique
 * index would refuse the row anyway, but only after the schema had been migrated). */
static int check_schema_free(PGconn *registry, const char *host, const char *port, const char *db, const char *schema,
                             char *err, size_t errlen)
{
    const char *params[] = {host, port, db, schema};
    char what[200];
    snprintf(what, sizeof(what), "schema %s of database %s", schema, db);
    return refuse_if_taken(registry,
                           "SELECT name FROM tenants WHERE placement = 'schema' AND db_host = $1"
                           " AND db_port = $2::int AND db_name = $3 AND db_schema = $4",
                           params, what, "", err, errlen);
}

/* ---- a role per tenant ---- */

#define ROLE_FOR_SCHEMA_ONLY                                                                                           \
    "a role per tenant is for tenants that share a database (placement schema), where it makes PostgreSQL refuse "   \
    "another tenant's schema; tenant \"%s\" has a database of its own, which already keeps it apart (give it a "      \
    "login role of its own with --db-user instead)"

/* Whether two sessions reach the same PostgreSQL cluster (its system identifier, which any
 * role may read): 1, 0, or -1 with err filled. */
static int same_cluster(PGconn *a, PGconn *b, char *err, size_t errlen)
{
    static const char sql[] = "SELECT system_identifier::text FROM pg_catalog.pg_control_system()";
    PGresult *ra = tq_pg_query(a, sql, 0, NULL, err, errlen);
    if (ra == NULL)
        return -1;
    PGresult *rb = tq_pg_query(b, sql, 0, NULL, err, errlen);
    int same = rb == NULL ? -1 : strcmp(PQgetvalue(ra, 0, 0), PQgetvalue(rb, 0, 0)) == 0;
    PQclear(ra);
    PQclear(rb);
    return same;
}

/* Refuses a role that another tenant of the same server has (the registry's unique index
 * would too, with a less helpful message). db_role by way of to_jsonb: before migration 5
 * no tenant has one. */
static int check_role_free(PGconn *registry, const char *host, const char *port, const char *role, const char *name,
                           char *err, size_t errlen)
{
    const char *params[] = {host, port, role, name};
    char what[100];
    snprintf(what, sizeof(what), "role %s", role);
    return refuse_if_taken(registry,
                           "SELECT name FROM tenants t WHERE db_host = $1 AND db_port = $2::int"
                           " AND to_jsonb(t) ->> 'db_role' = $3 AND name <> $4",
                           params, what, ": a role shared by two tenants reaches both", err, errlen);
}

/* Through admin (a session that may create roles): the role exists, NOLOGIN when made
 * here, is no superuser and no member of the login role, and the login role is a member
 * of it (the right to SET ROLE to it). */
static int ensure_role_granted(PGconn *admin, const char *role, const char *login, char *err, size_t errlen)
{
    const char *params[] = {role, login};
    PGresult *res = tq_pg_query(admin,
                                "SELECT rolsuper, pg_has_role($1, $2, 'MEMBER'), pg_has_role($2, $1, 'MEMBER')"
                                " FROM pg_roles WHERE rolname = $1",
                                2, params, err, errlen);
    if (res == NULL)
        return -1;
    bool exists = PQntuples(res) == 1;
    bool super = exists && PQgetvalue(res, 0, 0)[0] == 't';
    bool has_login = exists && PQgetvalue(res, 0, 1)[0] == 't';
    bool granted = exists && PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    if (super) {
        snprintf(err, errlen, "role %s is a superuser: PostgreSQL would check none of its privileges", role);
        return -1;
    }
    if (has_login) {
        snprintf(err, errlen, "role %s is a member of the login role %s: it would reach every tenant's schema", role,
                 login);
        return -1;
    }
    char *qrole = PQescapeIdentifier(admin, role, strlen(role));
    char *qlogin = PQescapeIdentifier(admin, login, strlen(login));
    char sql[512];
    int rc = 0;
    if (!exists) {
        snprintf(sql, sizeof(sql), "CREATE ROLE %s NOLOGIN", qrole);
        rc = tq_pg_exec(admin, sql, err, errlen);
    }
    if (rc == 0 && !granted) {
        snprintf(sql, sizeof(sql), "GRANT %s TO %s", qrole, qlogin);
        rc = tq_pg_exec(admin, sql, err, errlen);
    }
    PQfreemem(qrole);
    PQfreemem(qlogin);
    return rc;
}

/* Through tenant (the login role's session, owner of the schema and its tables): the
 * role may use the schema's tables, now and those the login role makes later (its
 * migrations), and PUBLIC may not use the schema at all; then checks that it worked (a
 * table some other role owns would have been skipped with a mere warning). */
static int grant_schema(PGconn *tenant, const char *schema, const char *role, const char *login, char *err,
                        size_t errlen)
{
    char *qs = PQescapeIdentifier(tenant, schema, strlen(schema));
    char *qr = PQescapeIdentifier(tenant, role, strlen(role));
    char *ql = PQescapeIdentifier(tenant, login, strlen(login));
    char sql[2048];
    /* one simple query: one transaction */
    snprintf(sql, sizeof(sql),
             "REVOKE ALL ON SCHEMA %1$s FROM PUBLIC;"
             " GRANT USAGE ON SCHEMA %1$s TO %2$s;"
             " GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %1$s TO %2$s;"
             " GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %1$s TO %2$s;"
             " ALTER DEFAULT PRIVILEGES FOR ROLE %3$s IN SCHEMA %1$s"
             " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %2$s;"
             " ALTER DEFAULT PRIVILEGES FOR ROLE %3$s IN SCHEMA %1$s GRANT USAGE, SELECT ON SEQUENCES TO %2$s",
             qs, qr, ql);
    PQfreemem(qs);
    PQfreemem(qr);
    PQfreemem(ql);
    if (tq_pg_exec(tenant, sql, err, errlen) != 0)
        return -1;
    const char *params[] = {schema, role};
    PGresult *res = tq_pg_query(
        tenant,
        "SELECT has_schema_privilege($2, $1, 'USAGE'), string_agg(c.relname, ', ' ORDER BY c.relname)"
        " FILTER (WHERE NOT (has_table_privilege($2, c.oid, 'SELECT') AND has_table_privilege($2, c.oid, 'INSERT')"
        " AND has_table_privilege($2, c.oid, 'UPDATE') AND has_table_privilege($2, c.oid, 'DELETE')))"
        " FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')"
        " WHERE n.nspname = $1 GROUP BY n.oid",
        2, params, err, errlen);
    if (res == NULL)
        return -1;
    int rc = 0;
    if (PQntuples(res) != 1) {
        snprintf(err, errlen, "schema %s does not exist", schema);
        rc = -1;
    } else if (PQgetvalue(res, 0, 0)[0] != 't' || !PQgetisnull(res, 0, 1)) {
        snprintf(err, errlen, "role %s lacks rights on schema %s%s%s (owned by another role than %s?)", role, schema,
                 PQgetisnull(res, 0, 1) ? "" : ", tables ", PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1),
                 login);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* Makes role the tenant's role for schema (see tq_tenant_set_role); tenant is the login
 * role's session on the shared database. */
static int setup_role(PGconn *registry, PGconn *tenant, const char *schema, const char *role, char *err,
                      size_t errlen)
{
    const char *login = PQuser(tenant);
    if (strcmp(role, login) == 0) {
        snprintf(err, errlen, "the tenant's role must not be the login role %s, which reaches every schema", login);
        return -1;
    }
    int same = same_cluster(registry, tenant, err, errlen);
    if (same < 0)
        return -1;
    /* roles are the cluster's: made by the registry's administrator when the cluster is its */
    if (ensure_role_granted(same ? registry : tenant, role, login, err, errlen) != 0)
        return -1;
    return grant_schema(tenant, schema, role, login, err, errlen);
}

/* Refuses to set up a role that a registry from before migration 5 could not record (the
 * grants would be made, and the row's update fail). */
static int check_registry_has_roles(PGconn *registry, char *err, size_t errlen)
{
    PGresult *res = tq_pg_query(registry, "SELECT db_role FROM tenants LIMIT 0", 0, NULL, err, errlen);
    if (res == NULL) {
        snprintf(err, errlen, "the registry has no db_role column yet: run `tenantql migrate` first");
        return -1;
    }
    PQclear(res);
    return 0;
}

static bool valid_role(const char *role, char *err, size_t errlen)
{
    if (tq_role_name_valid(role))
        return true;
    snprintf(err, errlen, "invalid role name \"%s\": use 1-63 of a-z, 0-9 and _, not starting with a digit or pg_",
             role);
    return false;
}

/* Migrates an existing tenant where its registry row says (create with if_missing). */
static int migrate_existing(PGconn *registry, const char *name, bool schema_placed, char *err, size_t errlen)
{
    PGresult *row = NULL;
    int found = conn_row(registry, name, &row, err, errlen);
    if (found != TQ_TENANT_OK)
        return found;
    const char *placement = PQgetvalue(row, 0, CONN_PLACEMENT);
    bool row_schema_placed = strcmp(placement, "schema") == 0;
    if (row_schema_placed != schema_placed) {
        snprintf(err, errlen, "tenant \"%s\" exists with placement %s; moving a tenant is not supported", name,
                 placement);
        PQclear(row);
        return TQ_TENANT_EXISTS;
    }
    char *password = row_password(row, name, err, errlen);
    PGconn *tenant = password == NULL ? NULL
                                      : tq_pg_connect_db(PQgetvalue(row, 0, CONN_HOST), PQgetvalue(row, 0, CONN_PORT),
                                                         PQgetvalue(row, 0, CONN_DB), PQgetvalue(row, 0, CONN_USER),
                                                         password, err, errlen);
    tq_secret_free(password);
    char detail[512];
    int applied = -1;
    if (tenant != NULL) {
        applied = row_schema_placed ? tq_migrate_schema(tenant, TQ_MIGRATIONS_TENANT, PQgetvalue(row, 0, CONN_SCHEMA),
                                                        detail, sizeof(detail))
                                    : tq_migrate(tenant, TQ_MIGRATIONS_TENANT, detail, sizeof(detail));
        PQfinish(tenant);
        if (applied < 0)
            snprintf(err, errlen, "migrating %s: %s", name, detail);
    }
    PQclear(row);
    return applied < 0 ? -1 : 0;
}

/* Where a new tenant goes and with which credentials (tq_tenant_create). */
typedef struct new_place {
    bool schema_placed;
    const char *host, *port, *db, *user, *password, *schema;
    const char *stored; /* the form of the password its row keeps (sealed, a reference, plain) */
} new_place;

/* Whether the registry has migration 6's columns (schema_version, migrated_at), which a
 * new row then fills in: 1, 0 (an older registry, which takes the row without them). */
static int registry_has_versions(PGconn *registry)
{
    PGresult *res = tq_pg_query(registry, "SELECT schema_version, migrated_at FROM tenants LIMIT 0", 0, NULL, NULL, 0);
    PQclear(res);
    return res != NULL;
}

/* Records that the tenant is at this build's newest migration. */
static int record_version(PGconn *registry, const char *name, char *err, size_t errlen)
{
    char version[16];
    snprintf(version, sizeof(version), "%d", tq_migrate_latest_version(TQ_MIGRATIONS_TENANT));
    const char *params[] = {name, version};
    PGresult *res = tq_pg_query(registry,
                                "UPDATE tenants SET schema_version = greatest(schema_version, $2::int),"
                                " migrated_at = now() WHERE name = $1",
                                2, params, err, errlen);
    PQclear(res);
    return res != NULL ? TQ_TENANT_OK : TQ_TENANT_FAILED;
}

/* Inserts the new tenant's row: a database-placed tenant leaves placement and db_schema
 * to their defaults, so that a registry from before migration 3 still takes it; likewise
 * db_role (migration 5) and schema_version, migrated_at (migration 6). */
static int insert_row(PGconn *registry, const tq_tenant_spec *spec, const new_place *p, char id_out[37], char *err,
                      size_t errlen)
{
    const char *params[12] = {spec->name,
                              p->host,
                              p->port,
                              p->db,
                              p->user,
                              p->stored,
                              spec->pool_options ? spec->pool_options : "{}",
                              spec->quota ? spec->quota : "{}"};
    int n = 8;
    char cols[256] = "name, db_host, db_port, db_name, db_user, db_password, pool_options, quota";
    char vals[256] = "$1, $2, $3::int, $4, $5, $6, $7::jsonb, $8::jsonb";
    size_t cl = strlen(cols), vl = strlen(vals);
    if (p->schema_placed || spec->db_role != NULL) {
        params[n++] = "schema";
        params[n++] = p->schema;
        cl += (size_t)snprintf(cols + cl, sizeof(cols) - cl, ", placement, db_schema");
        vl += (size_t)snprintf(vals + vl, sizeof(vals) - vl, ", $%d, $%d", n - 1, n);
    }
    if (spec->db_role != NULL) {
        params[n++] = spec->db_role;
        cl += (size_t)snprintf(cols + cl, sizeof(cols) - cl, ", db_role");
        vl += (size_t)snprintf(vals + vl, sizeof(vals) - vl, ", $%d", n);
    }
    char version[16];
    if (registry_has_versions(registry)) {
        snprintf(version, sizeof(version), "%d", tq_migrate_latest_version(TQ_MIGRATIONS_TENANT));
        params[n++] = version;
        cl += (size_t)snprintf(cols + cl, sizeof(cols) - cl, ", schema_version, migrated_at");
        vl += (size_t)snprintf(vals + vl, sizeof(vals) - vl, ", $%d::int, now()", n);
    }
    char sql[640];
    snprintf(sql, sizeof(sql), "INSERT INTO tenants (%s) VALUES (%s) RETURNING id::text", cols, vals);
    PGresult *res = tq_pg_query(registry, sql, n, params, err, errlen);
    if (res == NULL) {
        tq_secret_scrub_error(err); /* a DETAIL may quote the row */
        return TQ_TENANT_FAILED;
    }
    snprintf(id_out, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return TQ_TENANT_OK;
}

/* Makes the new tenant's database: a copy of the server's template, already migrated,
 * when it can (tenant_template.c; *migrated set), else an empty one (the shared database
 * of placement schema is made that way too, once). */
static int make_database(PGconn *registry, const new_place *p, bool *migrated, char *err, size_t errlen)
{
    /* the database lives on the tenant's server; reuse the registry session when that is the same server */
    int same_server = strcmp(p->host, PQhost(registry)) == 0 && strcmp(p->port, PQport(registry)) == 0;
    PGconn *server = same_server ? registry
                                 : tq_pg_connect_db(p->host, p->port, "postgres", p->user, p->password, err, errlen);
    if (server == NULL)
        return -1;
    int copied = p->schema_placed ? 0
                                  : tq_template_create_database(registry, server, p->host, p->port, p->db, p->user,
                                                                p->password, err, errlen);
    *migrated = copied == 1;
    int rc = copied < 0 ? -1 : copied ? 0 : tq_tenant_create_database(server, p->db, p->user, err, errlen);
    if (server != registry)
        PQfinish(server);
    return rc;
}

/* Migrates the new tenant's tables and sets up its role: a new schema in one round trip
 * (tq_migrate_schema_new), one that exists already (left by someone) step by step. */
static int migrate_new(PGconn *registry, const tq_tenant_spec *spec, const new_place *p, char *err, size_t errlen)
{
    PGconn *tenant = tq_pg_connect_db(p->host, p->port, p->db, p->user, p->password, err, errlen);
    if (tenant == NULL)
        return -1;
    char detail[512];
    /* a schema-placed tenant's schema is made by its migrations, with the shared role as its owner */
    int applied = p->schema_placed
                      ? tq_migrate_schema_new(tenant, TQ_MIGRATIONS_TENANT, p->schema, detail, sizeof(detail))
                      : tq_migrate(tenant, TQ_MIGRATIONS_TENANT, detail, sizeof(detail));
    if (applied == -2)
        applied = tq_migrate_schema(tenant, TQ_MIGRATIONS_TENANT, p->schema, detail, sizeof(detail));
    if (applied < 0) {
        PQfinish(tenant);
        if (p->schema_placed)
            snprintf(err, errlen, "migrating schema %s of %s: %s", p->schema, p->db, detail);
        else
            snprintf(err, errlen, "migrating %s: %s", p->db, detail);
        return -1;
    }
    /* after the migrations, so that the grants find the tables */
    int role_rc = spec->db_role != NULL ? setup_role(registry, tenant, p->schema, spec->db_role, err, errlen) : 0;
    PQfinish(tenant);
    return role_rc;
}

/* The spec's checks that need no database (tq_tenant_create): TQ_TENANT_OK or TQ_TENANT_INVALID. */
static int check_spec(const tq_tenant_spec *spec, new_place *p, char *schema_buf, size_t buflen, char *err,
                      size_t errlen)
{
    if (!tq_tenant_name_valid(spec->name)) {
        snprintf(err, errlen, "invalid tenant name \"%s\": use 1-48 of a-z, 0-9 and _, starting with a letter",
                 spec->name);
        return TQ_TENANT_INVALID;
    }
    if (spec->quota != NULL && tq_quota_check(spec->quota, err, errlen) != 0)
        return TQ_TENANT_INVALID;
    if (resolve_placement(spec, &p->schema_placed, &p->schema, schema_buf, buflen, err, errlen) != 0)
        return TQ_TENANT_INVALID;
    if (spec->db_role != NULL && !p->schema_placed) {
        snprintf(err, errlen, ROLE_FOR_SCHEMA_ONLY, spec->name);
        return TQ_TENANT_INVALID;
    }
    if (spec->db_role != NULL && !valid_role(spec->db_role, err, errlen))
        return TQ_TENANT_INVALID;
    return TQ_TENANT_OK;
}

/* tq_tenant_create, with spec->db_password the plain password to connect with and stored
 * the form its row keeps. */
static int create_tenant(PGconn *registry, const tq_tenant_spec *spec, bool if_missing, const char *stored,
                         char id_out[37], char *err, size_t errlen)
{
    new_place p = {.stored = stored};
    char schema_buf[80];
    int rc = check_spec(spec, &p, schema_buf, sizeof(schema_buf), err, errlen);
    if (rc != TQ_TENANT_OK)
        return rc;
    int found = find_tenant_id(registry, spec->name, id_out, err, errlen);
    if (found < 0)
        return TQ_TENANT_FAILED;
    if (found && !if_missing) {
        snprintf(err, errlen, "tenant \"%s\" already exists", spec->name);
        return TQ_TENANT_EXISTS;
    }
    if (found) {
        rc = migrate_existing(registry, spec->name, p.schema_placed, err, errlen);
        if (rc == TQ_TENANT_OK && registry_has_versions(registry))
            rc = record_version(registry, spec->name, err, errlen);
        return rc;
    }

    char db_name[80];
    snprintf(db_name, sizeof(db_name), "tenant_%s", spec->name);
    p.host = spec->db_host ? spec->db_host : PQhost(registry);
    p.port = spec->db_port ? spec->db_port : PQport(registry);
    p.db = spec->db_name ? spec->db_name : p.schema_placed ? TQ_SHARED_DATABASE_DEFAULT : db_name;
    p.user = spec->db_user ? spec->db_user : PQuser(registry);
    p.password = spec->db_password;
    if (p.schema_placed && (rc = check_schema_free(registry, p.host, p.port, p.db, p.schema, err, errlen)) != 0)
        return rc;
    if (spec->db_role != NULL && check_registry_has_roles(registry, err, errlen) != 0)
        return TQ_TENANT_FAILED;
    if (spec->db_role != NULL &&
        (rc = check_role_free(registry, p.host, p.port, spec->db_role, spec->name, err, errlen)) != 0)
        return rc;
    bool migrated;
    if (make_database(registry, &p, &migrated, err, errlen) != 0)
        return TQ_TENANT_FAILED;
    if (!migrated && migrate_new(registry, spec, &p, err, errlen) != 0)
        return TQ_TENANT_FAILED;
    return insert_row(registry, spec, &p, id_out, err, errlen);
}

int tq_tenant_create(PGconn *registry, const tq_tenant_spec *spec, bool if_missing, char id_out[37], char *err,
                     size_t errlen)
{
    const char *given = spec->db_password ? spec->db_password : PQpass(registry);
    if (given == NULL)
        given = "";
    char why[256];
    char *plain = tq_secret_reveal(given, why, sizeof(why));
    if (plain == NULL) {
        snprintf(err, errlen, "the tenant's database password cannot be used: %s", why);
        return TQ_TENANT_INVALID;
    }
    /* a reference or a sealed value is stored as given; a password is sealed when a ring is configured */
    bool sealed;
    char *stored = tq_secret_kind_of(given) == TQ_SECRET_PLAIN ? tq_secret_store(given, &sealed, err, errlen)
                                                               : strdup(given);
    int rc = TQ_TENANT_INVALID;
    if (stored != NULL) {
        tq_tenant_spec with = *spec;
        with.db_password = plain;
        rc = create_tenant(registry, &with, if_missing, stored, id_out, err, errlen);
    }
    tq_secret_free(plain);
    tq_secret_free(stored);
    return rc;
}

PGconn *tq_tenant_connect(PGconn *registry, const char *name, char *err, size_t errlen)
{
    PGresult *res = NULL;
    if (conn_row(registry, name, &res, err, errlen) != TQ_TENANT_OK)
        return NULL;
    const char *schema = PQgetvalue(res, 0, CONN_SCHEMA);
    char options[96] = "";
    if (strcmp(PQgetvalue(res, 0, CONN_PLACEMENT), "schema") == 0) {
        /* spliced into the options parameter: only a name that needs no quoting or escaping */
        if (!tq_schema_name_valid(schema)) {
            snprintf(err, errlen, "tenant \"%s\": its db_schema is not a valid schema name", name);
            PQclear(res);
            return NULL;
        }
        snprintf(options, sizeof(options), "-c search_path=%s", schema);
    }
    const char *k[] = {"host",
                       "port",
                       "dbname",
                       "user",
                       "password",
                       "application_name",
                       "connect_timeout",
                       options[0] ? "options" : NULL,
                       NULL};
    char *password = row_password(res, name, err, errlen);
    const char *v[] = {PQgetvalue(res, 0, CONN_HOST),
                       PQgetvalue(res, 0, CONN_PORT),
                       PQgetvalue(res, 0, CONN_DB),
                       PQgetvalue(res, 0, CONN_USER),
                       password,
                       "tenantql",
                       "10",
                       options,
                       NULL};
    PGconn *c = password != NULL ? tq_pg_connect_params(k, v, err, errlen) : NULL;
    tq_secret_free(password);
    PQclear(res);
    return c;
}

/* Runs an UPDATE of one tenant's row ($1 its name, $2 the new value): TQ_TENANT_NOT_FOUND
 * when no tenant has that name, -1 when it fails (err filled either way). */
int tq_tenant_update_row(PGconn *registry, const char *sql, const char *name, const char *value, char *err,
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
        return TQ_TENANT_NOT_FOUND;
    }
    return TQ_TENANT_OK;
}

int tq_tenant_set_quota(PGconn *registry, const char *name, const char *quota, char *err, size_t errlen)
{
    if (tq_quota_check(quota, err, errlen) != 0)
        return TQ_TENANT_INVALID;
    return tq_tenant_update_row(registry, "UPDATE tenants SET quota = $2::jsonb WHERE name = $1", name, quota, err, errlen);
}

int tq_tenant_set_active(PGconn *registry, const char *name, bool active, char *err, size_t errlen)
{
    return tq_tenant_update_row(registry, "UPDATE tenants SET active = $2::boolean WHERE name = $1", name,
                         active ? "true" : "false", err, errlen);
}

int tq_tenant_set_role(PGconn *registry, const char *name, const char *role, char *err, size_t errlen)
{
    if (role != NULL && !valid_role(role, err, errlen))
        return TQ_TENANT_INVALID;
    PGresult *row = NULL;
    int found = conn_row(registry, name, &row, err, errlen);
    if (found != TQ_TENANT_OK)
        return found;
    int rc = -1;
    if (strcmp(PQgetvalue(row, 0, CONN_PLACEMENT), "schema") != 0) {
        snprintf(err, errlen, ROLE_FOR_SCHEMA_ONLY, name);
        rc = TQ_TENANT_INVALID;
    } else if (check_registry_has_roles(registry, err, errlen) != 0) {
        rc = -1;
    } else if (role == NULL) {
        rc = 0;
    } else if ((rc = check_role_free(registry, PQgetvalue(row, 0, CONN_HOST), PQgetvalue(row, 0, CONN_PORT), role, name,
                                     err, errlen)) == 0) {
        rc = -1;
        char *password = row_password(row, name, err, errlen);
        PGconn *tenant = password == NULL ? NULL
                                          : tq_pg_connect_db(PQgetvalue(row, 0, CONN_HOST),
                                                             PQgetvalue(row, 0, CONN_PORT), PQgetvalue(row, 0, CONN_DB),
                                                             PQgetvalue(row, 0, CONN_USER), password, err, errlen);
        tq_secret_free(password);
        if (tenant != NULL) {
            rc = setup_role(registry, tenant, PQgetvalue(row, 0, CONN_SCHEMA), role, err, errlen);
            PQfinish(tenant);
        }
    }
    PQclear(row);
    /* stored last: servers switch to the role only once it may do the tenant's work */
    if (rc == 0)
        rc = tq_tenant_update_row(registry, "UPDATE tenants SET db_role = $2 WHERE name = $1", name, role, err, errlen);
    return rc;
}

static char *dup_value(PGresult *res, int col)
{
    return strdup(PQgetvalue(res, 0, col));
}

int tq_tenant_place_read(PGconn *registry, const char *name, tq_tenant_place *out, char *err, size_t errlen)
{
    PGresult *row = NULL;
    int found = conn_row(registry, name, &row, err, errlen);
    if (found != TQ_TENANT_OK)
        return found;
    *out = (tq_tenant_place){.schema_placed = strcmp(PQgetvalue(row, 0, CONN_PLACEMENT), "schema") == 0,
                             .host = dup_value(row, CONN_HOST),
                             .port = dup_value(row, CONN_PORT),
                             .db = dup_value(row, CONN_DB),
                             .user = dup_value(row, CONN_USER),
                             .password = row_password(row, name, err, errlen),
                             .schema = dup_value(row, CONN_SCHEMA)};
    /* the row's copy of the password goes too */
    char *pw = PQgetvalue(row, 0, CONN_PASSWORD);
    explicit_bzero(pw, strlen(pw));
    PQclear(row);
    if (out->password == NULL) { /* err says why */
        tq_tenant_place_free(out);
        return TQ_TENANT_FAILED;
    }
    if (!out->host || !out->port || !out->db || !out->user || !out->schema) {
        tq_tenant_place_free(out);
        snprintf(err, errlen, "out of memory");
        return TQ_TENANT_FAILED;
    }
    return TQ_TENANT_OK;
}

void tq_tenant_place_free(tq_tenant_place *p)
{
    tq_secret_free(p->password); /* zeroed first */
    free(p->host);
    free(p->port);
    free(p->db);
    free(p->user);
    free(p->schema);
    *p = (tq_tenant_place){0};
}
