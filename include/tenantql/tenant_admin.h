/*
 * tenant_admin.h - registry changes made from the command line: create a tenant (its
 * database, its schema, its registry row), list and deactivate tenants.
 * Blocking libpq; never used on a worker loop.
 */
#ifndef TENANTQL_TENANT_ADMIN_H
#define TENANTQL_TENANT_ADMIN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct tq_tenant_spec {
    const char *name;        /* slug: [a-z][a-z0-9_]{0,47} */
    const char *db_host;     /* NULL: the registry's host */
    const char *db_port;     /* NULL: the registry's port */
    const char *db_name;     /* NULL: "tenant_<name>" */
    const char *db_user;     /* NULL: the registry's user */
    const char *db_password; /* NULL: the registry's password */
    const char *pool_options;/* JSON object text, NULL: {} */
    const char *quota;       /* JSON object text, NULL: {} (the server's default quota) */
} tq_tenant_spec;

bool tq_tenant_name_valid(const char *name);

/* Creates the database if it does not exist, migrates it and inserts the registry row.
 * With if_missing, an existing tenant of that name is left as it is (still migrated) and
 * 0 is returned. On success the tenant's id is written to id_out (37 bytes). */
int tq_tenant_create(PGconn *registry, const tq_tenant_spec *spec, bool if_missing, char id_out[37], char *err,
                     size_t errlen);

/* CREATE DATABASE db OWNER owner on server, unless it exists. */
int tq_tenant_create_database(PGconn *server, const char *db, const char *owner, char *err, size_t errlen);

/* Connects to a registered tenant's database with its registry row's credentials; the
 * caller PQfinishes it. NULL with err filled. */
PGconn *tq_tenant_connect(PGconn *registry, const char *name, char *err, size_t errlen);

int tq_tenant_set_active(PGconn *registry, const char *name, bool active, char *err, size_t errlen);

/* Replaces the tenant's quota (a JSON object text, see README); running servers apply it
 * within a second. */
int tq_tenant_set_quota(PGconn *registry, const char *name, const char *quota, char *err, size_t errlen);

#endif
