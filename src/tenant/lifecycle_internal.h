/*
 * lifecycle_internal.h - what tenant creation (tenant_admin.c), its template databases
 * (tenant_template.c) and offboarding (tenant_lifecycle.c) share inside the tenant module.
 */
#ifndef TENANTQL_LIFECYCLE_INTERNAL_H
#define TENANTQL_LIFECYCLE_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The database new tenant databases of a server are copied from (tenant_template.c). */
#define TQ_TEMPLATE_DATABASE "tenantql_template"

/* Creates database db (which must not exist) on the server that session server reaches,
 * owned by owner, as a copy of the server's template database: made on first use and
 * migrated to the newest tenant migration whenever it is behind (connecting as owner with
 * password), never left open to connections. Template use is serialised per server by an
 * advisory lock on the registry session (host:port names the server there). Returns 1
 * when db was made that way; 0 when the template cannot serve (db exists already, or the
 * template belongs to another role than owner, whose tables would then not be owner's):
 * nothing done, the caller creates and migrates db itself; -1 with err filled. */
int tq_template_create_database(PGconn *registry, PGconn *server, const char *host, const char *port, const char *db,
                                const char *owner, const char *password, char *err, size_t errlen);

/* Runs sql, an UPDATE of one tenant's row with $1 its name and $2 value: TQ_TENANT_OK,
 * TQ_TENANT_NOT_FOUND when no row has that name, TQ_TENANT_FAILED (err filled either way). */
int tq_tenant_update_row(PGconn *registry, const char *sql, const char *name, const char *value, char *err,
                         size_t errlen);

/* A tenant's place and credentials from its registry row (tenant_admin.c reads them, the
 * one place that does); strings malloc'ed, tq_tenant_place_free clears the password. */
typedef struct tq_tenant_place {
    bool schema_placed;
    char *host, *port, *db, *user, *password, *schema;
} tq_tenant_place;

/* TQ_TENANT_OK with *out filled, TQ_TENANT_NOT_FOUND, or TQ_TENANT_FAILED (err filled). */
int tq_tenant_place_read(PGconn *registry, const char *name, tq_tenant_place *out, char *err, size_t errlen);
void tq_tenant_place_free(tq_tenant_place *p);

/* Writes a pg_dump archive (custom format) of p's database, or of its schema when it is
 * schema-placed, to dir/NAME-YYYYMMDDTHHMMSSZ.dump (0600; dir made 0700 when missing),
 * by way of a temporary name, synced and renamed once complete. Its absolute path goes
 * to path_out. 0, or -1 with err filled (pg_dump's own message). tenant_export.c. */
int tq_tenant_export(const tq_tenant_place *p, const char *name, const char *dir, char *path_out, size_t path_len,
                     char *err, size_t errlen);

#endif
