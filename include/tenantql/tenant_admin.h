/*
 * tenant_admin.h - registry changes made from the command line: create a tenant (its
 * database, or its schema of a shared database; its tables; its registry row), list and
 * deactivate tenants. Blocking libpq; never used on a worker loop.
 */
#ifndef TENANTQL_TENANT_ADMIN_H
#define TENANTQL_TENANT_ADMIN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "tenantql/tenant_result.h"

/* The shared database of placement 'schema' when the spec names none. */
#define TQ_SHARED_DATABASE_DEFAULT "tenantql_shared"
/* A tenant's role (db_role) when none is named: this prefix and the tenant's name. */
#define TQ_TENANT_ROLE_PREFIX "tq_t_"

typedef struct tq_tenant_spec {
    const char *name;        /* slug: [a-z][a-z0-9_]{0,47} */
    const char *db_host;     /* NULL: the registry's host */
    const char *db_port;     /* NULL: the registry's port */
    const char *db_name;     /* NULL: "tenant_<name>"; placement schema: TQ_SHARED_DATABASE_DEFAULT */
    const char *db_user;     /* NULL: the registry's user */
    const char *db_password; /* NULL: the registry's password; a password (its row keeps it sealed with
                                the process's key ring, secret.h, when there is one) or a reference
                                env:NAME / file:/PATH, kept as it is */
    const char *pool_options;/* JSON object text, NULL: {} */
    const char *quota;       /* JSON object text, NULL: {} (the server's default quota) */
    const char *placement;   /* "database" (NULL too): a database of its own; "schema": a schema of
                                the shared database db_name, reached with db_user like its other tenants */
    const char *db_schema;   /* placement schema: its schema, NULL: "tenant_<name>"; else NULL or "public" */
    const char *db_role;     /* placement schema: a role of its own (tq_tenant_set_role), NULL: none */
} tq_tenant_spec;

bool tq_tenant_name_valid(const char *name);

/* Creates the database if it does not exist (for placement schema: the shared one, and
 * the tenant's schema in it), migrates the tenant's tables and inserts the registry row.
 * Placement schema refuses a schema another tenant of that database has; with db_role,
 * the role is set up as tq_tenant_set_role does before the row is inserted. With
 * if_missing, an existing tenant of that name is left as it is (still migrated, where
 * its row says; its role untouched) and 0 is returned, unless its placement is not the
 * spec's. On success the tenant's id is written to id_out (37 bytes).
 *
 * A new tenant database is a copy of its server's template database (tenantql_template,
 * made and migrated on first use, migrated again when behind this build), one CREATE
 * DATABASE; a new schema is made and migrated in one round trip. Where the template
 * cannot serve (the tenant's db_user is not the template's owner, or the database exists
 * already), the database is made empty and migrated. The row records schema_version and
 * migrated_at. Returns a tq_tenant_result: TQ_TENANT_INVALID (name, placement, quota,
 * role), TQ_TENANT_EXISTS (the name, or the schema or role is another tenant's), or
 * TQ_TENANT_FAILED; err filled. */
int tq_tenant_create(PGconn *registry, const tq_tenant_spec *spec, bool if_missing, char id_out[37], char *err,
                     size_t errlen);

/* Turns a schema-placed tenant's role on (role, see tq_role_name_valid) or off (NULL).
 * On: makes the role NOLOGIN unless it exists (refusing a superuser, or a role that has
 * the shared login role's privileges: either would reach every schema), grants it to the
 * login role (db_user) so that it may SET ROLE to it, and lets it use the tenant's schema
 * and nothing more: USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on its tables,
 * USAGE/SELECT on its sequences, the same by default on those db_user creates there later
 * (the tenant's migrations), and no right of PUBLIC on the schema; then stores db_role,
 * and running servers switch to it within a second. Roles are made and granted through
 * the registry's session when the tenant's database is on the registry's cluster (its
 * administrator's), else through db_user's (which then needs CREATEROLE, unless the role
 * exists and is granted to it already). Off: clears db_role; the role and its grants stay
 * (DROP ROLE is the administrator's). A tenant with a database of its own is refused.
 * Blocking; a tq_tenant_result (INVALID, NOT_FOUND, EXISTS: the role is another tenant's), err filled. */
int tq_tenant_set_role(PGconn *registry, const char *name, const char *role, char *err, size_t errlen);

/* CREATE DATABASE db OWNER owner on server, unless it exists. */
int tq_tenant_create_database(PGconn *server, const char *db, const char *owner, char *err, size_t errlen);

/* Connects to a registered tenant's database with its registry row's credentials; the
 * caller PQfinishes it. For a tenant placed in a schema, the session's search_path is
 * that schema alone (the options connection parameter), so unqualified names are the
 * tenant's tables. NULL with err filled. */
PGconn *tq_tenant_connect(PGconn *registry, const char *name, char *err, size_t errlen);

/* TQ_TENANT_OK, TQ_TENANT_NOT_FOUND or TQ_TENANT_FAILED (err filled). */
int tq_tenant_set_active(PGconn *registry, const char *name, bool active, char *err, size_t errlen);

/* Replaces the tenant's quota (a JSON object text, see README); running servers apply it
 * within a second. TQ_TENANT_INVALID (a bad quota), TQ_TENANT_NOT_FOUND, TQ_TENANT_FAILED. */
int tq_tenant_set_quota(PGconn *registry, const char *name, const char *quota, char *err, size_t errlen);

#endif
