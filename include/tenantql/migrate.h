/*
 * migrate.h - brings a database to the newest schema version. Migrations are the
 * numbered SQL files under schema/ compiled into the binary; each database records what
 * it has applied in its tenantql_migrations table, and an advisory lock keeps two
 * migrators from running at once.
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

/* Applies every missing migration of the set, each in its own transaction. Returns the
 * number applied (0 when already current), or -1 with err filled. */
int tq_migrate(PGconn *conn, tq_migration_set set, char *err, size_t errlen);

/* The newest version of a set. */
int tq_migrate_latest_version(tq_migration_set set);

/* Migrates the registry (conn), then every tenant database it lists, connecting with each
 * tenant's registry row; prints one line per database to out. Returns the number of
 * tenant databases that failed, or -1 if the registry failed. Blocking (command line). */
int tq_migrate_all(PGconn *registry, FILE *out);

#endif
