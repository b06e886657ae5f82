/*
 * migrate.h - brings a database, or one schema of a shared database, to the newest schema
 * version. Migrations are the numbered SQL files under schema/ compiled into the binary;
 * each database (each schema of a shared one) records what it has applied in its
 * tenantql_migrations table, and an advisory lock keeps two migrators of the same
 * database (schema) from running at once.
 */
#ifndef TENANTQL_MIGRATE_H
#define TENANTQL_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

typedef enum tq_migration_set {
    TQ_MIGRATIONS_REGISTRY,
    TQ_MIGRATIONS_TENANT,
} tq_migration_set;

/* Applies every missing migration of the set, each in its own transaction, where the
 * session's search_path puts them (public, for tenantql's databases), bookkeeping
 * included. Returns the number applied (0 when already current), or -1 with err filled. */
int tq_migrate(PGconn *conn, tq_migration_set set, char *err, size_t errlen);

/* The same inside one schema (a tenant placed in a schema of a shared database): creates
 * the schema when it is missing (which takes the right to create schemas in the
 * database), and runs each migration with search_path set to the schema alone, for that
 * transaction only, so that the files' unqualified names land there; the schema's own
 * tenantql_migrations table records them. Migrators of different schemas of a database
 * run side by side; two of the same schema, one after the other. schema "public" takes
 * the same lock as tq_migrate. The session's search_path is left as it was. */
int tq_migrate_schema(PGconn *conn, tq_migration_set set, const char *schema, char *err, size_t errlen);

/* The same for a schema that does not exist yet, in one round trip and one transaction:
 * creates it and applies the whole set (creating a tenant in a shared database). Returns
 * the number applied; -2 when the schema exists already (nothing done: tq_migrate_schema
 * brings it up to date); -1 with err filled. */
int tq_migrate_schema_new(PGconn *conn, tq_migration_set set, const char *schema, char *err, size_t errlen);

/* The newest version of a set. */
int tq_migrate_latest_version(tq_migration_set set);

/* Migrates the registry (conn), then every tenant it lists, connecting with each
 * tenant's registry row: a database-placed tenant's database as tq_migrate does, a
 * schema-placed tenant's schema as tq_migrate_schema does, the tenants of one database
 * through one connection. One tenant failing does not stop the others. Prints one line
 * per tenant to out. Returns the number of tenants that failed, or -1 if the registry
 * failed. Blocking (command line). */
int tq_migrate_all(PGconn *registry, FILE *out);

#endif
