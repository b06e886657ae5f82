/*
 * migrate.h - brings a database, or one schema of a shared database, to the newest schema
 * version. Migrations are the numbered SQL files under schema/ compiled into the binary;
 * each database (each schema of a shared one) records what it has applied in its
 * tenantql_migrations table, and an advisory lock keeps two migrators of the same
 * database (schema) from running at once. tq_migrate_all, every tenant of the registry
 * by a few threads, is in migrate_fleet.c.
 */
#ifndef TENANTQL_MIGRATE_H
#define TENANTQL_MIGRATE_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
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

/* The newest version applied to the database (schema NULL: where the session's
 * search_path puts tenantql_migrations) or to that schema: 0 when it has no bookkeeping
 * table yet, -1 with err on failure. Reads only. */
int tq_migrate_version(PGconn *conn, const char *schema, char *err, size_t errlen);

/* The file name of a set's migration of that version ("schema/tenant/003_revocation.sql"),
 * or NULL when this build has none; static storage. */
const char *tq_migrate_name(tq_migration_set set, int version);

/* The oldest tenant schema version this binary's statements still work against: a
 * tenant recorded at an older version (or newer than tq_migrate_latest_version) gets
 * 503 TENANT_MIGRATING instead of queries that would fail half-way. 3 because logout
 * and every authenticated request read users.sessions_revoked_at and revoked_tokens
 * (003_revocation). Raise it when a statement starts needing a newer migration; keep
 * it low when a migration only adds what older statements do not use, so that servers
 * of this build serve tenants a fleet migration has not reached yet. */
#define TQ_TENANT_SCHEMA_MIN 3

/* One tenant's outcome in tq_migrate_all. from, to: its version before and after (-1:
 * unknown, e.g. it could not be reached); applied: migrations applied (dry run: that
 * would be, to being the newest); ms: time spent on it; error: NULL on success, else a
 * one-line message without passwords or connection strings. Valid during the callback. */
typedef struct tq_migrate_result {
    const char *tenant;
    int from, to, applied;
    long ms;
    const char *error;
} tq_migrate_result;

/* What tq_migrate_all did; counts of tenants. */
typedef struct tq_migrate_summary {
    int registry_from, registry_to, registry_applied; /* the registry's own migrations */
    int total;          /* tenants in the registry */
    int skipped;        /* its row says current and not migrating: not connected to */
    int migrated;       /* connected, at least one migration applied (dry run: pending) */
    int current;        /* connected, nothing to apply */
    int failed;
    int untouched;      /* not started: a canary failed, or stop was set */
    bool canary_failed; /* a canary failed: the rest were not started */
    bool stopped;       /* stop was set before every tenant was visited */
    long ms;
} tq_migrate_summary;

typedef struct tq_migrate_fleet {
    const char *registry;   /* conninfo: each thread opens its own registry connection */
    int parallel;           /* threads, TQ_MIGRATE_PARALLEL_MIN..MAX */
    int canary;             /* > 0: migrate that many first, stop if any fails */
    bool dry_run;           /* read versions only: change nothing, the registry included */
    bool recheck;           /* connect to tenants whose row says current too */
    /* when set (a signal handler's flag; NULL: never), no further tenant is started:
     * those under way finish and are recorded, the rest count as untouched */
    const volatile sig_atomic_t *stop;
    /* called once the work is known (to_visit of total tenants will be connected to),
     * then once per tenant visited, from any thread but never two at once */
    void (*on_plan)(void *ctx, int total, int to_visit);
    void (*on_tenant)(void *ctx, const tq_migrate_result *res);
    void *ctx;
} tq_migrate_fleet;

#define TQ_MIGRATE_PARALLEL_MIN 1
#define TQ_MIGRATE_PARALLEL_MAX 64

/* Migrates the registry, then every tenant it lists with fleet->parallel threads, each
 * holding one registry connection and one tenant connection at a time (kept for the next
 * tenant of the same database: the listing puts the tenants of a shared database next to
 * each other). A tenant whose row says schema_version = newest and not migrating is
 * skipped unless recheck. For each tenant visited: its version is read; when migrations
 * are pending its row gets migrating = true, then they are applied (tq_migrate, or
 * tq_migrate_schema for placement 'schema'); last, one UPDATE records migrating = false,
 * schema_version, migrated_at and migrate_error. One tenant failing does not stop the
 * others (only a failed canary stops the rest). Returns 0, or -1 with err when the
 * registry itself failed. Blocking (command line). */
int tq_migrate_all(const tq_migrate_fleet *fleet, tq_migrate_summary *sum, char *err, size_t errlen);

#endif
